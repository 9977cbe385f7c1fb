import { createClient } from '@redis/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, startExampleApp } from './support/example-app';
import { bearer, payloadOf } from './support/http';
import { type RedisServer, startRedisServer } from './support/redis-server';

type Pair = { access_token: string; refresh_token: string; expires_in: number };
type Outcome = 'ok' | 'stuck' | 'revoked';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sidOf = (pair: Pair) => payloadOf(pair.access_token).sid as string;

/** One refresh; a network error (the app closed) counts as a 503. */
async function refresh(app: ExampleApp, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await app.http().post('/auth/refresh').send({ refresh_token: token });
  return { status: response.status, body: response.body as Record<string, unknown> };
}

/**
 * What a well-behaved client does: refresh, and after a 503 (or a 409) retry with the same refresh
 * token until it gets an answer that is not retryable. 'ok' means it ended up with a pair that
 * works: the access token verifies and the refresh token refreshes again.
 */
async function refreshLikeAClient(app: ExampleApp, token: string, deadline: number): Promise<{ outcome: Outcome; pair?: Pair }> {
  while (Date.now() < deadline) {
    const answer = await refresh(app, token);
    if (answer.status === 503 || answer.status === 409) {
      await sleep(300);
      continue;
    }
    if (answer.status !== 200) return { outcome: /already used/.test(String(answer.body.message)) ? 'revoked' : 'stuck' };
    const pair = answer.body as unknown as Pair;
    const me = await app.http().get('/me').set('Authorization', bearer(pair.access_token));
    if (me.status !== 200) return { outcome: 'revoked' };
    return { outcome: 'ok', pair };
  }
  return { outcome: 'stuck' };
}

function tally(outcomes: Outcome[]): Record<Outcome, number> {
  return {
    ok: outcomes.filter((o) => o === 'ok').length,
    stuck: outcomes.filter((o) => o === 'stuck').length,
    revoked: outcomes.filter((o) => o === 'revoked').length,
  };
}

describe('a refresh during a Redis stall or outage (a Redis of the test’s own)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-rotation-refresh-'));
  // Persisted, so a stop and restart keeps the sessions (as a production Redis would).
  const args = ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--dir', dir];
  let redis: RedisServer;
  let app: ExampleApp | undefined;

  beforeAll(async () => {
    redis = await startRedisServer({ args });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    redis.process.kill('SIGCONT');
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('CLIENT PAUSE 4000 WRITE during one refresh: 503, then a retry with the same token gets a working pair', async () => {
    app = await startExampleApp('redis', { redisUrl: redis.url });
    const pair = (await app.login('alice')) as Pair;
    const admin = createClient({ url: redis.url });
    await admin.connect();
    try {
      await admin.sendCommand(['CLIENT', 'PAUSE', '4000', 'WRITE']);
      const first = await refresh(app, pair.refresh_token);
      expect(first.status).toBe(503);
    } finally {
      await admin.quit();
    }
    const retried = await refreshLikeAClient(app, pair.refresh_token, Date.now() + 20_000);
    expect(retried.outcome).toBe('ok');
    const next = retried.pair!;
    // The new pair works: its access token verifies, the session is listed, it refreshes again.
    const listed = (await app.http().get('/auth/sessions').set('Authorization', bearer(next.access_token)).expect(200)).body as Array<{
      sid: string;
    }>;
    expect(listed.map((s) => s.sid)).toContain(sidOf(pair));
    const after = (await app.http().post('/auth/refresh').send({ refresh_token: next.refresh_token }).expect(200)).body as Pair;
    await app.http().get('/me').set('Authorization', bearer(after.access_token)).expect(200);

    // Reuse detection still fires: the first token, presented after its successor was refreshed, is theft.
    const replay = await refresh(app, pair.refresh_token);
    expect(replay.status).toBe(401);
    expect(String(replay.body.message)).toMatch(/already used/);
    await app.http().get('/me').set('Authorization', bearer(after.access_token)).expect(401);
    await app.http().post('/auth/refresh').send({ refresh_token: after.refresh_token }).expect(401);
  }, 40_000);

  it('Redis stopped for 4 s while 30 clients refresh and retry after a 503: no session stuck, none revoked', async () => {
    app = await startExampleApp('redis', { redisUrl: redis.url });
    const clients = 30;
    const pairs = (await Promise.all(Array.from({ length: clients }, () => app!.login('bob')))) as Pair[];
    const deadline = Date.now() + 30_000;
    const running = pairs.map((pair) => refreshLikeAClient(app!, pair.refresh_token, deadline));
    await sleep(15);
    await redis.stop();
    await sleep(4000);
    redis = await startRedisServer({ port: redis.port, args });
    const results = await Promise.all(running);
    const counts = tally(results.map((r) => r.outcome));
    console.log(`[refresh] Redis stopped 4 s under ${clients} refreshing clients: ${JSON.stringify(counts)}`);
    expect(counts).toEqual({ ok: clients, stuck: 0, revoked: 0 });
    // Every pair the clients ended with refreshes again.
    const again = await Promise.all(results.map((r) => refresh(app!, r.pair!.refresh_token)));
    expect(again.map((a) => a.status)).toEqual(again.map(() => 200));
  }, 60_000);
});

