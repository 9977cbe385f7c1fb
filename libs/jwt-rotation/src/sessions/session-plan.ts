import type { SessionContext } from './session.types';

/** The access token handed out with a refresh token: enough to sign it again with the same claims. */
export interface IssuedAccessToken {
  readonly jti: string;
  /** Seconds since the epoch. */
  readonly iat: number;
  readonly exp: number;
}

/**
 * A session as stored. No token and no hash of one: the refresh token of a generation is derived
 * from the sid and the generation (see `refresh-token.ts`), so the record holds only what it takes
 * to hand the current pair out again.
 */
export interface SessionRecord {
  readonly sid: string;
  readonly sub: string;
  readonly audience: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
  readonly lastUsedAt: number;
  /** Generation of the current refresh token: the only one a refresh rotates. */
  readonly generation: number;
  /** The access token handed out with the current refresh token. */
  readonly access: IssuedAccessToken;
  /** When the previous generation was consumed (the last rotation); undefined before the first refresh. */
  readonly rotatedAt: number | undefined;
  readonly userAgent: string | undefined;
  readonly ip: string | undefined;
}

/** The options a session's transitions depend on, in milliseconds. */
export interface SessionLimits {
  readonly accessTokenTtlMs: number;
  readonly refreshTokenTtlMs: number;
  readonly sessionIdleTimeoutMs: number | undefined;
  readonly sessionMaxLifetimeMs: number | undefined;
  readonly refreshReuseIntervalMs: number;
}

/** What a refresh does, decided from the stored record alone. */
export type RefreshPlan =
  /** The presented token is current: commit `next` (if the record is still what was read) and hand out its pair. */
  | { readonly action: 'rotate'; readonly next: SessionRecord }
  /** The presented token was consumed by the last rotation, whose answer this client may not have seen: the current pair again. */
  | { readonly action: 'reissue'; readonly record: SessionRecord }
  /** A consumed token presented after its successor was refreshed, or after the grace: theft, end the session. */
  | { readonly action: 'revoke'; readonly record: SessionRecord }
  /** No session to refresh: ended, expired, out of lifetime, or a generation the store never reached. */
  | { readonly action: 'refuse'; readonly reason: 'ended' | 'max-lifetime' | 'unknown-generation' };

export interface RefreshRequest {
  /** The stored record, or undefined when there is none. */
  readonly record: SessionRecord | undefined;
  /** Generation of the presented refresh token. */
  readonly presented: number;
  readonly now: number;
  /**
   * This request read the presented generation as current and then lost the commit to another
   * request: a duplicate in flight (two tabs, a retry), not a replay, whatever the grace.
   */
  readonly lostRace: boolean;
  /** `jti` of the access token a rotation hands out. */
  readonly jti: string;
  readonly context: SessionContext;
}

/** When the session ends if it is never refreshed again: the refresh TTL, idle timeout and max lifetime, whichever comes first. */
export function sessionEnd(record: Pick<SessionRecord, 'createdAt' | 'lastUsedAt'>, limits: SessionLimits): number {
  const { refreshTokenTtlMs, sessionIdleTimeoutMs, sessionMaxLifetimeMs } = limits;
  return Math.min(
    record.lastUsedAt + refreshTokenTtlMs,
    sessionIdleTimeoutMs === undefined ? Infinity : record.lastUsedAt + sessionIdleTimeoutMs,
    sessionMaxLifetimeMs === undefined ? Infinity : record.createdAt + sessionMaxLifetimeMs,
  );
}

/** The access token of a pair made at `now`; undefined when the session has less than a second left. No token outlives its session. */
export function accessTokenAt(
  record: Pick<SessionRecord, 'createdAt' | 'lastUsedAt'>,
  now: number,
  limits: SessionLimits,
  jti: string,
): IssuedAccessToken | undefined {
  const remaining = Math.floor((sessionEnd(record, limits) - now) / 1000);
  if (remaining < 1) return undefined;
  const iat = Math.floor(now / 1000);
  return { jti, iat, exp: iat + Math.min(Math.ceil(limits.accessTokenTtlMs / 1000), remaining) };
}

/** The record of a new session (generation 0); undefined when `sessionMaxLifetime` leaves it no second. */
export function openSession(
  fields: Pick<SessionRecord, 'sid' | 'sub' | 'audience' | 'claims'>,
  now: number,
  limits: SessionLimits,
  jti: string,
  context: SessionContext = {},
): SessionRecord | undefined {
  const times = { createdAt: now, lastUsedAt: now };
  const access = accessTokenAt(times, now, limits, jti);
  if (!access) return undefined;
  return {
    ...fields,
    claims: { ...fields.claims },
    ...times,
    generation: 0,
    access,
    rotatedAt: undefined,
    userAgent: truncate(context.userAgent, 256),
    ip: truncate(context.ip, 64),
  };
}

/**
 * The state machine of a refresh: which of rotate, hand out the current pair again, revoke or
 * refuse, from the stored record, the presented generation and the clock. Pure: the caller does
 * the I/O, and commits a rotation with compare-and-set so that of racing requests one wins and the
 * others, reading again, are told to `reissue` the winner's pair.
 */
export function planRefresh(request: RefreshRequest, limits: SessionLimits): RefreshPlan {
  const { record, presented, now } = request;
  if (!record || sessionEnd(record, limits) <= now) return { action: 'refuse', reason: 'ended' };
  if (presented === record.generation) {
    const used = { createdAt: record.createdAt, lastUsedAt: now };
    const access = accessTokenAt(used, now, limits, request.jti);
    if (!access) return { action: 'refuse', reason: 'max-lifetime' };
    const next: SessionRecord = {
      ...record,
      lastUsedAt: now,
      generation: record.generation + 1,
      access,
      rotatedAt: now,
      userAgent: truncate(request.context.userAgent, 256) ?? record.userAgent,
      ip: truncate(request.context.ip, 64) ?? record.ip,
    };
    return { action: 'rotate', next };
  }
  if (presented === record.generation - 1) {
    // The successor is still unused (it is the current generation). Within the grace, or when
    // this very request just lost the commit, the client gets that successor: the same pair.
    const withinGrace = record.rotatedAt !== undefined && now - record.rotatedAt <= limits.refreshReuseIntervalMs;
    return request.lostRace || withinGrace ? { action: 'reissue', record } : { action: 'revoke', record };
  }
  if (presented < record.generation) return { action: 'revoke', record };
  // A generation the store never reached: only a store that lost writes (a restored backup, a
  // failover) shows this. Not the client's fault, and not theft.
  return { action: 'refuse', reason: 'unknown-generation' };
}

function truncate(value: string | undefined, length: number): string | undefined {
  return typeof value === 'string' ? value.slice(0, length) : undefined;
}
