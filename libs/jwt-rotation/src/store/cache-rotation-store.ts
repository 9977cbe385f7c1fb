import { Logger } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { StoreUnavailableError } from '../errors';
import type { RotationStore } from './rotation-store';

/** The part of node-redis (under `@keyv/redis`) used for the operations the cache API has no atomic form of. */
export interface RedisHashClient {
  hSetNX(key: string, field: string, value: string): Promise<number | boolean>;
  hSet(key: string, fields: Record<string, string>): Promise<number>;
  hGetAll(key: string): Promise<Record<string, string>>;
  hDel(key: string, fields: string[]): Promise<number>;
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]>;
  publish(channel: string, message: string): Promise<number>;
  duplicate(): RedisSubscriberClient;
}

interface RedisSubscriberClient {
  on(event: 'ready' | 'error', listener: (error?: unknown) => void): unknown;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  destroy(): void;
}

interface KeyvRedisLike {
  getClient(): Promise<RedisHashClient>;
  readonly throwOnErrors: boolean;
  readonly namespace: string | undefined;
  createKeyPrefix(key: string, namespace?: string): string;
  getKeyWithoutPrefix(key: string, namespace?: string): string;
}

function isKeyvRedis(store: unknown): store is KeyvRedisLike {
  return typeof store === 'object' && store !== null && typeof (store as KeyvRedisLike).getClient === 'function' && 'client' in store;
}

/** Operations the cache API has no form of (publish/subscribe too): atomic across processes (or, in memory, across concurrent calls), and key listing. */
interface NativeOps {
  setIfAbsent(key: string, field: string, value: string): Promise<boolean>;
  set(key: string, fields: Readonly<Record<string, string>>): Promise<void>;
  getAll(key: string): Promise<Record<string, string>>;
  delete(key: string, fields: readonly string[]): Promise<void>;
  scan(prefix: string): Promise<string[] | undefined>;
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, onMessage: (message: string) => void, onReconnect: () => void): Promise<() => Promise<void>>;
}

/** In one process a promise chain is enough to make read-modify-write atomic. */
class InProcessOps implements NativeOps {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly cache: Cache) {}

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async read(key: string): Promise<Record<string, string>> {
    return (await this.cache.get<Record<string, string>>(key)) ?? {};
  }

  setIfAbsent(key: string, field: string, value: string): Promise<boolean> {
    return this.exclusive(async () => {
      const hash = await this.read(key);
      if (Object.hasOwn(hash, field)) return false;
      await this.cache.set(key, { ...hash, [field]: value });
      return true;
    });
  }

  set(key: string, fields: Readonly<Record<string, string>>): Promise<void> {
    return this.exclusive(async () => {
      await this.cache.set(key, { ...(await this.read(key)), ...fields });
    });
  }

  getAll(key: string): Promise<Record<string, string>> {
    return this.exclusive(() => this.read(key));
  }

  delete(key: string, fields: readonly string[]): Promise<void> {
    return this.exclusive(async () => {
      const hash = { ...(await this.read(key)) };
      for (const field of fields) delete hash[field];
      await this.cache.set(key, hash);
    });
  }

  async scan(): Promise<undefined> {
    return undefined;
  }

  // One process: nobody else to tell, nothing to miss.
  async publish(): Promise<void> {}

  async subscribe(): Promise<() => Promise<void>> {
    return async () => undefined;
  }
}

/**
 * The cache API has no create-if-absent, so on Redis these go to the node-redis client under
 * `@keyv/redis` (HSETNX and friends), on keys of our own prefix that the cache never touches.
 */
class RedisOps implements NativeOps {
  constructor(private readonly adapter: KeyvRedisLike) {}

  async setIfAbsent(key: string, field: string, value: string): Promise<boolean> {
    const client = await this.adapter.getClient();
    return Boolean(await client.hSetNX(key, field, value));
  }

  async set(key: string, fields: Readonly<Record<string, string>>): Promise<void> {
    await (await this.adapter.getClient()).hSet(key, { ...fields });
  }

  async getAll(key: string): Promise<Record<string, string>> {
    return { ...(await (await this.adapter.getClient()).hGetAll(key)) };
  }

