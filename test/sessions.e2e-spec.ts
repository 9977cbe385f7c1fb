import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROTATION_STORE, type RotationStore } from '@app/jwt-rotation';
import { type ExampleApp, startExampleApp, STORES } from './support/example-app';
import { openField } from './support/sealed';

type Pair = { access_token: string; refresh_token: string; token_type: string; expires_in: number };

const bearer = (token: string) => `Bearer ${token}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(STORES)('sessions on the %s store', (store) => {
  let example: ExampleApp;
  beforeAll(async () => {
    example = await startExampleApp(store);
  });
  afterAll(() => example?.close());

  const me = (token: string) => example.http().get('/me').set('Authorization', bearer(token));
  const refresh = (refreshToken: string) => example.http().post('/auth/refresh').send({ refresh_token: refreshToken });
  const sessions = async (token: string) =>
    (await example.http().get('/auth/sessions').set('Authorization', bearer(token)).expect(200)).body as Array<Record<string, unknown>>;

  it('login puts the session id in the access token, and refresh returns a new pair of the same shape', async () => {
    const pair = (await example.login('alice')) as Pair;
    const claims = (await me(pair.access_token).expect(200)).body;
    expect(claims.sid).toEqual(expect.any(String));
    const next = (await refresh(pair.refresh_token).expect(200)).body as Pair;
    expect(Object.keys(next).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
    expect(next.token_type).toBe('Bearer');
    expect(next.refresh_token).not.toBe(pair.refresh_token);
    expect((await me(next.access_token).expect(200)).body.sid).toBe(claims.sid);
  });

  it('refuses an invalid refresh token, and an access token presented as one', async () => {
    const pair = await example.login('bob');
    await refresh('not-a-token').expect(401);
    await refresh(pair.access_token).expect(401);
    await example.http().post('/auth/refresh').send({}).expect(400);
    await me(pair.refresh_token).expect(401);
  });

  it('reuse of a retired refresh token revokes the session: the thief and the owner are both out', async () => {
    const stolen = await example.login('alice');
    const owner = (await refresh(stolen.refresh_token).expect(200)).body as Pair;
    await me(owner.access_token).expect(200);
    // The owner refreshes again: the stolen token's successor has been used, so no grace applies.
    const later = (await refresh(owner.refresh_token).expect(200)).body as Pair;

    const replay = await refresh(stolen.refresh_token);
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe('invalid_grant');
    await me(later.access_token).expect(401);
    await refresh(later.refresh_token).expect(401);
    await me(stolen.access_token).expect(401);
  });

  it('with refreshReuseInterval 0 (strict), a retired refresh token presented again at once revokes the session', async () => {
    const app = await startExampleApp(store, { refreshReuseInterval: '0s' });
    try {
      const stolen = await app.login('alice');
      const owner = (await app.http().post('/auth/refresh').send({ refresh_token: stolen.refresh_token }).expect(200)).body as Pair;
      await app.http().get('/me').set('Authorization', bearer(owner.access_token)).expect(200);
      const replay = await app.http().post('/auth/refresh').send({ refresh_token: stolen.refresh_token });
      expect(replay.status).toBe(401);
      expect(replay.body.error).toBe('invalid_grant');
      await app.http().get('/me').set('Authorization', bearer(owner.access_token)).expect(401);
      await app.http().post('/auth/refresh').send({ refresh_token: owner.refresh_token }).expect(401);
    } finally {
      await app.close();
    }
  });

  it('of 20 concurrent refreshes with one refresh token, one rotation: every answer is that pair (or retryable)', async () => {
    const pair = await example.login('bob');
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(pair.refresh_token)));
    const winners = results.filter((r) => r.status === 200);
    expect(winners.length).toBeGreaterThanOrEqual(1);
    expect(results.filter((r) => r.status !== 200).every((r) => r.status === 503)).toBe(true);
    expect(new Set(winners.map((r) => r.body.refresh_token)).size).toBe(1);
    expect(new Set(winners.map((r) => r.body.access_token)).size).toBe(1);
    // Once that pair is refreshed, the consumed token presented again is a replay: the session ends.
    const next = (await refresh(winners[0].body.refresh_token).expect(200)).body as Pair;
    await refresh(pair.refresh_token).expect(401);
    await me(next.access_token).expect(401);
  });

  it('with refreshReuseInterval, concurrent duplicates leave the winning pair working', async () => {
    const app = await startExampleApp(store, { refreshReuseInterval: '10s' });
    try {
      const pair = await app.login('bob');
      const results = await Promise.all(
        Array.from({ length: 20 }, () => app.http().post('/auth/refresh').send({ refresh_token: pair.refresh_token })),
      );
      expect(results.filter((r) => r.status >= 500)).toHaveLength(0);
      const ok = results.filter((r) => r.status === 200);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      const working = await Promise.all(ok.map((r) => app.http().get('/me').set('Authorization', bearer(r.body.access_token))));
      expect(working.every((r) => r.status === 200)).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('50 concurrent logins of one user give 50 listed sessions, one of them current', async () => {
    const user = await startExampleApp(store);
    try {
      const pairs = await Promise.all(Array.from({ length: 50 }, () => user.login('alice')));
      const listed = (await user.http().get('/auth/sessions').set('Authorization', bearer(pairs[7].access_token)).expect(200))
        .body as Array<Record<string, unknown>>;
      expect(listed).toHaveLength(50);
      expect(listed.filter((s) => s.current)).toHaveLength(1);
      expect(Object.keys(listed[0]).sort()).toEqual(['createdAt', 'current', 'ip', 'lastUsedAt', 'sid', 'userAgent']);
      expect(JSON.stringify(listed)).not.toContain(pairs[0].refresh_token.split('.')[3]);
    } finally {
      await user.close();
    }
  });

  it('logout ends that session at once and leaves the other one working', async () => {
    const first = await example.login('alice');
    const second = await example.login('alice');
    await example.http().post('/auth/logout').set('Authorization', bearer(first.access_token)).expect(204);
    await me(first.access_token).expect(401);
    await refresh(first.refresh_token).expect(401);
    await me(second.access_token).expect(200);
    const firstSid = JSON.parse(Buffer.from(first.access_token.split('.')[1], 'base64url').toString()).sid;
    const listed = await sessions(second.access_token);
    expect(listed.map((s) => s.sid)).not.toContain(firstSid);
  });

  it('logout-all kills every token issued before it but not a login made after it', async () => {
    const app = await startExampleApp(store);
    try {
      const a = await app.login('bob');
      const b = await app.login('bob', 'api');
      await app.http().post('/auth/logout-all').set('Authorization', bearer(a.access_token)).expect(204);
      await app.http().get('/me').set('Authorization', bearer(a.access_token)).expect(401);
      await app.http().get('/api/ping').set('Authorization', bearer(b.access_token)).expect(401);
      await app.http().post('/auth/refresh').send({ refresh_token: b.refresh_token }).expect(401);
      const after = await app.login('bob');
      await app.http().get('/me').set('Authorization', bearer(after.access_token)).expect(200);
      const listed = (await app.http().get('/auth/sessions').set('Authorization', bearer(after.access_token)).expect(200)).body;
      expect(listed).toHaveLength(1);
    } finally {
      await app.close();
    }
  });

  it('DELETE /auth/sessions/:sid ends your own session, and is a 404 for anyone else’s or none', async () => {
    const alice = await example.login('alice');
    const other = await example.login('alice');
    const bob = await example.login('bob');
    const otherSid = (await me(other.access_token).expect(200)).body.sid as string;
    const bobSid = (await me(bob.access_token).expect(200)).body.sid as string;

    await example.http().delete(`/auth/sessions/${bobSid}`).set('Authorization', bearer(alice.access_token)).expect(404);
    await example.http().delete('/auth/sessions/does-not-exist').set('Authorization', bearer(alice.access_token)).expect(404);
    await me(bob.access_token).expect(200);

    await example.http().delete(`/auth/sessions/${otherSid}`).set('Authorization', bearer(alice.access_token)).expect(204);
    await me(other.access_token).expect(401);
    await me(alice.access_token).expect(200);
  });

  it("logout stops the session's tokens even when the store has lost the session record", async () => {
    const pair = await example.login('alice');
    const sid = JSON.parse(Buffer.from(pair.access_token.split('.')[1], 'base64url').toString()).sid as string;
    await example.app.get<RotationStore>(ROTATION_STORE).delete(`${example.config.keyPrefix}:session:${sid}`);
    await example.http().post('/auth/logout').set('Authorization', bearer(pair.access_token)).expect(204);
    await me(pair.access_token).expect(401);
  });

  it('session routes need a token', async () => {
    await example.http().post('/auth/logout').expect(401);
    await example.http().post('/auth/logout-all').expect(401);
    await example.http().get('/auth/sessions').expect(401);
  });
});

describe.each(STORES)('session lifetime on the %s store', (store) => {
  it('a session not refreshed within sessionIdleTimeout ends', async () => {
    const app = await startExampleApp(store, { sessionIdleTimeout: '2s' });
    try {
      const pair = await app.login('alice');
      const next = (await app.http().post('/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(200)).body as Pair;
      await sleep(2200);
      await app.http().post('/auth/refresh').send({ refresh_token: next.refresh_token }).expect(401);
    } finally {
      await app.close();
    }
  });

  it('no refresh extends a session past sessionMaxLifetime', async () => {
    const app = await startExampleApp(store, { sessionMaxLifetime: '4s' });
    try {
      let pair = (await app.login('alice')) as Pair;
      for (let i = 0; i < 2; i++) {
        await sleep(1000);
        pair = (await app.http().post('/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(200)).body as Pair;
        expect(pair.expires_in).toBeLessThanOrEqual(3);
      }
      await sleep(2100);
      await app.http().post('/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(401);
    } finally {
      await app.close();
    }
  });

  it('refreshReuseInterval lets a client retry a refresh whose answer it lost, without revoking the session', async () => {
    const app = await startExampleApp(store, { refreshReuseInterval: '5s' });
    try {
      const pair = await app.login('bob');
      const lost = await app.http().post('/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(200);
      const retried = (await app.http().post('/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(200)).body as Pair;
      await app.http().get('/me').set('Authorization', bearer(retried.access_token)).expect(200);
      await app.http().get('/me').set('Authorization', bearer(lost.body.access_token)).expect(200);
    } finally {
      await app.close();
    }
  });
});

describe.each(STORES)('sessions per subject on the %s store', (store) => {
  it('beyond maxSessionsPerSubject a login ends the oldest session: its tokens stop, the others stay', async () => {
    const app = await startExampleApp(store, { maxSessionsPerSubject: 3 });
    try {
      const pairs = [];
      for (let i = 0; i < 5; i++) {
        pairs.push(await app.login('alice'));
        await sleep(5);
      }
      const bob = await app.login('bob');
      const listed = (await app.http().get('/auth/sessions').set('Authorization', bearer(pairs[4].access_token)).expect(200))
        .body as Array<{ sid: string }>;
      const sidOf = (pair: { access_token: string }) =>
        JSON.parse(Buffer.from(pair.access_token.split('.')[1], 'base64url').toString()).sid;
      expect(listed.map((s) => s.sid)).toEqual(pairs.slice(2).map(sidOf));
      for (const old of pairs.slice(0, 2)) {
        await app.http().get('/me').set('Authorization', bearer(old.access_token)).expect(401);
        await app.http().post('/auth/refresh').send({ refresh_token: old.refresh_token }).expect(401);
      }
      for (const kept of pairs.slice(2)) await app.http().get('/me').set('Authorization', bearer(kept.access_token)).expect(200);
      // Another subject's sessions do not count.
      await app.http().get('/me').set('Authorization', bearer(bob.access_token)).expect(200);
      await app.http().post('/auth/refresh').send({ refresh_token: pairs[2].refresh_token }).expect(200);
    } finally {
      await app.close();
    }
  });
});

describe('revocation entries in Redis', () => {
  it('carry TTLs no longer than what they revoke could live', async () => {
    const app = await startExampleApp('redis', { accessTokenTtl: '60s', refreshTokenTtl: '1h' });
    const redis = createClient({ url: inject('redisUrl') });
    await redis.connect();
    try {
      const a = await app.login('alice');
      const b = await app.login('alice');
      await app.http().post('/auth/logout').set('Authorization', bearer(a.access_token)).expect(204);
      await app.http().post('/auth/logout-all').set('Authorization', bearer(b.access_token)).expect(204);
      // One sorted set holds every live revocation, scored by when it stops mattering.
      const index = `${app.config.keyPrefix}:revocations`;
      const entries = (await redis.zRangeWithScores(index, 0, -1)).map(({ value, score }) => ({
        event: JSON.parse(openField(value)) as { t: string },
        inMs: score - Date.now(),
      }));
      expect([...new Set(entries.map((e) => e.event.t))].sort()).toEqual(['sid', 'sub']);
      for (const { event, inMs } of entries) {
        expect(inMs).toBeGreaterThan(0);
        // Access tokens live 60 s (+30 s tolerance); a subject cutoff at most the longest lifetime, 1 h (+30 s).
        expect(inMs).toBeLessThanOrEqual(event.t === 'sid' ? 90_000 : 3_630_000);
      }
      const indexTtl = await redis.pTTL(index);
      expect(indexTtl).toBeGreaterThan(0);
      expect(indexTtl).toBeLessThanOrEqual(3_660_000);
      // Every hash the sessions write expires too: nothing of a session outlives it in Redis.
      const c = await app.login('bob');
      await app.http().post('/auth/refresh').send({ refresh_token: c.refresh_token }).expect(200);
      const hashes: string[] = [];
      for await (const batch of redis.scanIterator({ MATCH: `${app.config.keyPrefix}:*`, COUNT: 100 })) hashes.push(...batch);
      const hashKeys = [];
      for (const key of hashes) if ((await redis.type(key)) === 'hash' && !key.endsWith(':ring')) hashKeys.push(key);
      expect(hashKeys.some((k) => k.endsWith(':sessions'))).toBe(true);
      for (const key of hashKeys) expect(await redis.pTTL(key), key).toBeGreaterThan(0);

      const sessionKeys: string[] = [];
      for await (const batch of redis.scanIterator({ MATCH: `${app.config.keyPrefix}:session:*`, COUNT: 100 })) sessionKeys.push(...batch);
      // bob's session is still open: without this the checks below could pass on no key at all.
      expect(sessionKeys.length).toBeGreaterThan(0);
      for (const key of sessionKeys) {
        if ((await redis.type(key)) === 'string') expect(await redis.pTTL(key)).toBeGreaterThan(0);
        const raw = (await redis.type(key)) === 'string' ? await redis.get(key) : '';
        expect(raw).not.toContain(a.refresh_token);
      }
    } finally {
      await redis.quit();
      await app.close();
    }
  });
});
