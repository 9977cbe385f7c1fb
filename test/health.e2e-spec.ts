import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, startExampleApp } from './support/example-app';
import { type RedisServer, startRedisServer } from './support/redis-server';

interface HealthBody {
  status: 'ok' | 'error';
  info?: Record<string, { status: string; reason?: string; mode?: string }>;
  error?: Record<string, { status: string; reason?: string; mode?: string }>;
}

/** GET /health until it answers `status`, at most `attempts` times a quarter-second apart. */
async function healthUntil(example: ExampleApp, status: number, attempts = 80): Promise<{ status: number; body: HealthBody }> {
  let last = { status: 0, body: { status: 'error' } as HealthBody };
  for (let attempt = 0; attempt < attempts; attempt++) {
    const response = await example.http().get('/health');
    last = { status: response.status, body: response.body as HealthBody };
    if (last.status === status) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return last;
}

describe('GET /health (terminus): the key ring of an issuer on its own Redis', () => {
  // Persisting to a temp dir, so the restarted Redis still holds the key ring.
  const dir = mkdtempSync(join(tmpdir(), 'jwt-rotation-health-'));
  const args = ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--dir', dir];
  let redis: RedisServer | undefined;
  let example: ExampleApp | undefined;

  beforeAll(async () => {
    redis = await startRedisServer({ args });
    example = await startExampleApp('redis', { redisUrl: redis.url });
  });
  afterAll(async () => {
    await example?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is up while the store answers, a current key signs and the next key is published', async () => {
    const response = await example!.http().get('/health').expect(200);
    expect(response.body).toEqual({
      status: 'ok',
      info: { jwt: { status: 'up', mode: 'issuer', keys: 3 } },
      error: {},
      details: { jwt: { status: 'up', mode: 'issuer', keys: 3 } },
    });
  });

  it('is down with a reason (503) while Redis is stopped, and up again once it is back', async () => {
    const port = redis!.port;
    await redis!.stop();
    const down = await healthUntil(example!, 503);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('error');
    expect(down.body.error?.jwt).toEqual({ status: 'down', mode: 'issuer', reason: 'the key store does not answer' });

    redis = await startRedisServer({ port, args });
    const up = await healthUntil(example!, 200);
    expect(up.status).toBe(200);
    expect(up.body.info?.jwt).toEqual({ status: 'up', mode: 'issuer', keys: 3 });
  });

  it('never puts a kid, a key or a token in its answer', async () => {
    const keys = (
      await example!
        .http()
        .get('/admin/keys')
        .set('authorization', `Bearer ${(await example!.login('alice')).access_token}`)
    ).body as Array<{
      kid: string;
    }>;
    const text = (await example!.http().get('/health')).text;
    for (const { kid } of keys) expect(text).not.toContain(kid);
  });
});
