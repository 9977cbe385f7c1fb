import type { Cache } from 'cache-manager';
import type { RotationStore as StoreBackend } from './rotation-store';

/** A value written through {@link InProcessBackend.setIfVersion}, kept as JSON like Redis keeps it. */
interface Versioned {
  readonly raw: string;
  readonly version: string;
  readonly expiresAt: number;
}

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
  /** Compare-and-set needs a check and a write with no await between them: a map of its own, not the async cache. */
  private readonly versioned = new Map<string, Versioned>();
  private writes = 0;
  private sweepAt = 1024;

  constructor(private readonly cache: Cache) {}

  async get<T>(key: string): Promise<T | undefined> {
    if (this.versioned.has(key)) return (await this.getVersioned<T>(key))?.value;
    return (await this.cache.get<T>(key)) ?? undefined;
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    await this.cache.set(key, value, ttlMs);
  }

  async delete(key: string): Promise<void> {
    await this.cache.del(key);
    this.hashes.delete(key);
    this.versioned.delete(key);
  }

  async getVersioned<T>(key: string): Promise<{ value: T; version: string } | undefined> {
    const entry = this.liveVersioned(key);
    return entry && { value: JSON.parse(entry.raw) as T, version: entry.version };
  }

  async setIfVersion(key: string, version: string | undefined, value: unknown, ttlMs: number): Promise<boolean> {
    if (this.liveVersioned(key)?.version !== version) return false;
    this.versioned.set(key, { raw: JSON.stringify(value), version: String(++this.writes), expiresAt: Date.now() + ttlMs });
    if (this.versioned.size >= this.sweepAt) this.sweepVersioned();
    return true;
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

  async scanKeys(): Promise<undefined> {
    return undefined;
  }

  async publish(): Promise<void> {}

  async subscribe(): Promise<() => Promise<void>> {
    return async () => undefined;
  }

  private liveVersioned(key: string): Versioned | undefined {
    const entry = this.versioned.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.versioned.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Expired entries go once the map has doubled since the last sweep: amortised O(1) per write. */
  private sweepVersioned(): void {
    const now = Date.now();
    for (const [key, entry] of this.versioned) if (entry.expiresAt <= now) this.versioned.delete(key);
    this.sweepAt = Math.max(1024, 2 * this.versioned.size);
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
