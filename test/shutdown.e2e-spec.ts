import { createClient } from '@redis/client';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type ExampleProcess, startExampleProcess } from './support/example-process';
import { type RedisServer, startRedisServer } from './support/redis-server';

/** Generous: an outcome check (the process ends by itself), not a speed benchmark. */
const EXIT_BOUND_MS = 10_000;

/** Resolves with the exit code and how long after `since` the child exited, or `undefined` if it is still running after `timeoutMs`. */
function exitOf(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: string | null } | undefined> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

const login = (instance: ExampleProcess) =>
  fetch(`${instance.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'alice-password' }),
    signal: AbortSignal.timeout(10_000),
  });

/**
 * SIGTERM to a real example-app process (enableShutdownHooks in src/app.setup.ts) on a Redis of the
 * test's own, in each state the store can be in at that moment.
 */
describe('shutdown on SIGTERM, whatever state Redis is in', () => {
  let redis: RedisServer | undefined;
  let instance: ExampleProcess | undefined;

  afterEach(async () => {
    redis?.process.kill('SIGCONT');
    await instance?.stop();
    await redis?.stop();
    instance = redis = undefined;
  });

  const start = async () => {
    redis = await startRedisServer();
    instance = await startExampleProcess(inject('exampleMain'), {
      REDIS_URL: redis.url,
      JWT_KEY_ENCRYPTION_SECRET: 'a-shutdown-key-encryption-secret-of-32+chars',
      JWT_ISSUER: 'https://shutdown.test',
    });
    expect((await login(instance)).status).toBe(200);
    return { redis, instance };
  };

  /** A login the store cannot serve: a 503 after the store's deadline, its Redis command left queued in the client. */
  const unanswered = async (instance: ExampleProcess) => expect((await login(instance)).status).toBe(503);

  it.each<[string, (redis: RedisServer, instance: ExampleProcess) => Promise<void>]>([
    ['up', async () => undefined],
    ['stopped (connection refused)', (r) => r.stop()],
    ['stalled (SIGSTOP: connected, never answering)', async (r) => void r.process.kill('SIGSTOP')],
    ['stopped, after a request it did not answer', async (r, i) => (await r.stop(), await unanswered(i))],
    ['stalled, after a request it did not answer', async (r, i) => (r.process.kill('SIGSTOP'), await unanswered(i))],
  ])(
    'exits within 10 s of SIGTERM with Redis %s',
    async (state, makeState) => {
      const { redis, instance } = await start();
      await makeState(redis, instance);
      const started = Date.now();
      instance.child.kill('SIGTERM');
      const exit = await exitOf(instance.child, EXIT_BOUND_MS);
      console.log(
        `[shutdown] Redis ${state}: ${exit ? `exited (${exit.code ?? exit.signal}) after ${Date.now() - started} ms` : 'still running'}`,
      );
      expect(exit, `still running ${EXIT_BOUND_MS} ms after SIGTERM with Redis ${state}:\n${instance.output().slice(-2000)}`).toBeDefined();
      // Nest's shutdown hooks end by re-raising the signal: the exit a SIGTERM handled in full gives.
      expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
      // What was acknowledged before (the login's session) is still in Redis, where Redis still runs.
      if (redis.process.exitCode === null && redis.process.signalCode === null) {
        redis.process.kill('SIGCONT');
        const client = createClient({ url: redis.url });
        await client.connect();
        try {
          expect((await client.keys('*')).some((key) => key.includes(':session'))).toBe(true);
        } finally {
          await client.quit();
        }
      }
    },
    60_000,
  );
});
