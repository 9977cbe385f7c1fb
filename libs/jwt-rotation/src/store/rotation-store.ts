import { Inject } from '@nestjs/common';

/**
 * Where the library keeps key records, schedules, sessions and revocations: the store of the app's
 * `CacheModule` (in memory, or Redis through `@keyv/redis`). Inject it with
 * {@link InjectRotationStore} to read what the library wrote.
 *
 * Values are JSON-serialisable. TTLs are in milliseconds. Every method rejects with
 * `StoreUnavailableError` when the backing store does not answer in time.
 */
export interface RotationStore {
  /** True when several processes may share this store (anything but the in-process memory store). */
  readonly shared: boolean;
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * The value at `key` with its version: an opaque token that changes on every write of the key.
   * Pass the version to {@link setIfVersion} to write only if nobody wrote in between.
   */
  getVersioned<T>(key: string): Promise<{ value: T; version: string } | undefined>;
  /**
   * Atomically sets `key` only while its version is still `version` (`undefined`: only while the
   * key is absent); true when this call wrote. A write that times out here but runs later leaves
   * a state the next {@link getVersioned} reads whole.
   */
  setIfVersion(key: string, version: string | undefined, value: unknown, ttlMs: number): Promise<boolean>;
  /**
   * Atomically sets `field` of the hash at `key` unless it exists; true when this call set it.
   * With `ttlMs`, the whole hash expires that long after this write.
   */
  hashSetIfAbsent(key: string, field: string, value: string, ttlMs?: number): Promise<boolean>;
  hashSet(key: string, fields: Readonly<Record<string, string>>, ttlMs?: number): Promise<void>;
  hashGetAll(key: string): Promise<Record<string, string>>;
  hashDelete(key: string, fields: readonly string[]): Promise<void>;
  /**
   * Adds `member` to the sorted set at `key` with `score` (a set of records each with its expiry as
   * score). With `ttlMs`, the whole set expires that long after this write.
   */
  sortedAdd(key: string, member: string, score: number, ttlMs?: number): Promise<void>;
  /** Members whose score is above `minScore` (the records not yet expired), lowest score first. */
  sortedRangeAbove(key: string, minScore: number): Promise<string[]>;
  /** Removes members whose score is at most `maxScore` (expired records). */
  sortedRemoveUpTo(key: string, maxScore: number): Promise<void>;
  /** Appends to a capped log (about `maxLength` entries are kept) and returns the entry's id. */
  logAppend(key: string, message: string, maxLength: number): Promise<string>;
  /**
   * Up to `count` entries after `afterId` (exclusive), oldest first, and the id of the oldest entry
   * still in the log, so a reader can tell whether entries it has not seen were trimmed.
   */
  logRead(key: string, afterId: string, count: number): Promise<{ entries: LogEntry[]; oldestId: string | undefined }>;
  /** The id of the newest entry, or `'0-0'` for an empty log: where a new reader starts. */
  logTail(key: string): Promise<string>;
  /** Tells every other process sharing the store (no-op for a store no other process shares). */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Listens for {@link publish}ed messages; `onReconnect` runs each time the connection comes back
   * after a loss, so the caller can resynchronise what it missed. Resolves to an unsubscribe function.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onReconnect: () => void): Promise<() => Promise<void>>;
}

/** One entry of a capped log; ids are Redis Stream ids (`<ms>-<seq>`), ordered. */
export interface LogEntry {
  readonly id: string;
  readonly message: string;
}

/** Orders two log ids (`<ms>-<seq>`). */
export function compareLogIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am === bm ? (as ?? 0) - (bs ?? 0) : am - bm;
}

/** Injection token of the {@link RotationStore}. */
export const ROTATION_STORE = Symbol('JWT_ROTATION_STORE');

/** Injects the {@link RotationStore} the module uses. */
export const InjectRotationStore = (): ParameterDecorator => Inject(ROTATION_STORE);
