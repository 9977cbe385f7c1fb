import { createKeyv } from '@keyv/redis';
import { type Cache, createCache } from 'cache-manager';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { CacheRotationStore } from './cache-rotation-store';

const stores: Record<string, () => Cache> = {
  memory: () => createCache(),
  redis: () => createCache({ stores: [createKeyv(inject('redisUrl'))] }),
};

describe.each(Object.keys(stores))('CacheRotationStore on %s', (kind) => {
  const cache = stores[kind]();
  const store = new CacheRotationStore(cache);
  const key = (name: string) => `spec-${randomBytes(4).toString('hex')}:${name}`;
  afterAll(() => cache.disconnect());

  it('knows whether it is shared between processes', () => {
    expect(store.shared).toBe(kind !== 'memory');
  });

  it('sets, reads and deletes values, and lets them expire', async () => {
    const k = key('value');
    await store.set(k, { a: 1 }, 60_000);
    expect(await store.get(k)).toEqual({ a: 1 });
    await store.delete(k);
    expect(await store.get(k)).toBeUndefined();
    await store.set(k, { a: 2 }, 50);
    await new Promise((r) => setTimeout(r, 120));
    expect(await store.get(k)).toBeUndefined();
  });

  it('lets exactly one of many concurrent create-if-absent calls win', async () => {
    const k = key('hash');
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => store.hashSetIfAbsent(k, 'g:0', `writer-${i}`)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect(await store.hashGetAll(k)).toEqual({ 'g:0': `writer-${winner}` });
    await store.hashSet(k, { 'act:0': '5', 'ret:0': '6' });
    await store.hashDelete(k, ['ret:0']);
    expect(await store.hashGetAll(k)).toEqual({ 'g:0': `writer-${winner}`, 'act:0': '5' });
  });
});

describe('CacheRotationStore deadlines', () => {
  it('answers StoreUnavailableError in bounded time when the store hangs', async () => {
    const hanging = { get: () => new Promise(() => undefined), stores: [] } as unknown as Cache;
    const store = new CacheRotationStore(hanging, 100);
    const started = Date.now();
    await expect(store.get('x')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
