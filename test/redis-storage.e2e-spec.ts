import { Test } from '@nestjs/testing';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AppConfig } from '../src/app.config';
import { AppModule } from '../src/app.module';
import { configureApp } from '../src/app.setup';
import { type ExampleApp, startExampleApp } from './support/example-app';
import { allPropertyNames, bearer, headerOf, KEY_MATERIAL_FIELDS } from './support/http';
import { openField, openValue } from './support/sealed';

type RedisClient = ReturnType<typeof createClient>;

interface KeyListEntry {
  kid: string;
  status: string;
}

const DAY = 86_400_000;
/** Defaults of the example app: 15 d rotation, 30 d refresh tokens, 30 s tolerance. */
const INTERVAL = 15 * DAY;
const LONGEST_TOKEN = 30 * DAY;
const TOLERANCE = 30_000;

/** The stored record of a key: the library's own sealed value (see support/sealed.ts), never Keyv's envelope. */
function unwrap(raw: string): Record<string, unknown> {
  return openValue(raw) as Record<string, unknown>;
}

describe('what the library writes to Redis', () => {
  let redis: RedisClient;
  let example: ExampleApp;
  const others: ExampleApp[] = [];

  beforeAll(async () => {
    redis = createClient({ url: inject('redisUrl') });
    await redis.connect();
    example = await startExampleApp('redis');
  });
  afterAll(async () => {
    await Promise.all([example?.close(), ...others.map((app) => app.close())]);
    await redis?.quit();
  });

  const prefix = () => example.config.keyPrefix!;
  const ring = async () => ({ ...(await redis.hGetAll(`${prefix()}:ring`)) }) as Record<string, string>;
  const keysOf = async (app: ExampleApp, token: string) =>
    (await app.http().get('/admin/keys').set('Authorization', bearer(token)).expect(200)).body as KeyListEntry[];

  it('keeps the schedule in the <prefix>:ring hash as g:<n> fields of metadata only', async () => {
    expect(await redis.type(`${prefix()}:ring`)).toBe('hash');
    const hash = await ring();
    expect(Object.keys(hash).sort()).toEqual(['g:0', 'g:1', 'g:2']); // the current key and two published ahead
    const { access_token } = await example.login('alice');
    const listed = (await keysOf(example, access_token)).map((k) => k.kid).sort();
    const generations = Object.values(hash).map((value) => JSON.parse(openField(value)) as Record<string, unknown>);
    expect(generations.map((g) => g.kid).sort()).toEqual(listed);
    for (const generation of generations) {
      expect(Object.keys(generation).sort()).toEqual(['activatesAt', 'alg', 'createdAt', 'kid', 'retiresAt']);
    }
  });

  it('stores every key under <prefix>:key:<kid> with a TTL and its material encrypted', async () => {
    const generations = Object.values(await ring()).map(
      (value) => JSON.parse(openField(value)) as { kid: string; createdAt: number; retiresAt: number },
    );
    expect(generations).toHaveLength(3); // current and two ahead
    const stored = [];
    for await (const batch of redis.scanIterator({ MATCH: `${prefix()}:key:*` })) stored.push(...(Array.isArray(batch) ? batch : [batch]));
    expect(stored.sort()).toEqual(generations.map((g) => `${prefix()}:key:${g.kid}`).sort());

    for (const { kid, createdAt, retiresAt } of generations) {
      const name = `${prefix()}:key:${kid}`;
      const pttl = await redis.pTTL(name);
      expect(pttl).toBeGreaterThan(0);
      // Kept until retirement + the longest token lifetime + tolerance, plus one interval of slack.
      expect(pttl).toBeLessThanOrEqual(retiresAt + LONGEST_TOKEN + TOLERANCE + INTERVAL - createdAt);
      expect(pttl).toBeGreaterThan(retiresAt + LONGEST_TOKEN + TOLERANCE - createdAt);

      const raw = (await redis.get(name))!;
      expect(raw).toBeTypeOf('string');
      const record = unwrap(raw);
      expect(record).toMatchObject({ kid, alg: 'HS256' });
      const names = allPropertyNames(record);
      for (const field of ['k', 'kty', 'd', 'secret']) expect(names.has(field)).toBe(false);
      expect(raw).not.toMatch(/"k"\s*:|"kty"/);
      const material = record.material as Record<string, unknown>;
      expect(Object.keys(material).sort()).toEqual(['data', 'iv', 'tag', 'v']);
      expect(Buffer.from(material.iv as string, 'base64url')).toHaveLength(12);
      expect(Buffer.from(material.tag as string, 'base64url')).toHaveLength(16);
      // A 64-byte secret as a JWK is over 100 bytes of JSON; what is stored is not that JSON.
      const data = Buffer.from(material.data as string, 'base64url');
      expect(data.length).toBeGreaterThan(64);
      expect(() => JSON.parse(data.toString('utf8'))).toThrow();
    }
  });

  it('records a rotation and a revocation in the ring hash, and the new key gets a TTL too', async () => {
    const before = (await example.login('alice')).access_token;
    const oldKid = headerOf(before).kid!;
    const { kid: newKid } = (await example.http().post('/admin/keys/rotate').set('Authorization', bearer(before)).expect(200)).body as {
      kid: string;
    };

    const rotated = await ring();
    expect(
      Object.keys(rotated)
        .filter((f) => f.startsWith('g:'))
        .sort(),
    ).toEqual(['g:0', 'g:1', 'g:2', 'g:3']);
    expect(rotated).toHaveProperty('ret:0');
    expect(rotated).toHaveProperty('act:1');
    expect(rotated).toHaveProperty('act:2'); // the second key ahead moves up with the first
    expect(rotated).toHaveProperty('ret:1');
    const g2 = JSON.parse(openField(rotated['g:2'])) as { kid: string };
    expect(await redis.pTTL(`${prefix()}:key:${g2.kid}`)).toBeGreaterThan(0);

    const after = (await example.login('alice')).access_token;
    expect(headerOf(after).kid).toBe(newKid);
    await example
      .http()
      .delete(`/admin/keys/${encodeURIComponent(oldKid)}`)
      .set('Authorization', bearer(after))
      .expect(204);
    const revoked = await ring();
    expect(Number(openField(revoked[`rev:${oldKid}`]))).toBeGreaterThan(0);
    const names = allPropertyNames(Object.values(revoked).map((v) => (openField(v).startsWith('{') ? JSON.parse(openField(v)) : v)));
    for (const field of KEY_MATERIAL_FIELDS) expect(names.has(field)).toBe(false);
  });

  it('lets a second instance on the same prefix and secret verify tokens and follow a rotation', async () => {
    const second = await startExampleApp('redis', { keyPrefix: prefix() });
    others.push(second);
    const fromFirst = (await example.login('alice')).access_token;
    expect((await second.http().get('/me').set('Authorization', bearer(fromFirst)).expect(200)).body.sub).toBe('alice');

    // The first instance rotates twice: the second promotes a key that the second instance has
    // never loaded (it was published after the second started), so it meets an unknown kid.
    await example.http().post('/admin/keys/rotate').set('Authorization', bearer(fromFirst)).expect(200);
    const { kid } = (await example.http().post('/admin/keys/rotate').set('Authorization', bearer(fromFirst)).expect(200)).body as {
      kid: string;
    };
    const signedAfter = (await example.login('alice')).access_token;
    expect(headerOf(signedAfter).kid).toBe(kid);
    await second.http().get('/me').set('Authorization', bearer(signedAfter)).expect(200);
    // The reload that brought that key in also moved the second instance's signer onto it.
    expect(headerOf((await second.login('alice')).access_token).kid).toBe(kid);
  });

  it('lets no instance with another keyEncryptionSecret start on the same prefix', async () => {
    const config: AppConfig = {
      ...example.config,
      keyEncryptionSecret: 'another-key-encryption-secret-of-32+chars',
    };
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
    moduleRef.useLogger(false);
    const app = configureApp(moduleRef.createNestApplication({ logger: false }));
    try {
      await expect(app.init()).rejects.toMatchObject({ code: 'ERR_KEY_DECRYPTION_FAILED' });
    } finally {
      await app.close().catch(() => undefined);
    }
    // The ring written with the right secret is untouched and still works.
    const { access_token } = await example.login('alice');
    await example.http().get('/me').set('Authorization', bearer(access_token)).expect(200);
  });
});

