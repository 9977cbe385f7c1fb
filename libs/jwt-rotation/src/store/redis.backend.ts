import { createHash } from 'node:crypto';
import type { RotationStore as StoreBackend } from './rotation-store';

/** The part of node-redis (the client under `@keyv/redis`) the library uses. */
export interface RedisClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options: { PX: number }): Promise<unknown>;
  del(keys: string | string[]): Promise<number>;
  hGetAll(key: string): Promise<Record<string, string>>;
  hDel(key: string, fields: string[]): Promise<number>;
  multi(): RedisMulti;
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]>;
  publish(channel: string, message: string): Promise<number>;
  duplicate(): RedisSubscriber;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

interface RedisMulti {
  hSetNX(key: string, field: string, value: string): RedisMulti;
  hSet(key: string, fields: Record<string, string>): RedisMulti;
  pExpire(key: string, ms: number): RedisMulti;
  exec(): Promise<unknown[]>;
}

interface RedisSubscriber {
  on(event: 'ready' | 'error', listener: (error?: unknown) => void): unknown;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  destroy(): void;
}

/** The `@keyv/redis` adapter, as far as the library needs it: its client. */
export interface KeyvRedisAdapter {
  getClient(): Promise<RedisClient>;
}

/**
 * Compare-and-set of a string key in one step: SET PX only while GET still returns the expected
 * raw value (ARGV[1] = '1'), or while the key is absent (ARGV[1] = '0').
 */
const SET_IF_VERSION = `local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return 1`;
const SET_IF_VERSION_SHA = createHash('sha1').update(SET_IF_VERSION).digest('hex');

export function isKeyvRedis(store: unknown): store is KeyvRedisAdapter {
  return typeof store === 'object' && store !== null && typeof (store as KeyvRedisAdapter).getClient === 'function' && 'client' in store;
}

/**
 * Redis: everything the library stores goes through the node-redis client of the app's
 * `@keyv/redis` store, on keys of the library's own prefix. Going around cache-manager is
 * deliberate: its `get` turns every Redis error into "absent" (a logout would look done, a
 * session would look ended), it has no create-if-absent, no hash, no TTL on a hash and no
 * pub/sub, and Keyv namespaces would put the keys where SCAN cannot find them.
 */
export class RedisBackend implements StoreBackend {
  readonly shared = true;

  constructor(private readonly adapter: KeyvRedisAdapter) {}

  private client(): Promise<RedisClient> {
    return this.adapter.getClient();
  }

  async get<T>(key: string): Promise<T | undefined> {
    const raw = await (await this.client()).get(key);
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    await (await this.client()).set(key, JSON.stringify(value), { PX: Math.max(1, Math.ceil(ttlMs)) });
  }

  async delete(key: string): Promise<void> {
    await (await this.client()).del(key);
  }

  /** The version is the raw stored string: any write changes it (a rewrite of equal JSON needs no detecting). */
  async getVersioned<T>(key: string): Promise<{ value: T; version: string } | undefined> {
    const raw = await (await this.client()).get(key);
    return raw === null ? undefined : { value: JSON.parse(raw) as T, version: raw };
  }

  async setIfVersion(key: string, version: string | undefined, value: unknown, ttlMs: number): Promise<boolean> {
    const client = await this.client();
    const options = {
      keys: [key],
      arguments: [version === undefined ? '0' : '1', version ?? '', JSON.stringify(value), String(Math.max(1, Math.ceil(ttlMs)))],
    };
    // EVALSHA sends 40 bytes instead of the script; Redis forgets scripts on restart (NOSCRIPT).
    const written = await client.evalSha(SET_IF_VERSION_SHA, options).catch((error: unknown) => {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return client.eval(SET_IF_VERSION, options);
      throw error;
    });
    return written === 1;
  }

  async hashSetIfAbsent(key: string, field: string, value: string, ttlMs?: number): Promise<boolean> {
    const multi = (await this.client()).multi().hSetNX(key, field, value);
    if (ttlMs !== undefined) multi.pExpire(key, Math.max(1, Math.ceil(ttlMs)));
    const [set] = await multi.exec();
    return Boolean(set);
  }

  async hashSet(key: string, fields: Readonly<Record<string, string>>, ttlMs?: number): Promise<void> {
    const multi = (await this.client()).multi().hSet(key, { ...fields });
    if (ttlMs !== undefined) multi.pExpire(key, Math.max(1, Math.ceil(ttlMs)));
    await multi.exec();
  }

  async hashGetAll(key: string): Promise<Record<string, string>> {
    return { ...(await (await this.client()).hGetAll(key)) };
  }

  async hashDelete(key: string, fields: readonly string[]): Promise<void> {
    if (fields.length > 0) await (await this.client()).hDel(key, [...fields]);
  }

  async scanKeys(prefix: string): Promise<string[]> {
    const client = await this.client();
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, COUNT: 1000 })) keys.push(...batch);
    return keys;
  }

  async publish(channel: string, message: string): Promise<void> {
    await (await this.client()).publish(channel, message);
  }

  /** A subscribed connection cannot run other commands, so it gets a duplicate of the client. */
  async subscribe(channel: string, onMessage: (message: string) => void, onReconnect: () => void): Promise<() => Promise<void>> {
    const subscriber = (await this.client()).duplicate();
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