  async delete(key: string, fields: readonly string[]): Promise<void> {
    if (fields.length > 0) await (await this.adapter.getClient()).hDel(key, [...fields]);
  }

  /** Keys written through the cache carry the Keyv namespace, if any; match and strip it. */
  async scan(prefix: string): Promise<string[]> {
    const client = await this.adapter.getClient();
    const { namespace } = this.adapter;
    const match = `${this.adapter.createKeyPrefix(prefix, namespace).replace(/[*?[\]\\]/g, '\\$&')}*`;
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: match, COUNT: 1000 })) {
      for (const key of batch) keys.push(this.adapter.getKeyWithoutPrefix(key, namespace));
    }
    return keys;
  }

  async publish(channel: string, message: string): Promise<void> {
    await (await this.adapter.getClient()).publish(channel, message);
  }

  /** A subscribed connection cannot run other commands, so it gets a duplicate of the client. */
  async subscribe(channel: string, onMessage: (message: string) => void, onReconnect: () => void): Promise<() => Promise<void>> {
    const subscriber = (await this.adapter.getClient()).duplicate();
    let connected = false;
    // node-redis reconnects by itself and resubscribes; errors in between are expected and retried.
    subscriber.on('error', () => undefined);
    subscriber.on('ready', () => {
      if (connected) onReconnect();
      connected = true;
    });
    await subscriber.connect();
    await subscriber.subscribe(channel, onMessage);
    return async () => {
      await subscriber.unsubscribe(channel).catch(() => undefined);
      subscriber.destroy();
    };
  }
}

/** The default {@link RotationStore}: the app's `CACHE_MANAGER`, with Redis atomics where Redis is underneath. */
export class CacheRotationStore implements RotationStore {
  readonly shared: boolean;
  private readonly native: NativeOps;

  constructor(
    private readonly cache: Cache,
    private readonly timeoutMs = 2000,
  ) {
    const primary: unknown = cache.stores?.[0]?.store;
    this.shared = primary !== undefined && !(primary instanceof Map);
    this.native = isKeyvRedis(primary) ? new RedisOps(primary) : new InProcessOps(cache);
    if (isKeyvRedis(primary) && !primary.throwOnErrors) {
      new Logger('JwtRotation').warn(
        'The Redis cache store swallows errors: a write while Redis is down would look like a success. ' +
          'Create it with createKeyv(url, { throwOnErrors: true }) so such operations fail with a 503 instead.',
      );
    }
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.bounded('get', async () => (await this.cache.get<T>(key)) ?? undefined);
  }

  set(key: string, value: unknown, ttlMs: number): Promise<void> {
    return this.bounded('set', async () => {
      await this.cache.set(key, value, Math.max(1, Math.ceil(ttlMs)));
    });
  }

  delete(key: string): Promise<void> {
    return this.bounded('delete', async () => {
      await this.cache.del(key);
    });
  }

  hashSetIfAbsent(key: string, field: string, value: string): Promise<boolean> {
    return this.bounded('hashSetIfAbsent', () => this.native.setIfAbsent(key, field, value));
  }

  hashSet(key: string, fields: Readonly<Record<string, string>>): Promise<void> {
    return this.bounded('hashSet', () => this.native.set(key, fields));
  }

  hashGetAll(key: string): Promise<Record<string, string>> {
    return this.bounded('hashGetAll', () => this.native.getAll(key));
  }

  hashDelete(key: string, fields: readonly string[]): Promise<void> {
    return this.bounded('hashDelete', () => this.native.delete(key, fields));
  }

  publish(channel: string, message: string): Promise<void> {
    return this.bounded('publish', () => this.native.publish(channel, message));
  }

  subscribe(channel: string, onMessage: (message: string) => void, onReconnect: () => void): Promise<() => Promise<void>> {
    return this.bounded('subscribe', () => this.native.subscribe(channel, onMessage, onReconnect), 5 * this.timeoutMs);
  }

  scanKeys(prefix: string): Promise<string[] | undefined> {
    return this.bounded('scanKeys', () => this.native.scan(prefix), 10 * this.timeoutMs);
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
