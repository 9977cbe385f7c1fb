import { createClient } from '@redis/client';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, startExampleApp } from './support/example-app';
import { bearer } from './support/http';
import { type RedisServer, startRedisServer } from './support/redis-server';

type RedisClient = ReturnType<typeof createClient>;

/** `INFO commandstats` as calls per command. */
async function commandStats(redis: RedisClient): Promise<Record<string, number>> {
  const stats: Record<string, number> = {};
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match) stats[match[1]] = Number(match[2]);
  }
  return stats;
}

const delta = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)])
      .filter(([, v]) => (v as number) > 0),
  );

/**
 * Revocations reach an instance that missed their messages, from the event log, without walking
 * the keyspace (issue 14, items 2 and 3). A Redis of this file's own: the cases kill connections
 * and fill the database.
 */
describe('the event log and the revocation index', () => {
  let server: RedisServer;
  let redis: RedisClient;
  let apps: ExampleApp[] = [];

  beforeAll(async () => {
    // DEBUG POPULATE fills the database with a million keys in a second.
    server = await startRedisServer({ args: ['--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'] });
    redis = createClient({ url: server.url });
    await redis.connect();
  });
  afterEach(async () => {
    await Promise.all(apps.map((app) => app.close()));
    apps = [];
  });
  afterAll(async () => {
    await redis?.quit();
    await server?.stop();
  });

  const start = async (keyPrefix: string) => {
    const app = await startExampleApp('redis', { redisUrl: server.url, keyPrefix });
    apps.push(app);
    return app;
  };
  const me = (app: ExampleApp, token: string) => app.http().get('/me').set('Authorization', bearer(token));

  it('an instance whose subscriber is cut while 100 revocations are made enforces every one after it reconnects, with no SCAN', async () => {
    const prefix = `log-${randomBytes(4).toString('hex')}`;
    const [a, b] = [await start(prefix), await start(prefix)];
    const tokens = await Promise.all(Array.from({ length: 100 }, () => a.login('bob').then((pair) => pair.access_token)));
    for (const token of tokens.slice(0, 5)) await me(b, token).expect(200);
    const before = await commandStats(redis);

    // Cut every subscriber connection again and again while the logouts go out on instance A.
    let cutting = true;
    let cuts = 0;
    const cutter = (async () => {
      while (cutting) {
        cuts += Number(await redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    for (const token of tokens) await a.http().post('/auth/logout').set('Authorization', bearer(token)).expect(204);
    cutting = false;
    await cutter;
    expect(cuts).toBeGreaterThan(0);

    await expect
      .poll(async () => (await Promise.all(tokens.map((t) => me(b, t)))).filter((r) => r.status === 200).length, { timeout: 5_000 })
      .toBe(0);
    const used = delta(before, await commandStats(redis));
    console.log(`[event-log] ${cuts} subscriber connections cut during 100 logouts; commands: ${JSON.stringify(used)}`);
    expect(used.scan ?? 0).toBe(0);
    expect(used.keys ?? 0).toBe(0);
  }, 60_000);

  it('starts up with the same commands on a Redis holding 1,000,000 unrelated keys as on an empty one', async () => {
    const startupCommands = async (keyPrefix: string) => {
      const before = await commandStats(redis);
      const started = performance.now();
      const app = await start(keyPrefix);
      const ms = performance.now() - started;
      const used = delta(before, await commandStats(redis));
      await app.close();
      apps = apps.filter((x) => x !== app);
      return { used, ms };
    };
    // The same state each time: a ring and some revocations of one prefix, nothing else of ours.
    const prefix = `big-${randomBytes(4).toString('hex')}`;
    const seed = await start(prefix);
    for (let i = 0; i < 20; i++) {
      const { access_token } = await seed.login('alice');
      await seed.http().post('/auth/logout').set('Authorization', bearer(access_token)).expect(204);
    }
    await seed.close();
    apps = [];

    const empty = await startupCommands(prefix);
    await redis.sendCommand(['DEBUG', 'POPULATE', '1000000', 'unrelated']);
    expect(await redis.dbSize()).toBeGreaterThan(1_000_000);
    const full = await startupCommands(prefix);
    console.log(`[event-log] startup: ${empty.ms.toFixed(0)} ms on an empty Redis, ${full.ms.toFixed(0)} ms beside 1,000,000 keys`);
    expect(full.used).toEqual(empty.used);
    expect(full.used.scan ?? 0).toBe(0);
  }, 120_000);
});
