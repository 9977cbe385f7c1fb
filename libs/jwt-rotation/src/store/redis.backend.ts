import { createHash } from 'node:crypto';
import type { LogEntry, RotationStore as StoreBackend } from './rotation-store';

/** The part of node-redis (the client under `@keyv/redis`) the library uses. */
export interface RedisClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options: { PX: number }): Promise<unknown>;
  del(keys: string | string[]): Promise<number>;
  hGetAll(key: string): Promise<Record<string, string>>;
  hDel(key: string, fields: string[]): Promise<number>;
  multi(): RedisMulti;
  zRangeByScore(key: string, min: string, max: string): Promise<string[]>;
  zRemRangeByScore(key: string, min: string, max: string): Promise<number>;
  xAdd(
    key: string,
    id: string,
    message: Record<string, string>,
    options: { TRIM: { strategy: 'MAXLEN'; strategyModifier: '~'; threshold: number } },
  ): Promise<string>;
  xRange(
    key: string,
    start: string,
    end: string,
    options: { COUNT: number },
  ): Promise<Array<{ id: string; message: Record<string, string> }>>;
  xRevRange(
    key: string,
    end: string,
    start: string,
    options: { COUNT: number },
  ): Promise<Array<{ id: string; message: Record<string, string> }>>;
  publish(channel: string, message: string): Promise<number>;
  duplicate(): RedisSubscriber;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

interface RedisMulti {
  zAdd(key: string, member: { score: number; value: string }): RedisMulti;
  hSetNX(key: string, field: string, value: string): RedisMulti;
  hSet(key: string, fields: Record<string, string>): RedisMulti;
  pExpire(key: string, ms: number): RedisMulti;
  exec(): Promise<unknown[]>;
}

interface RedisSubscriber {
  on(event: 'ready' | 'error', listener: (error?: unknown) => void): unknown;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
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
  /** The connections this backend opened (the app's client is the app's to close, not ours). */
  private readonly subscribers = new Set<RedisSubscriber>();

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

  async sortedAdd(key: string, member: string, score: number, ttlMs?: number): Promise<void> {
    const multi = (await this.client()).multi().zAdd(key, { score, value: member });
    if (ttlMs !== undefined) multi.pExpire(key, Math.max(1, Math.ceil(ttlMs)));
    await multi.exec();
  }

  async sortedRangeAbove(key: string, minScore: number): Promise<string[]> {
    return (await this.client()).zRangeByScore(key, `(${minScore}`, '+inf');
  }

  async sortedRemoveUpTo(key: string, maxScore: number): Promise<void> {
    await (await this.client()).zRemRangeByScore(key, '-inf', String(maxScore));
  }

  async logAppend(key: string, message: string, maxLength: number): Promise<string> {
    return (await this.client()).xAdd(
      key,
      '*',
      { m: message },
      { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: maxLength } },
    );
  }

  async logRead(key: string, afterId: string, count: number): Promise<{ entries: LogEntry[]; oldestId: string | undefined }> {
    const client = await this.client();
    const [entries, oldest] = await Promise.all([
      client.xRange(key, `(${afterId}`, '+', { COUNT: count }),
      client.xRange(key, '-', '+', { COUNT: 1 }),
    ]);
    return { entries: entries.map(({ id, message }) => ({ id, message: message.m ?? '' })), oldestId: oldest[0]?.id };
  }

  async logTail(key: string): Promise<string> {
    const [newest] = await (await this.client()).xRevRange(key, '+', '-', { COUNT: 1 });
    return newest?.id ?? '0-0';
  }

  async publish(channel: string, message: string): Promise<void> {
    await (await this.client()).publish(channel, message);
  }

  /** A subscribed connection cannot run other commands, so it gets a duplicate of the client. */
  async subscribe(channel: string, onMessage: (message: string) => void, onReconnect: () => void): Promise<() => Promise<void>> {
    const subscriber = (await this.client()).duplicate();
    this.subscribers.add(subscriber);
    let connected = false;
    // node-redis reconnects by itself and resubscribes; errors in between are expected and retried.
    subscriber.on('error', () => undefined);
    subscriber.on('ready', () => {
      if (connected) onReconnect();
      connected = true;
    });
    try {
      await subscriber.connect();
      await subscriber.subscribe(channel, onMessage);
    } catch (error) {
      this.destroy(subscriber);
      throw error;
    }
    return async () => this.destroy(subscriber);
  }

  /** Drops every connection this backend opened, at once: nothing to wait for, whatever Redis's state. */
  async close(): Promise<void> {
    for (const subscriber of this.subscribers) this.destroy(subscriber);
  }

  /**
   * Closing the connection ends its subscription on the server; an UNSUBSCRIBE first would wait
   * for Redis, forever when Redis is gone (node-redis queues it until a reconnect that never comes),
   * and shutdown with it. Commands still queued are refused, and none of them was acknowledged.
   */
  private destroy(subscriber: RedisSubscriber): void {
    if (!this.subscribers.delete(subscriber)) return;
    try {
      subscriber.destroy();
    } catch {
      // Already closed by node-redis itself.
    }
  }
}
