import { createClient } from '@redis/client';
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AppConfig } from '../src/app.config';
import { KeyEncryption, type EncryptedMaterial } from '../libs/jwt-rotation/src/keys/key-encryption';
import { type ExampleApp, startExampleApp } from './support/example-app';
import { b64json, bearer, headerOf, payloadOf, sleepUntil } from './support/http';
import { type RedisServer, startRedisServer } from './support/redis-server';
import { MAC_LENGTH } from './support/sealed';

type RedisClient = ReturnType<typeof createClient>;

/**
 * What a writer who reaches Redis but lacks keyEncryptionSecret can do to the fleet (issue 11,
 * items 3 and 4). Each case tampers the way such a writer would: it edits the JSON it can read,
 * keeping whatever MAC is there, since it cannot compute a new one. A Redis of this file's own,
 * since one case flushes it.
 */
describe('a Redis writer without the secret, and a Redis that loses its data', () => {
  let server: RedisServer;
  let redis: RedisClient;
  let apps: ExampleApp[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
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

  const start = async (overrides: Partial<AppConfig> = {}) => {
    const app = await startExampleApp('redis', { redisUrl: server.url, ...overrides });
    apps.push(app);
    return app;
  };
  const me = (app: ExampleApp, token: string) => app.http().get('/me').set('Authorization', bearer(token));

  /** Edits a stored JSON value in place, inside the library's sealed envelope when there is one, keeping its MAC. */
  async function editValue(key: string, edit: (value: Record<string, unknown>) => void): Promise<void> {
    const raw = await redis.get(key);
    expect(raw, `${key} is in Redis`).toBeTypeOf('string');
    const ttl = await redis.pTTL(key);
    const stored = JSON.parse(raw!) as Record<string, unknown>;
    if (typeof stored.p === 'string' && typeof stored.m === 'string') {
      const inner = JSON.parse(stored.p) as Record<string, unknown>;
      edit(inner);
      stored.p = JSON.stringify(inner);
    } else {
      edit(stored);
    }
    await redis.set(key, JSON.stringify(stored), { PX: ttl });
  }

  /** A hash field's JSON or number, edited in place, MAC (if any) kept. */
  async function editField(key: string, field: string, edit: (value: string) => string): Promise<void> {
    const raw = (await redis.hGet(key, field))!;
    expect(raw, `${key} ${field} is in Redis`).toBeTypeOf('string');
    const sealed = raw.length > MAC_LENGTH && !raw.startsWith('{');
    const value = sealed ? raw.slice(MAC_LENGTH) : raw;
    await redis.hSet(key, field, `${sealed ? raw.slice(0, MAC_LENGTH) : ''}${edit(value)}`);
  }

  /** Makes an instance reload its key ring now, as any unknown kid does (shared and rate-limited to 1/s). */
  async function reloadRing(app: ExampleApp): Promise<void> {
    await new Promise((r) => setTimeout(r, 1100));
    const forged = `${b64json({ alg: 'HS256', kid: randomBytes(8).toString('hex'), typ: 'at+jwt' })}.${b64json({})}.AAAA`;
    await me(app, forged).expect(401);
  }

  it('cannot grant a role by editing a session record: the refresh refuses the record', async () => {
    const app = await start();
    const pair = await app.login('bob');
    await app.http().get('/admin/keys').set('Authorization', bearer(pair.access_token)).expect(403);
    const sid = payloadOf(pair.access_token).sid as string;
    await editValue(`${app.config.keyPrefix}:session:${sid}`, (record) => {
      (record.claims as Record<string, unknown>).roles = ['admin'];
    });

    const refreshed = await app.http().post('/auth/refresh').send({ refresh_token: pair.refresh_token });
    expect(refreshed.status).toBe(401);
    expect(refreshed.body.access_token).toBeUndefined();
  });

  it('cannot un-revoke a key by deleting its revocation, on a running instance or on one started afterwards', async () => {
    const app = await start();
    const signedByOld = (await app.login('alice')).access_token;
    const oldKid = headerOf(signedByOld).kid!;
    await app.http().post('/admin/keys/rotate').set('Authorization', bearer(signedByOld)).expect(200);
    const admin = (await app.login('alice')).access_token;
    await app
      .http()
      .delete(`/admin/keys/${encodeURIComponent(oldKid)}`)
      .set('Authorization', bearer(admin))
      .expect(204);
    await me(app, signedByOld).expect(401);

    expect(await redis.hDel(`${app.config.keyPrefix}:ring`, `rev:${oldKid}`)).toBe(1);
    await reloadRing(app);
    await me(app, signedByOld).expect(401);
    const late = await start({ keyPrefix: app.config.keyPrefix });
    await me(late, signedByOld).expect(401);
    await me(late, admin).expect(200);
  });

  it('cannot lock a subject out with a published event or a stored revocation it made up', async () => {
    const app = await start();
    const other = await start({ keyPrefix: app.config.keyPrefix });
    const { access_token } = await app.login('alice');
    const prefix = app.config.keyPrefix!;
    const lockout = { t: 'sub', id: 'alice', cutoff: 9_999_999_999, exp: Date.now() + 3_600_000 };
    await redis.publish(`${prefix}:events`, JSON.stringify(lockout));
    // A MAC from the wrong key is no better than none.
    const wrongMac = createHmac('sha256', 'not-the-secret').update(JSON.stringify(lockout)).digest('base64url');
    await redis.publish(`${prefix}:events`, `${wrongMac}${JSON.stringify(lockout)}`);
    const alice = Buffer.from('alice').toString('base64url');
    await redis.set(`${prefix}:revoked:sub:${alice}.9999999999`, JSON.stringify(lockout), { PX: 3_600_000 });
    await redis.zAdd(`${prefix}:revocations`, { score: lockout.exp, value: JSON.stringify(lockout) });
    await redis.xAdd(`${prefix}:log`, '*', { m: JSON.stringify(lockout) });
    await new Promise((r) => setTimeout(r, 300));

    await me(app, access_token).expect(200);
    await me(other, access_token).expect(200);
    // An instance started now reads every stored revocation at startup.
    const late = await start({ keyPrefix: prefix });
    await me(late, access_token).expect(200);
    // A real logout still reaches every instance.
    await app.http().post('/auth/logout').set('Authorization', bearer(access_token)).expect(204);
    await expect.poll(async () => (await me(other, access_token)).status, { timeout: 2000 }).toBe(401);
  });

  it('cannot make a key verify under another algorithm by changing the alg in its schedule entry (RFC 8725 §3.1)', async () => {
    const app = await start();
    const { access_token } = await app.login('alice');
    const kid = headerOf(access_token).kid!;
    const prefix = app.config.keyPrefix!;
    const ring = await redis.hGetAll(`${prefix}:ring`);
    const [field] = Object.entries(ring).find(([f, v]) => f.startsWith('g:') && v.includes(`"${kid}"`))!;
    await editField(`${prefix}:ring`, field, (value) => value.replace('"HS256"', '"HS512"'));
    await reloadRing(app);

    // The test holds the secret, so it can read the key, and sign an "HS512" header with HMAC-SHA256.
    const secret = hmacSecretOf(await redis.get(`${prefix}:key:${kid}`), kid, app.config.keyEncryptionSecret!);
    const input = `${b64json({ alg: 'HS512', kid, typ: 'at+jwt' })}.${access_token.split('.')[1]}`;
    const relabelled = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    await me(app, relabelled).expect(401);
    // The key itself goes on verifying what it signed.
    await me(app, access_token).expect(200);
  });

  it('after FLUSHALL, every instance, one started afterwards too, signs with a key every instance verifies', async () => {
    // 4 s windows: the next key each instance holds would activate within the wait below.
    const fast: Partial<AppConfig> = { rotationInterval: '4s', keyPrefix: `flush-${randomBytes(4).toString('hex')}` };
    const running = [await start(fast), await start(fast), await start(fast)];
    const before = await Promise.all(running.map(async (app) => (await app.login('alice')).access_token));

    const keys = (await running[0].http().get('/admin/keys').set('Authorization', bearer(before[0])).expect(200)).body as Array<{
      status: string;
      activatesAt: string;
    }>;
    const heldNextActivates = Date.parse(keys.find((k) => k.status === 'next')!.activatesAt);

    // Flushed late in the window, so the held next key activates well before the fleet's new
    // next key (one interval after the flush): that is when an instance would sign with it.
    await sleepUntil(heldNextActivates - 1_000);
    await redis.flushAll();
    await sleepUntil(heldNextActivates + 600);
    const late = await start(fast);
    const fleet = [...running, late];
    for (const signer of fleet) {
      const { access_token } = await signer.login('alice');
      for (const verifier of fleet) {
        const status = (await me(verifier, access_token)).status;
        expect(status, `a token signed after the flush, checked on another instance`).toBe(200);
      }
    }
    // Tokens signed before the loss keep verifying wherever their key is still held.
    for (const token of before) for (const app of running) await me(app, token).expect(200);
  }, 30_000);

  it("after the store loses the current key's material alone, the fleet moves to a key every instance can load", async () => {
    const config: Partial<AppConfig> = { rotationInterval: '8s', keyPrefix: `evict-${randomBytes(4).toString('hex')}` };
    const running = await start(config);
    const before = (await running.login('alice')).access_token;
    expect(await redis.del(`${config.keyPrefix}:key:${headerOf(before).kid}`)).toBe(1);
    // One reconcile tick (1 s) and a margin.
    await new Promise((r) => setTimeout(r, 2_500));
    const late = await start(config);
    const after = (await running.login('alice')).access_token;
    expect(headerOf(after).kid).not.toBe(headerOf(before).kid);
    await me(late, after).expect(200);
    await me(running, before).expect(200);
  }, 30_000);
});

/** The HMAC secret of an HS* key, decrypted from its stored record with keyEncryptionSecret. */
function hmacSecretOf(raw: string | null, kid: string, keyEncryptionSecret: string): Buffer {
  let record = JSON.parse(raw!) as { p?: string; material?: EncryptedMaterial };
  if (typeof record.p === 'string') record = JSON.parse(record.p) as { material: EncryptedMaterial };
  const jwk = JSON.parse(new KeyEncryption(keyEncryptionSecret).decrypt(kid, record.material!).toString('utf8')) as { k: string };
  return Buffer.from(jwk.k, 'base64url');
}
