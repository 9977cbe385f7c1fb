import { createCache } from 'cache-manager';
import { describe, expect, it } from 'vitest';
import { CacheRotationStore } from './cache-rotation-store';
import { InProcessBackend } from './in-process.backend';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Polls `condition` until it holds or `timeoutMs` passes (an outcome check, not a speed check). */
async function eventually(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return condition();
}

function open(sweepIntervalMs?: number) {
  const backend = new InProcessBackend(sweepIntervalMs);
  return { backend, values: backend['values'], hashes: backend['hashes'], close: () => backend.close() };
}

describe('InProcessBackend', () => {
  it('evicts 5,000 expired values and 5,000 expired hashes that nobody reads again, and keeps the live ones', async () => {
    // Through the store the module makes from the app's in-memory cache, with the default sweep.
    const cache = createCache();
    const store = new CacheRotationStore(cache);
    const backend = store['backend'] as InProcessBackend;
    // Everything the memory holds: the Keyv Map under the app's cache, and the backend's own maps.
    const held = () =>
      (cache.stores[0].store as Map<string, unknown>).size + (backend['values']?.size ?? 0) + (backend['hashes']?.size ?? 0);
    try {
      await Promise.all(range(5000).map((i) => store.set(`session:${i}`, { i }, 300)));
      await Promise.all(range(5000).map((i) => store.hashSet(`sessions:${i}`, { [`s${i}`]: '1' }, 300)));
      await store.set('kept', { live: true }, 60_000);
      await store.hashSet('ring', { 'g:0': 'x' });
      expect(held()).toBe(10_002);

      expect(await eventually(() => held() === 2, 8_000), `${held()} entries held`).toBe(true);
      expect(await store.get('kept')).toEqual({ live: true });
      expect(await store.hashGetAll('ring')).toEqual({ 'g:0': 'x' });
    } finally {
      await backend.close?.();
      await cache.disconnect();
    }
  }, 20_000);

  it('looks at no more than its budget of entries per sweep, and resumes where it stopped', async () => {
    const { backend, values, hashes, close } = open(60_000);
    try {
      await Promise.all(range(250).map((i) => backend.set(`v:${i}`, i, 1)));
      await Promise.all(range(250).map((i) => backend.hashSet(`h:${i}`, { f: 'x' }, 1)));
      await new Promise((r) => setTimeout(r, 20));
      backend.sweep(Date.now(), 100);
      expect([values.size, hashes.size]).toEqual([150, 150]);
      backend.sweep(Date.now(), 100);
      backend.sweep(Date.now(), 100);
      expect([values.size, hashes.size]).toEqual([0, 0]);
    } finally {
      await close();
    }
  });

  it('hands out copies: a caller changing what it read changes nothing stored', async () => {
    const { backend, close } = open();
    try {
      await backend.set('k', { roles: ['user'] }, 60_000);
      (await backend.get<{ roles: string[] }>('k'))!.roles.push('admin');
      expect(await backend.get('k')).toEqual({ roles: ['user'] });
    } finally {
      await close();
    }
  });
});
