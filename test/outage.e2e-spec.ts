import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ExampleProcess, startExampleProcess } from './support/example-process';
import { type RedisServer, startRedisServer } from './support/redis-server';

type Pair = { access_token: string; refresh_token: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timed(url: string, init: RequestInit = {}): Promise<{ status: number; ms: number; body: Record<string, unknown> }> {
  const started = performance.now();
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  return { status: response.status, ms: performance.now() - started, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const json = (body: unknown, token?: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
});
const login = (i: ExampleProcess) => timed(`${i.url}/auth/login`, json({ username: 'alice', password: 'alice-password' }));
const me = (i: ExampleProcess, token: string) => timed(`${i.url}/me`, { headers: { authorization: `Bearer ${token}` } });

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not recovered within ${timeoutMs} ms`);
    await sleep(200);
  }
  return Date.now() - started;
}

/** The test's own redis-server (persisting to a temp dir, so a restart keeps the key ring), stalled and stopped at will. */
describe('Redis outages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-rotation-outage-'));
  const args = ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--dir', dir];
  let redis: RedisServer;
  let instances: ExampleProcess[] = [];

  beforeAll(async () => {
    const main = inject('exampleMain');
    redis = await startRedisServer({ args });
    const env = {
      REDIS_URL: redis.url,
      JWT_KEY_ENCRYPTION_SECRET: 'an-outage-key-encryption-secret-of-32+chars',
      JWT_ISSUER: 'https://outage.test',
      JWT_ROTATION_INTERVAL: '1h',
    };
    instances = await Promise.all([0, 1].map(() => startExampleProcess(main, env)));
  }, 60_000);

  afterAll(async () => {
    redis.process.kill('SIGCONT');
    await Promise.all(instances.map((i) => i.stop()));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stalled: tokens keep verifying, store-bound routes answer 503 in bounded time, and all resumes', async () => {
    const pair = (await login(instances[0])).body as unknown as Pair;
    redis.process.kill('SIGSTOP');
    try {
      for (const instance of instances) expect((await me(instance, pair.access_token)).status).toBe(200);
      const answers = await Promise.all([
        login(instances[0]),
        timed(`${instances[1].url}/auth/refresh`, json({ refresh_token: pair.refresh_token })),
        timed(`${instances[1].url}/auth/logout`, json({}, pair.access_token)),
      ]);
      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(answer.ms).toBeLessThan(5_000);
      }
      console.log(`[outage] stalled Redis: 503 after ${answers.map((a) => a.ms.toFixed(0)).join(' / ')} ms (login / refresh / logout)`);
      expect((await me(instances[1], pair.access_token)).status).toBe(200);
    } finally {
      redis.process.kill('SIGCONT');
    }
    const recovery = await until(async () => (await login(instances[1])).status === 200, 15_000);
    console.log(`[outage] login works again ${recovery} ms after Redis resumed`);
    expect((await timed(`${instances[0].url}/auth/refresh`, json({ refresh_token: pair.refresh_token }))).status).toBe(200);
  }, 40_000);

  it('stopped and restarted: verification goes on, and after the restart revocations reach every instance again', async () => {
    const pair = (await login(instances[0])).body as unknown as Pair;
    await redis.stop();
    for (const instance of instances) expect((await me(instance, pair.access_token)).status).toBe(200);
    const down = await login(instances[1]);
    expect(down.status).toBe(503);
    expect(down.ms).toBeLessThan(5_000);
    console.log(`[outage] stopped Redis: login 503 after ${down.ms.toFixed(0)} ms`);

    redis = await startRedisServer({ port: redis.port, args });
    const recovery = await until(async () => (await login(instances[0])).status === 200, 20_000);
    console.log(`[outage] login works again ${recovery} ms after Redis restarted`);
    // The old token still verifies (the key ring survived), and a logout now reaches the other instance.
    const fresh = (await login(instances[0])).body as unknown as Pair;
    expect((await me(instances[1], pair.access_token)).status).toBe(200);
    expect((await timed(`${instances[0].url}/auth/logout`, json({}, fresh.access_token))).status).toBe(204);
    await until(async () => (await me(instances[1], fresh.access_token)).status === 401, 2_000);
  }, 60_000);
});
