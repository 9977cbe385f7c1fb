import { createClient } from '@redis/client';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ExampleProcess, startExampleProcess } from './support/example-process';
import { openField, openValue } from './support/sealed';

type Pair = { access_token: string; refresh_token: string };

const secret = 'a-cluster-key-encryption-secret-of-32+chars';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function login(instance: ExampleProcess, username = 'alice'): Promise<Pair> {
  const response = await fetch(`${instance.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: `${username}-password` }),
  });
  if (response.status !== 200) throw new Error(`login answered ${response.status}`);
  return (await response.json()) as Pair;
}

const status = async (url: string, token: string, init: RequestInit = {}) =>
  (await fetch(url, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } })).status;

const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid as string;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

describe('three example-app processes sharing one Redis', () => {
  const keyPrefix = `cluster-${randomBytes(4).toString('hex')}`;
  let instances: ExampleProcess[] = [];
  const redis = createClient({ url: inject('redisUrl') });

  beforeAll(async () => {
    const main = inject('exampleMain');
    await redis.connect();
    const env = {
      REDIS_URL: inject('redisUrl'),
      JWT_KEY_ENCRYPTION_SECRET: secret,
      JWT_KEY_PREFIX: keyPrefix,
      JWT_ISSUER: 'https://cluster.test',
      JWT_ROTATION_INTERVAL: '3s',
      JWT_ACCESS_TOKEN_TTL: '60s',
      JWT_REFRESH_TOKEN_TTL: '60s',
    };
    instances = await Promise.all([0, 1, 2].map(() => startExampleProcess(main, env)));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await redis.quit();
  });

  it('under load across at least three rotations, no valid token is ever rejected', async () => {
    const started = Date.now();
    const tokens: string[] = [];
    const kids = new Set<string>();
    let verified = 0;
    const rejected: string[] = [];
    while (Date.now() - started < 10_000) {
      const issuer = instances[tokens.length % 3];
      const { access_token } = await login(issuer);
      tokens.push(access_token);
      kids.add(kidOf(access_token));
      // The new token and a few older ones, each on every instance.
      const sample = [access_token, ...Array.from({ length: 3 }, () => tokens[Math.floor(Math.random() * tokens.length)])];
      const results = await Promise.all(sample.flatMap((t) => instances.map(async (i) => [await status(`${i.url}/me`, t), t] as const)));
      for (const [code, token] of results) {
        verified++;
        if (code !== 200) rejected.push(`${code} for kid ${kidOf(token)}`);
      }
      await sleep(20);
    }
    console.log(
      `[cluster] ${tokens.length} logins, ${verified} verifications across 3 instances, ${kids.size} signing keys seen, ${rejected.length} rejected`,
    );
    expect(rejected).toEqual([]);
    expect(kids.size).toBeGreaterThanOrEqual(4);
  }, 30_000);

  it('keeps one key record per window, and every instance reports the same current kid', async () => {
    const ring = await redis.hGetAll(`${keyPrefix}:ring`);
    const generations = Object.entries(ring).filter(([field]) => field.startsWith('g:'));
    const windows = generations.map(([, value]) => (JSON.parse(openField(value)) as { activatesAt: number }).activatesAt);
    expect(new Set(windows).size).toBe(windows.length);
    // Losers of a creation race delete their material: as many key records as schedule entries.
    const records: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${keyPrefix}:key:*`, COUNT: 1000 })) records.push(...batch);
    expect(records.length).toBe(generations.length);

    // Ask all three between two boundaries (3 s windows): they must agree.
    const { access_token } = await login(instances[0]);
    const currents = await Promise.all(
      instances.map(async (i) => {
        const keys = (await (
          await fetch(`${i.url}/admin/keys`, { headers: { authorization: `Bearer ${access_token}` } })
        ).json()) as Array<{
          kid: string;
          status: string;
        }>;
        return keys.find((k) => k.status === 'current')?.kid;
      }),
    );
    expect(new Set(currents).size).toBe(1);
  });

  it('keeps no key material and no refresh token in the clear in Redis', async () => {
    const pair = await login(instances[1]);
    const keys: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${keyPrefix}:*`, COUNT: 1000 })) keys.push(...batch);
    let dump = '';
    for (const key of keys) {
      const type = await redis.type(key);
      // Opened as the library would read them: what is inside a sealed record is what could leak.
      if (type === 'string') dump += JSON.stringify(openValue((await redis.get(key))!));
      else if (type === 'hash')
        dump += Object.values(await redis.hGetAll(key))
          .map(openField)
          .join();
    }
    expect(dump).not.toMatch(/"kty"\s*:\s*"oct"/);
    expect(dump).not.toMatch(/"k"\s*:/);
    expect(dump).not.toContain(pair.refresh_token);
    expect(dump).not.toContain(pair.refresh_token.split('.')[3]);
    expect(dump).toContain('"tag"');
  });

  it('a logout on one instance is a 401 on the others within 100 ms at p99', async () => {
    const latencies: number[] = [];
    for (let trial = 0; trial < 40; trial++) {
      const [from, to] = [instances[trial % 3], instances[(trial + 1) % 3]];
      const { access_token } = await login(from, 'bob');
      expect(await status(`${to.url}/me`, access_token)).toBe(200);
      expect(await status(`${from.url}/auth/logout`, access_token, { method: 'POST' })).toBe(204);
      const revokedAt = performance.now();
      while ((await status(`${to.url}/me`, access_token)) !== 401) {
        if (performance.now() - revokedAt > 5_000) throw new Error('revocation never reached the other instance');
      }
      latencies.push(performance.now() - revokedAt);
    }
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    console.log(
      `[cluster] revocation propagation over ${latencies.length} trials: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
    );
    expect(p99).toBeLessThan(100);
  }, 30_000);

  it('a key revoked on one instance is refused everywhere, and signing moves on', async () => {
    const { access_token } = await login(instances[0]);
    const kid = kidOf(access_token);
    expect(await status(`${instances[2].url}/admin/keys/${kid}`, access_token, { method: 'DELETE' })).toBe(204);
    await sleep(100);
    for (const instance of instances) expect(await status(`${instance.url}/me`, access_token)).toBe(401);
    const fresh = await login(instances[1]);
    expect(kidOf(fresh.access_token)).not.toBe(kid);
    for (const instance of instances) expect(await status(`${instance.url}/me`, fresh.access_token)).toBe(200);
  });

  it('verifying 10,000 requests with a known kid sends no command to Redis', async () => {
    const { access_token } = await login(instances[0]);
    await status(`${instances[0].url}/me`, access_token);
    const calls = async () => {
      const stats = await redis.info('commandstats');
      return [...stats.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)].reduce<Record<string, number>>(
        (acc, [, cmd, n]) => ({ ...acc, [cmd]: Number(n) }),
        {},
      );
    };
    // The instances' own ticks also talk to Redis; count what a verified request adds on top.
    const before = await calls();
    let ok = 0;
    const startedAt = Date.now();
    for (let batch = 0; batch < 100; batch++) {
      const codes = await Promise.all(Array.from({ length: 100 }, () => status(`${instances[0].url}/me`, access_token)));
      ok += codes.filter((c) => c === 200).length;
    }
    const seconds = (Date.now() - startedAt) / 1000;
    const after = await calls();
    const added: Record<string, number> = {};
    for (const [cmd, n] of Object.entries(after)) if (n > (before[cmd] ?? 0)) added[cmd] = n - (before[cmd] ?? 0);
    const total = Object.values(added).reduce((a, b) => a + b, 0);
    console.log(
      `[cluster] ${ok} verified requests in ${seconds.toFixed(1)} s; Redis commands meanwhile (all instances' background ticks included): ${JSON.stringify(added)}`,
    );
    expect(ok).toBe(10_000);
    // Background ticks: 3 instances, a tick every 375 ms, a handful of commands each.
    expect(total).toBeLessThan(200 * Math.max(1, seconds));
    expect(total).toBeLessThan(10_000 / 10);
  }, 60_000);
});
