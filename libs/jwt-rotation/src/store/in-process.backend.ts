import type { Cache } from 'cache-manager';
import type { RotationStore as StoreBackend } from './rotation-store';

interface Hash {
  readonly fields: Map<string, string>;
  expiresAt: number;
}

/**
 * One process: values live in the app's in-memory cache; hashes in a map of this backend's own,
 * where no cache-wide default TTL can expire the key ring. Nothing to publish, nothing to miss.
 */
export class InProcessBackend implements StoreBackend {
  readonly shared = false;
  private readonly hashes = new Map<string, Hash>();

  constructor(private readonly cache: Cache) {}

  async get<T>(key: string): Promise<T | undefined> {
    return (await this.cache.get<T>(key)) ?? undefined;
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    await this.cache.set(key, value, ttlMs);
  }

  async delete(key: string): Promise<void> {
    await this.cache.del(key);
    this.hashes.delete(key);
  }

  async hashSetIfAbsent(key: string, field: string, value: string, ttlMs?: number): Promise<boolean> {
    const hash = this.hash(key, ttlMs);
    if (hash.fields.has(field)) return false;
    hash.fields.set(field, value);
    return true;
  }

  async hashSet(key: string, fields: Readonly<Record<string, string>>, ttlMs?: number): Promise<void> {
    const hash = this.hash(key, ttlMs);
    for (const [field, value] of Object.entries(fields)) hash.fields.set(field, value);
  }

  async hashGetAll(key: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.live(key)?.fields ?? []);
  }

  async hashDelete(key: string, fields: readonly string[]): Promise<void> {
    const hash = this.live(key);
    for (const field of fields) hash?.fields.delete(field);
  }

  // No other process reads this store's revocation index or log: one process holds the whole
  // view in memory already, so there is nothing to keep.
  async sortedAdd(): Promise<void> {}

  async sortedRangeAbove(): Promise<string[]> {
    return [];
  }

  async sortedRemoveUpTo(): Promise<void> {}

  async logAppend(): Promise<string> {
    return '0-0';
  }

  async logRead(): Promise<{ entries: []; oldestId: undefined }> {
    return { entries: [], oldestId: undefined };
  }

  async logTail(): Promise<string> {
    return '0-0';
  }

  async publish(): Promise<void> {}

  async subscribe(): Promise<() => Promise<void>> {
    return async () => undefined;
  }

  private live(key: string): Hash | undefined {
    const hash = this.hashes.get(key);
    if (hash && hash.expiresAt <= Date.now()) {
      this.hashes.delete(key);
      return undefined;
    }
    return hash;
  }

  private hash(key: string, ttlMs: number | undefined): Hash {
    let hash = this.live(key);
    if (!hash) this.hashes.set(key, (hash = { fields: new Map(), expiresAt: Infinity }));
    if (ttlMs !== undefined) hash.expiresAt = Date.now() + ttlMs;
    return hash;
  }
}
