import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { randomUUID } from 'node:crypto';
import { JWT_ROTATION_OPTIONS, storeKeys } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { ROTATION_STORE, type RotationStore } from '../store/rotation-store';
import { type ClusterEvent, clusterEventOf } from '../sync/cluster-event';
import { RevocationView } from './revocation-view';

/** Pub/sub carries revocations at once; this periodic full read is the safety net, and prunes the view. */
const RESYNC_INTERVAL_MS = 60_000;

/** Revocations read at once in a resync: one round trip's worth, without holding thousands of promises. */
const RESYNC_BATCH = 500;

const encodeId = (id: string): string => Buffer.from(id, 'utf8').toString('base64url');

/**
 * Writes revocations to the store, each under its own key with a TTL that ends when what it
 * revokes could no longer be valid, and keeps this instance's {@link RevocationView} in step.
 */
@Injectable()
export class RevocationService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JwtRotation');
  private readonly prefix: string;
  private readonly channel: string;
  /** Unique per module instance, so two JwtRotationModules in one app do not clash in the registry. */
  private readonly job = `jwt-rotation:revocations:${randomUUID()}`;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
    @Inject(ROTATION_STORE) private readonly store: RotationStore,
    private readonly view: RevocationView,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {
    this.prefix = storeKeys(options.keyPrefix).revoked;
    this.channel = storeKeys(options.keyPrefix).events;
  }

  async onModuleInit(): Promise<void> {
    await this.resync();
    // Runs whatever scheduleRotation says: it also prunes the view, which must not grow forever.
    this.timer = setInterval(() => {
      this.resync().catch((error: unknown) => this.logger.warn(`Revocation resync failed; retrying next tick: ${String(error)}`));
    }, RESYNC_INTERVAL_MS);
    this.timer.unref();
    this.scheduler?.addInterval(this.job, this.timer);
  }

  onApplicationShutdown(): void {
    if (this.scheduler?.doesExist('interval', this.job)) this.scheduler.deleteInterval(this.job);
    clearInterval(this.timer);
  }

  /** Access tokens of this session stop verifying at once, on every instance. */
  revokeSession(sid: string): Promise<void> {
    const ttl = this.options.accessTokenTtlMs + this.options.clockToleranceMs;
    return this.record(`sid:${encodeId(sid)}`, { t: 'sid', id: sid, exp: Date.now() + ttl }, ttl);
  }

  /** Tokens of this subject issued before now stop verifying ("log out everywhere"). */
  revokeSubject(sub: string): Promise<void> {
    const now = Date.now();
    const cutoff = Math.floor(now / 1000);
    const ttl = this.options.maxTokenLifetimeMs + this.options.clockToleranceMs;
    return this.record(`sub:${encodeId(sub)}.${cutoff}`, { t: 'sub', id: sub, cutoff, exp: now + ttl }, ttl);
  }

  /** One token stops verifying. `exp` is the token's `exp` claim (seconds). */
  revokeToken(jti: string, exp: number): Promise<void> {
    if (typeof jti !== 'string' || jti.length === 0 || !Number.isFinite(exp)) {
      throw new TypeError("revokeToken() takes the token's jti and its exp claim (seconds since the epoch)");
    }
    // No token lives longer than the longest lifetime: neither need its revocation.
    const longest = this.options.maxTokenLifetimeMs + this.options.clockToleranceMs;
    const ttl = Math.min(longest, Math.max(1000, exp * 1000 - Date.now() + this.options.clockToleranceMs));
    return this.record(`jti:${encodeId(jti)}`, { t: 'jti', id: jti, exp: Date.now() + ttl }, ttl);
  }

  /**
   * Applies a revocation made here, announced by another instance or read from the store. Only
   * ever adds: a running instance never un-revokes. An event no honest instance could have made
   * (a cutoff in the future, an expiry beyond the longest token lifetime) is ignored.
   */
  apply(event: ClusterEvent, now = Date.now()): void {
    const tolerance = this.options.clockToleranceMs;
    if (event.t === 'ring' || event.exp > now + this.options.maxTokenLifetimeMs + 2 * tolerance) return;
    if (event.t === 'sid') this.view.addSession(event.id, event.exp);
    else if (event.t === 'jti') this.view.addToken(event.id, event.exp);
    else if (event.t === 'sub' && event.cutoff * 1000 <= now + tolerance) this.view.addSubject(event.id, event.cutoff, event.exp);
  }

  /**
   * The revocation is the event itself, kept under its own key until what it revokes has expired:
   * an instance that misses the message reads it at its next resync. A failed publish is logged,
   * not thrown.
   */
  private async record(name: string, event: ClusterEvent, ttlMs: number): Promise<void> {
    await this.store.set(`${this.prefix}${name}`, event, ttlMs);
    this.apply(event);
    await this.store.publish(this.channel, JSON.stringify(event)).catch((error: unknown) => {
      this.logger.warn(`Could not announce a revocation to other instances; they will read it at their next resync: ${String(error)}`);
    });
  }

  /**
   * Reads every revocation in the store into the view (entries written by other instances) and
   * drops expired ones. Each is read and authenticated, never taken from its key name alone.
   * Entries are only ever added here, so a revocation made locally meanwhile is never lost.
   */
  async resync(): Promise<void> {
    const keys = await this.store.scanKeys(this.prefix);
    for (let i = 0; keys && i < keys.length; i += RESYNC_BATCH) {
      const events = await Promise.all(keys.slice(i, i + RESYNC_BATCH).map((key) => this.store.get<unknown>(key)));
      for (const value of events) {
        const event = clusterEventOf(value);
        if (event) this.apply(event);
      }
    }
    this.view.prune(Date.now());
  }
}
