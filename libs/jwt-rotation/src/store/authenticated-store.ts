import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { LogEntry, RotationStore } from './rotation-store';

/** A value as it rests in a shared store: its JSON, when it stops being trusted, and the MAC of both. */
interface SealedValue {
  /** The value's JSON, exactly as it was MACed. */
  readonly p: string;
  /** Epoch ms after which the record is refused even if the store still has it (a replay cannot extend it). */
  readonly x: number;
  readonly m: string;
}

/** The three kinds of thing the library trusts from the store; each is MACed under its own label. */
type Kind = 'value' | 'field' | 'event';

/** Base64url of a 32-byte HMAC-SHA256. */
const MAC_LENGTH = 43;
/** Refusals are logged at most this often, so a flood of forged records cannot flood the log. */
const REFUSAL_LOG_GAP_MS = 10_000;

/**
 * Authenticates everything the library reads back from a shared store (Redis): every value, every
 * hash field and every published event carries an HMAC-SHA256, under a key derived from
 * `keyEncryptionSecret`, over its kind, its store key (and field or channel) and its content; a
 * value's MAC also covers its expiry. What fails the check is treated as absent. So a writer who
 * can reach Redis but does not hold the secret can delete records, or put back one it captured
 * before until that one's own expiry, and nothing else: it cannot grant a role, move a record to
 * another key, change a key's algorithm, forge a revocation or extend a lifetime.
 *
 * Key material is also encrypted (keys/key-encryption.ts); this layer is about integrity of all
 * the rest. An in-process store needs neither: nobody else can write to this process's memory.
 */
export class AuthenticatedStore implements RotationStore, OnApplicationShutdown {
  readonly shared: boolean;
  private readonly macKey: Buffer;
  private readonly logger = new Logger('JwtRotation');
  private lastRefusalLog = 0;
  private refusedSinceLog = 0;

  constructor(
    private readonly inner: RotationStore,
    secret: string,
  ) {
    this.shared = inner.shared;
    // Its own HKDF label, so the MAC key and the key-encryption key are independent.
    this.macKey = Buffer.from(hkdfSync('sha256', secret, 'nest-jwt-rotation', 'store-authentication/v1', 32));
  }

  /** Nest calls this on the provider it holds, this wrapper: the store underneath closes what it opened. */
  async onApplicationShutdown(): Promise<void> {
    await (this.inner as Partial<OnApplicationShutdown>).onApplicationShutdown?.();
  }

  async get<T>(key: string): Promise<T | undefined> {
    return this.open<T>(key, await this.inner.get<unknown>(key));
  }

  set(key: string, value: unknown, ttlMs: number): Promise<void> {
    return this.inner.set(key, this.seal(key, value, ttlMs), ttlMs);
  }

  /** The version is the store's own (the sealed record's); a record that fails its check is absent. */
  async getVersioned<T>(key: string): Promise<{ value: T; version: string } | undefined> {
    const stored = await this.inner.getVersioned<unknown>(key);
    if (!stored) return undefined;
    const value = this.open<T>(key, stored.value);
    return value === undefined ? undefined : { value, version: stored.version };
  }

