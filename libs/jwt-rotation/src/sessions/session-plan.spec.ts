import { describe, expect, it } from 'vitest';
import {
  accessTokenAt,
  openSession,
  planRefresh,
  type RefreshRequest,
  type SessionLimits,
  type SessionRecord,
  sessionEnd,
} from './session-plan';

const limits: SessionLimits = {
  accessTokenTtlMs: 900_000,
  refreshTokenTtlMs: 30 * 86_400_000,
  sessionIdleTimeoutMs: undefined,
  sessionMaxLifetimeMs: undefined,
  refreshReuseIntervalMs: 30_000,
};
const T0 = 1_800_000_000_000;

function session(overrides: Partial<SessionLimits> = {}): SessionRecord {
  return openSession(
    { sid: 'sid-1', sub: 'alice', audience: 'default', claims: { roles: ['user'] } },
    T0,
    { ...limits, ...overrides },
    'jti-0',
  )!;
}

const request = (
  record: SessionRecord | undefined,
  presented: number,
  now: number,
  more: Partial<RefreshRequest> = {},
): RefreshRequest => ({
  record,
  presented,
  now,
  lostRace: false,
  jti: `jti-at-${now}`,
  context: {},
  ...more,
});

/** The record after refreshing generation `record.generation` at `now`. */
function rotated(record: SessionRecord, now: number, l = limits): SessionRecord {
  const plan = planRefresh(request(record, record.generation, now), l);
  if (plan.action !== 'rotate') throw new Error(`expected a rotation, got ${plan.action}`);
  return plan.next;
}

describe('openSession', () => {
  it('starts at generation 0 with an access token bounded by its TTL', () => {
    const record = session();
    expect(record).toMatchObject({ generation: 0, createdAt: T0, lastUsedAt: T0, rotatedAt: undefined });
    expect(record.access).toEqual({ jti: 'jti-0', iat: T0 / 1000, exp: T0 / 1000 + 900 });
  });

  it('never lets the access token outlive sessionMaxLifetime', () => {
    const record = session({ sessionMaxLifetimeMs: 60_000 });
    expect(record.access.exp - record.access.iat).toBe(60);
    expect(accessTokenAt(record, T0 + 59_500, { ...limits, sessionMaxLifetimeMs: 60_000 }, 'j')).toBeUndefined();
  });
});

describe('planRefresh', () => {
  it('rotates the current generation: next generation, a new access token, rotatedAt and lastUsedAt now', () => {
    const record = session();
    const plan = planRefresh(request(record, 0, T0 + 5_000, { context: { userAgent: 'x'.repeat(300), ip: '10.0.0.1' } }), limits);
    expect(plan.action).toBe('rotate');
    const next = (plan as { next: SessionRecord }).next;
    expect(next).toMatchObject({ generation: 1, rotatedAt: T0 + 5_000, lastUsedAt: T0 + 5_000, createdAt: T0, ip: '10.0.0.1' });
    expect(next.userAgent).toHaveLength(256);
    expect(next.access).toEqual({ jti: `jti-at-${T0 + 5_000}`, iat: (T0 + 5_000) / 1000, exp: (T0 + 5_000) / 1000 + 900 });
    expect(next.claims).toEqual(record.claims);
  });

  it('hands out the current pair again for the consumed token within the grace, as long as its successor is unused', () => {
    const next = rotated(session(), T0 + 1_000);
    for (const at of [T0 + 1_000, T0 + 20_000, T0 + 31_000]) {
      expect(planRefresh(request(next, 0, at), limits)).toEqual({ action: 'reissue', record: next });
    }
  });

  it('revokes for the consumed token after the grace', () => {
    const next = rotated(session(), T0 + 1_000);
    expect(planRefresh(request(next, 0, T0 + 31_001), limits)).toEqual({ action: 'revoke', record: next });
  });

  it('revokes for the consumed token once its successor was refreshed, even within the grace', () => {
    const second = rotated(rotated(session(), T0 + 1_000), T0 + 2_000);
    expect(planRefresh(request(second, 0, T0 + 2_001), limits)).toEqual({ action: 'revoke', record: second });
    // The successor itself is now the consumed one, with a grace of its own.
    expect(planRefresh(request(second, 1, T0 + 2_001), limits).action).toBe('reissue');
  });

  it('with no grace (0), revokes a replay but still gives a duplicate that lost the commit the winner’s pair', () => {
    const strict = { ...limits, refreshReuseIntervalMs: 0 };
    const next = rotated(session(), T0 + 1_000, strict);
    expect(planRefresh(request(next, 0, T0 + 1_001), strict).action).toBe('revoke');
    expect(planRefresh(request(next, 0, T0 + 1_001, { lostRace: true }), strict)).toEqual({ action: 'reissue', record: next });
  });

  it('a lost race never covers a token older than the last one consumed', () => {
    const second = rotated(rotated(session(), T0 + 1_000), T0 + 2_000);
    expect(planRefresh(request(second, 0, T0 + 2_001, { lostRace: true }), limits).action).toBe('revoke');
  });

  it('refuses without revoking: no record, an expired session, a generation the store never reached', () => {
    const record = session();
    expect(planRefresh(request(undefined, 0, T0), limits)).toEqual({ action: 'refuse', reason: 'ended' });
    expect(planRefresh(request(record, 0, sessionEnd(record, limits)), limits)).toEqual({ action: 'refuse', reason: 'ended' });
    expect(planRefresh(request(record, 1, T0 + 1), limits)).toEqual({ action: 'refuse', reason: 'unknown-generation' });
  });

  it('ends an idle session, and refuses a rotation past sessionMaxLifetime', () => {
    const idle = { ...limits, sessionIdleTimeoutMs: 10_000 };
    const record = session({ sessionIdleTimeoutMs: 10_000 });
    expect(planRefresh(request(record, 0, T0 + 9_999), idle).action).toBe('rotate');
    expect(planRefresh(request(record, 0, T0 + 10_000), idle)).toEqual({ action: 'refuse', reason: 'ended' });

    const capped = { ...limits, sessionMaxLifetimeMs: 60_000 };
    const short = session({ sessionMaxLifetimeMs: 60_000 });
    expect(planRefresh(request(short, 0, T0 + 59_500), capped)).toEqual({ action: 'refuse', reason: 'max-lifetime' });
    const late = rotated(short, T0 + 50_000, capped);
    expect(late.access.exp).toBe((T0 + 60_000) / 1000);
  });

  it('a reissued pair is the same whichever of many retries asks: the plan carries the stored access claims', () => {
    const next = rotated(session(), T0 + 1_000);
    const plans = [T0 + 1_500, T0 + 3_000, T0 + 9_000].map((at) => planRefresh(request(next, 0, at, { jti: `other-${at}` }), limits));
    expect(new Set(plans.map((p) => (p as { record: SessionRecord }).record.access.jti))).toEqual(new Set([next.access.jti]));
  });
});
