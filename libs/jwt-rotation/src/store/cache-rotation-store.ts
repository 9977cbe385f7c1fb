import type { OnApplicationShutdown } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { ConfigurationError, StoreUnavailableError } from '../errors';
import { InProcessBackend } from './in-process.backend';
import { isKeyvRedis, RedisBackend } from './redis.backend';
import type { LogEntry, RotationStore } from './rotation-store';

/** A backend, and what it opened that shutdown must close. */
type Backend = RotationStore & { close(): Promise<void> };

/** Picks the backend from the app's cache: its `@keyv/redis` store, or the in-memory one. */
function backendFor(cache: Cache): Backend {
  const stores: unknown[] = (cache.stores ?? []).map((keyv) => keyv.store);
  const redis = stores.find(isKeyvRedis);
  if (redis) return new RedisBackend(redis);
  if (stores.length <= 1 && stores.every((store) => store instanceof Map)) return new InProcessBackend();
  // Another shared store (memcached, a SQL Keyv store, ...) would silently lose create-if-absent,
  // pub/sub and resync: refuse it rather than run unsafely on several instances.
  throw new ConfigurationError([
    'JwtRotationModule supports the in-memory cache store or Redis through @keyv/redis: ' +
      'register CacheModule with no stores, or with stores: [createKeyv(redisUrl, { throwOnErrors: true })]',
  ]);
}

/** The default {@link RotationStore}: the app's cache store, with a deadline on every operation. */
export class CacheRotationStore implements RotationStore, OnApplicationShutdown {
  readonly shared: boolean;
  /** In memory or on Redis; this class adds a deadline and one error type to every operation. */
  private readonly backend: Backend;

  constructor(
    cache: Cache,
    private readonly timeoutMs = 2000,
  ) {
    this.backend = backendFor(cache);
    this.shared = this.backend.shared;
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.bounded('get', () => this.backend.get<T>(key));
  }

  set(key: string, value: unknown, ttlMs: number): Promise<void> {
    return this.bounded('set', () => this.backend.set(key, value, Math.max(1, Math.ceil(ttlMs))));
  }

  delete(key: string): Promise<void> {
    return this.bounded('delete', () => this.backend.delete(key));
  }

  getVersioned<T>(key: string): Promise<{ value: T; version: string } | undefined> {
    return this.bounded('getVersioned', () => this.backend.getVersioned<T>(key));
  }

  setIfVersion(key: string, version: string | undefined, value: unknown, ttlMs: number): Promise<boolean> {
    return this.bounded('setIfVersion', () => this.backend.setIfVersion(key, version, value, Math.max(1, Math.ceil(ttlMs))));
  }

  hashSetIfAbsent(key: string, field: string, value: string, ttlMs?: number): Promise<boolean> {
    return this.bounded('hashSetIfAbsent', () => this.backend.hashSetIfAbsent(key, field, value, ttlMs));
  }

  hashSet(key: string, fields: Readonly<Record<string, string>>, ttlMs?: number): Promise<void> {
    return this.bounded('hashSet', () => this.backend.hashSet(key, fields, ttlMs));
  }

  hashGetAll(key: string): Promise<Record<string, string>> {
    return this.bounded('hashGetAll', () => this.backend.hashGetAll(key));
  }

  hashDelete(key: string, fields: readonly string[]): Promise<void> {
    return this.bounded('hashDelete', () => this.backend.hashDelete(key, fields));
  }

  sortedAdd(key: string, member: string, score: number, ttlMs?: number): Promise<void> {
    return this.bounded('sortedAdd', () => this.backend.sortedAdd(key, member, score, ttlMs));
  }

  sortedRangeAbove(key: string, minScore: number): Promise<string[]> {
    return this.bounded('sortedRangeAbove', () => this.backend.sortedRangeAbove(key, minScore), 5 * this.timeoutMs);
  }

  sortedRemoveUpTo(key: string, maxScore: number): Promise<void> {
    return this.bounded('sortedRemoveUpTo', () => this.backend.sortedRemoveUpTo(key, maxScore));
  }

  logAppend(key: string, message: string, maxLength: number): Promise<string> {
    return this.bounded('logAppend', () => this.backend.logAppend(key, message, maxLength));
  }

  logRead(key: string, afterId: string, count: number): Promise<{ entries: LogEntry[]; oldestId: string | undefined }> {
    return this.bounded('logRead', () => this.backend.logRead(key, afterId, count), 5 * this.timeoutMs);
  }

  logTail(key: string): Promise<string> {
    return this.bounded('logTail', () => this.backend.logTail(key));
  }

  publish(channel: string, message: string): Promise<void> {
    return this.bounded('publish', () => this.backend.publish(channel, message));
  }

  subscribe(channel: string, onMessage: (message: string) => void, onReconnect: () => void): Promise<() => Promise<void>> {
    return this.bounded('subscribe', () => this.backend.subscribe(channel, onMessage, onReconnect), 5 * this.timeoutMs);
  }

  /** Closes what the backend opened (its sweep timer, its subscriber connections) without waiting on the store. */
  async onApplicationShutdown(): Promise<void> {
    await this.backend.close();
  }

  /** A store that hangs must not hang the caller: every operation gets a deadline. */
  private bounded<T>(operation: string, fn: () => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`The key store did not answer ${operation} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      timer.unref();
    });
    const work = fn().catch((error: unknown) => {
      throw error instanceof StoreUnavailableError
        ? error
        : new StoreUnavailableError(`The key store failed on ${operation}`, { cause: error });
    });
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }
}