  setIfVersion(key: string, version: string | undefined, value: unknown, ttlMs: number): Promise<boolean> {
    return this.inner.setIfVersion(key, version, this.seal(key, value, ttlMs), ttlMs);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  hashSetIfAbsent(key: string, field: string, value: string, ttlMs?: number): Promise<boolean> {
    return this.inner.hashSetIfAbsent(key, field, this.sealField(key, field, value), ttlMs);
  }

  hashSet(key: string, fields: Readonly<Record<string, string>>, ttlMs?: number): Promise<void> {
    const sealed = Object.fromEntries(Object.entries(fields).map(([field, value]) => [field, this.sealField(key, field, value)]));
    return this.inner.hashSet(key, sealed, ttlMs);
  }

  /** The fields whose MAC holds; the others are left out, as if absent. */
  async hashGetAll(key: string): Promise<Record<string, string>> {
    const verified: Record<string, string> = {};
    for (const [field, raw] of Object.entries(await this.inner.hashGetAll(key))) {
      const value = this.openField(key, field, raw);
      if (value === undefined) this.refused('field');
      else verified[field] = value;
    }
    return verified;
  }

  hashDelete(key: string, fields: readonly string[]): Promise<void> {
    return this.inner.hashDelete(key, fields);
  }

  sortedAdd(key: string, member: string, score: number, ttlMs?: number): Promise<void> {
    return this.inner.sortedAdd(key, this.sealMember(key, member), score, ttlMs);
  }

  /** The members whose MAC holds. */
  async sortedRangeAbove(key: string, minScore: number): Promise<string[]> {
    const members: string[] = [];
    for (const raw of await this.inner.sortedRangeAbove(key, minScore)) {
      const member = this.openMember(key, raw);
      if (member === undefined) this.refused('field');
      else members.push(member);
    }
    return members;
  }

  sortedRemoveUpTo(key: string, maxScore: number): Promise<void> {
    return this.inner.sortedRemoveUpTo(key, maxScore);
  }

  logAppend(key: string, message: string, maxLength: number): Promise<string> {
    return this.inner.logAppend(key, `${this.mac('event', key, message)}${message}`, maxLength);
  }

  /** The entries whose MAC holds; the others are skipped (their ids still count as read). */
  async logRead(key: string, afterId: string, count: number): Promise<{ entries: LogEntry[]; oldestId: string | undefined }> {
    const { entries, oldestId } = await this.inner.logRead(key, afterId, count);
    const verified: LogEntry[] = [];
    for (const entry of entries) {
      const message = this.openEvent(key, entry.message);
      if (message === undefined) this.refused('event');
      verified.push({ id: entry.id, message: message ?? '' });
    }
    return { entries: verified, oldestId };
  }

  logTail(key: string): Promise<string> {
    return this.inner.logTail(key);
  }

  publish(channel: string, message: string): Promise<void> {
    return this.inner.publish(channel, `${this.mac('event', channel, message)}${message}`);
  }

  subscribe(channel: string, onMessage: (message: string) => void, onReconnect: () => void): Promise<() => Promise<void>> {
    return this.inner.subscribe(
      channel,
      (raw) => {
        const message = this.openEvent(channel, raw);
        if (message === undefined) this.refused('event');
        else onMessage(message);
      },
      onReconnect,
    );
  }

  private seal(key: string, value: unknown, ttlMs: number): SealedValue {
    const p = JSON.stringify(value);
    if (p === undefined) throw new TypeError('The store only keeps JSON-serialisable values');
    const x = Date.now() + Math.max(1, Math.ceil(ttlMs));
    return { p, x, m: this.mac('value', key, `${x}\0${p}`) };
  }

  private open<T>(key: string, sealed: unknown): T | undefined {
    if (sealed === undefined || sealed === null) return undefined;
    const { p, x, m } = sealed as Partial<SealedValue>;
    if (typeof p !== 'string' || typeof x !== 'number' || typeof m !== 'string' || !this.macMatches(m, 'value', key, `${x}\0${p}`)) {
      this.refused('value');
      return undefined;
    }
    if (x <= Date.now()) return undefined;
    return JSON.parse(p) as T;
  }

  private openEvent(name: string, raw: string): string | undefined {
    const message = raw.slice(MAC_LENGTH);
    return raw.length > MAC_LENGTH && this.macMatches(raw.slice(0, MAC_LENGTH), 'event', name, message) ? message : undefined;
  }

  /** A member of a sorted set is its own name: the MAC binds it to the set. */
  private sealMember(key: string, member: string): string {
    return this.sealField(key, '', member);
  }

  private openMember(key: string, raw: string): string | undefined {
    return this.openField(key, '', raw);
  }

  private sealField(key: string, field: string, value: string): string {
    return `${this.mac('field', `${key}\0${field}`, value)}${value}`;
  }

  private openField(key: string, field: string, raw: string): string | undefined {
    if (raw.length < MAC_LENGTH) return undefined;
    const value = raw.slice(MAC_LENGTH);
    return this.macMatches(raw.slice(0, MAC_LENGTH), 'field', `${key}\0${field}`, value) ? value : undefined;
  }

  /** The kind and the name come first, NUL-separated: no record of one kind or name can pass for another. */
  private mac(kind: Kind, name: string, content: string): string {
    return createHmac('sha256', this.macKey).update(`${kind}\0${name}\0`).update(content).digest('base64url');
  }

  private macMatches(presented: string, kind: Kind, name: string, content: string): boolean {
    const expected = Buffer.from(this.mac(kind, name, content));
    const actual = Buffer.from(presented);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  /** Logs that records failed their check: their kind and a count, never a key name (it may hold a subject) or a value. */
  private refused(kind: Kind): void {
    this.refusedSinceLog++;
    const now = Date.now();
    if (now - this.lastRefusalLog < REFUSAL_LOG_GAP_MS) return;
    this.logger.warn(
      `Refused ${this.refusedSinceLog} store record(s) that fail authentication (latest: a ${kind}): ` +
        'written without this keyEncryptionSecret (another secret, an older version of the library, or tampering); treated as absent',
    );
    this.lastRefusalLog = now;
    this.refusedSinceLog = 0;
  }
}