describe('several instances sharing one Redis', () => {
  const apps: ExampleApp[] = [];
  afterAll(() => Promise.all(apps.map((app) => app.close())));

  it('spreads a revocation made on one instance to the others within a reconcile tick', async () => {
    // A 2 s interval makes the reconcile tick 250 ms.
    const fast = { rotationInterval: '2s', accessTokenTtl: '3s', refreshTokenTtl: '3s', clockTolerance: '0s' };
    const first = await startExampleApp('redis', fast);
    apps.push(first);
    const second = await startExampleApp('redis', { ...fast, keyPrefix: first.config.keyPrefix });
    apps.push(second);

    const token = (await second.login('alice')).access_token;
    const kid = headerOf(token).kid!;
    const adminToken = (await first.login('alice')).access_token;
    await first
      .http()
      .delete(`/admin/keys/${encodeURIComponent(kid)}`)
      .set('Authorization', bearer(adminToken))
      .expect(204);
    await first.http().get('/me').set('Authorization', bearer(token)).expect(401);

    const deadline = Date.now() + 1500;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await second.http().get('/me').set('Authorization', bearer(token))).status;
      if (status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(401);
    const fresh = (await second.login('alice')).access_token;
    expect(headerOf(fresh).kid).not.toBe(kid);
    await first.http().get('/me').set('Authorization', bearer(fresh)).expect(200);
  });
});
