import type { RotationStore as StoreBackend } from './rotation-store';

interface Hash {
  readonly fields: Map<string, string>;
  expiresAt: number;
}

interface Value {
  /** JSON text, as Redis keeps it: every read is a fresh copy that no caller can change in place. */
  readonly json: string;
  readonly expiresAt: number;
  /** Changes on every write: what a compare-and-set compares. */
  readonly version: string;
}

/** How often expired entries are swept out, and how many entries of each map one sweep looks at, at most. */
const SWEEP_INTERVAL_MS = 1000;
const SWEEP_BUDGET = 10_000;

/**
 * One process: values and hashes in maps of this backend's own, where no cache-wide default TTL
 * can expire the key ring. Nothing to publish, nothing to miss.
 *
 * An expired entry is refused when read, and evicted by a sweep on an unref'd timer that walks a
 * bounded number of entries at a time: without it every session of a user who never came back
 * would stay in memory (Keyv's Map store, which held the values before, drops an entry only when
 * it is read, and evicting through its async API raced with a write of the same key).
 * {@link close} stops the sweep, and it stops by itself once the backend is garbage.
 */
export class InProcessBackend implements StoreBackend {
  readonly shared = false;
  private readonly values = new Map<string, Value>();
  private readonly hashes = new Map<string, Hash>();
  private readonly sweeps = [new ExpirySweep(this.values), new ExpirySweep(this.hashes)];
  private readonly timer: NodeJS.Timeout;
  private writes = 0;

  constructor(sweepIntervalMs = SWEEP_INTERVAL_MS) {
    const self = new WeakRef(this);
    const timer = setInterval(() => {
      const backend = self.deref();
      if (backend) backend.sweep(Date.now());
      else clearInterval(timer);
    }, sweepIntervalMs);
    this.timer = timer.unref();
  }

  /** Evicts what has expired by `now`, looking at no more than `budget` entries of each map. */
  sweep(now: number, budget = SWEEP_BUDGET): void {
    for (const sweep of this.sweeps) sweep.run(now, budget);
  }

  /** Stops the sweep (at application shutdown). */
  async close(): Promise<void> {
    clearInterval(this.timer);
  }

  async get<T>(key: string): Promise<T | undefined> {
    const value = this.live(this.values, key);
    return value === undefined ? undefined : (JSON.parse(value.json) as T);
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    this.write(key, value, ttlMs);
  }

  async getVersioned<T>(key: string): Promise<{ value: T; version: string } | undefined> {
    const entry = this.live(this.values, key);
    return entry && { value: JSON.parse(entry.json) as T, version: entry.version };
  }

  /** The check and the write run with no await between them: atomic in one process. */
  async setIfVersion(key: string, version: string | undefined, value: unknown, ttlMs: number): Promise<boolean> {
    if (this.live(this.values, key)?.version !== version) return false;
    this.write(key, value, ttlMs);
    return true;
  }

  private write(key: string, value: unknown, ttlMs: number): void {
    this.values.set(key, { json: JSON.stringify(value), expiresAt: Date.now() + ttlMs, version: String(++this.writes) });
  }

  async delete(key: string): Promise<void> {
    this.values.delete(key);
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
    return Object.fromEntries(this.live(this.hashes, key)?.fields ?? []);
  }

  async hashDelete(key: string, fields: readonly string[]): Promise<void> {
    const hash = this.live(this.hashes, key);
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

  private live<E extends { expiresAt: number }>(entries: Map<string, E>, key: string): E | undefined {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private hash(key: string, ttlMs: number | undefined): Hash {
    let hash = this.live(this.hashes, key);
    if (!hash) this.hashes.set(key, (hash = { fields: new Map(), expiresAt: Infinity }));
    if (ttlMs !== undefined) hash.expiresAt = Date.now() + ttlMs;
    return hash;
  }
}

/**
 * Walks a map a bounded number of entries per run, resuming where the last run stopped (a Map
 * iterator stays valid while entries are deleted and added), and deletes the expired ones.
 */
class ExpirySweep {
  private cursor: Iterator<[string, { expiresAt: number }]> | undefined;

  constructor(private readonly entries: Map<string, { expiresAt: number }>) {}

  run(now: number, budget: number): void {
    for (let seen = 0; seen < budget; seen++) {
      this.cursor ??= this.entries.entries();
      const next = this.cursor.next();
      if (next.done) {
        // One full pass: the next run starts over, so a small map is not walked many times a run.
        this.cursor = undefined;
        return;
      }
      const [key, entry] = next.value;
      if (entry.expiresAt <= now) this.entries.delete(key);
    }
  }
}
