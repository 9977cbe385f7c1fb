import { createKeyv } from '@keyv/redis';
import { createClient } from '@redis/client';
import { createCache } from 'cache-manager';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { AuthenticatedStore } from './authenticated-store';
import { CacheRotationStore } from './cache-rotation-store';

const SECRET = randomBytes(32).toString('base64url');

describe('AuthenticatedStore on Redis', () => {
  const cache = createCache({ stores: [createKeyv(inject('redisUrl'))] });
  const inner = new CacheRotationStore(cache);
  const store = new AuthenticatedStore(inner, SECRET);
  const raw = createClient({ url: inject('redisUrl') });
  const key = (name: string) => `spec-auth-${randomBytes(4).toString('hex')}:${name}`;
  afterAll(async () => {
    await cache.disconnect();
    if (raw.isOpen) await raw.quit();
  });

  it('reads back what it wrote, and nothing written without the secret', async () => {
    const k = key('value');
    await store.set(k, { roles: ['user'] }, 60_000);
    expect(await store.get(k)).toEqual({ roles: ['user'] });
    await inner.set(k, { roles: ['admin'] }, 60_000);
    expect(await store.get(k)).toBeUndefined();
    expect(await new AuthenticatedStore(inner, randomBytes(32).toString('base64url')).get(k)).toBeUndefined();
  });

  it('binds a value to its key and to its expiry', async () => {
    const [a, b] = [key('a'), key('b')];
    await store.set(a, { n: 1 }, 60_000);
    await inner.set(b, await inner.get(a), 60_000);
    expect(await store.get(b)).toBeUndefined();

    const c = key('c');
    await store.set(c, { n: 2 }, 100);
    const sealed = await inner.get<Record<string, unknown>>(c);
    // The store's own TTL extended by the writer: the sealed expiry still ends it.
    await inner.set(c, sealed, 60_000);
    await new Promise((r) => setTimeout(r, 150));
    expect(await store.get(c)).toBeUndefined();
  });

  it('binds a hash field to its hash and its field name', async () => {
    const [h, other] = [key('ring'), key('other')];
    await store.hashSet(h, { 'g:0': '{"alg":"HS256"}', 'ret:0': '5' });
    await store.hashSetIfAbsent(h, 'g:1', '{"alg":"HS256"}');
    expect(await store.hashGetAll(h)).toEqual({ 'g:0': '{"alg":"HS256"}', 'ret:0': '5', 'g:1': '{"alg":"HS256"}' });
    const sealed = await inner.hashGetAll(h);
    await inner.hashSet(h, { 'ret:1': sealed['ret:0'], 'g:2': sealed['g:0'].replace('HS256', 'HS512'), x: 'plain' });
    await inner.hashSet(other, { 'g:0': sealed['g:0'] });
    expect(Object.keys(await store.hashGetAll(h)).sort()).toEqual(['g:0', 'g:1', 'ret:0']);
    expect(await store.hashGetAll(other)).toEqual({});
  });

  it('delivers events published with the secret and drops the others', async () => {
    await raw.connect();
    const channel = key('events');
    const received: string[] = [];
    const unsubscribe = await store.subscribe(
      channel,
      (m) => received.push(m),
      () => undefined,
    );
    try {
      await raw.publish(channel, '{"t":"sub","id":"alice","cutoff":9999999999,"exp":9999999999999}');
      await raw.publish(channel, `${'A'.repeat(43)}{"t":"ring"}`);
      await store.publish(channel, '{"t":"ring"}');
      await expect.poll(() => received, { timeout: 2000 }).toEqual(['{"t":"ring"}']);
      // On another channel the same sealed message does not pass.
      const sealed: string[] = [];
      const spy = await inner.subscribe(
        channel,
        (m) => sealed.push(m),
        () => undefined,
      );
      await store.publish(channel, '{"t":"ring"}');
      await expect.poll(() => sealed.length, { timeout: 2000 }).toBe(1);
      await spy();
      const elsewhere = key('elsewhere');
      const wrong: string[] = [];
      const stop = await store.subscribe(
        elsewhere,
        (m) => wrong.push(m),
        () => undefined,
      );
      await raw.publish(elsewhere, sealed[0]);
      await new Promise((r) => setTimeout(r, 200));
      await stop();
      expect(wrong).toEqual([]);
    } finally {
      await unsubscribe();
    }
  });
});