describe('identical concurrent refreshes', () => {
  const apps: ExampleApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  /** Sends `k` identical refreshes at once (spread over `instances`), then checks the session survived with one rotation. */
  async function race(instances: ExampleApp[], k: number): Promise<{ survived: boolean; rotations: number; refused: number }> {
    const pair = (await instances[0].login('alice')) as Pair;
    const answers = await Promise.all(Array.from({ length: k }, (_, i) => refresh(instances[i % instances.length], pair.refresh_token)));
    const ok = answers.filter((a) => a.status === 200).map((a) => a.body as unknown as Pair);
    const refreshTokens = new Set(ok.map((p) => p.refresh_token));
    const jtis = new Set(ok.map((p) => payloadOf(p.access_token).jti));
    const me = await instances[0]
      .http()
      .get('/me')
      .set('Authorization', bearer(ok[0]?.access_token ?? pair.access_token));
    const next = ok[0] ? await refresh(instances[0], ok[0].refresh_token) : { status: 0 };
    return {
      survived: ok.length > 0 && me.status === 200 && next.status === 200,
      rotations: Math.max(refreshTokens.size, jtis.size),
      // Anything but the pair or a retryable answer.
      refused: answers.filter((a) => ![200, 409, 503].includes(a.status)).length,
    };
  }

  it.each([2, 12])('K = %i on the in-memory store: one rotation, every answer the same pair, the session survives', async (k) => {
    const app = await startExampleApp('memory');
    apps.push(app);
    const results = [];
    for (let session = 0; session < 10; session++) results.push(await race([app], k));
    console.log(`[refresh] K = ${k} in memory: ${results.filter((r) => r.survived).length} of 10 sessions survived`);
    expect(results.map((r) => r.refused)).toEqual(results.map(() => 0));
    expect(results.filter((r) => !r.survived)).toEqual([]);
    expect(results.map((r) => r.rotations)).toEqual(results.map(() => 1));
  });

  it('K = 30 across 3 instances sharing one Redis: one rotation, and the session survives', async () => {
    const first = await startExampleApp('redis');
    apps.push(first);
    for (let i = 0; i < 2; i++) apps.push(await startExampleApp('redis', { keyPrefix: first.config.keyPrefix }));
    const results = [];
    for (let session = 0; session < 10; session++) results.push(await race(apps, 30));
    console.log(`[refresh] K = 30 on 3 instances: ${results.filter((r) => r.survived).length} of 10 sessions survived`);
    expect(results.map((r) => r.refused)).toEqual(results.map(() => 0));
    expect(results.filter((r) => !r.survived)).toEqual([]);
    expect(results.map((r) => r.rotations)).toEqual(results.map(() => 1));
  });

  // ECDSA signatures are randomised: the replayed access token is an equivalent one, same claims.
  it.each(['HS256', 'ES256'] as const)(
    '%s: within refreshReuseInterval, 5 sequential replays of a consumed token give the same pair',
    async (algorithm) => {
      const app = await startExampleApp('memory', { refreshReuseInterval: '10s', algorithm });
      apps.push(app);
      const pair = (await app.login('bob')) as Pair;
      const answers: Pair[] = [];
      for (let i = 0; i < 6; i++)
        answers.push((await app.http().post('/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(200)).body as Pair);
      expect(new Set(answers.map((a) => a.refresh_token)).size).toBe(1);
      expect(new Set(answers.map((a) => JSON.stringify(payloadOf(a.access_token)))).size).toBe(1);
      if (algorithm === 'HS256') expect(new Set(answers.map((a) => a.access_token)).size).toBe(1);
      await app.http().get('/me').set('Authorization', bearer(answers[5].access_token)).expect(200);
    },
  );
});
