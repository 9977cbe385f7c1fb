import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { randomUUID } from 'node:crypto';
import { JWT_ROTATION_OPTIONS, storeKeys } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { ROTATION_STORE, type RotationStore } from '../store/rotation-store';
import { type ClusterEvent } from '../sync/cluster-event';
import { RevocationView } from './revocation-view';

/** Pub/sub carries revocations at once; this periodic full read is the safety net, and prunes the view. */
const RESYNC_INTERVAL_MS = 60_000;

const encodeId = (id: string): string => Buffer.from(id, 'utf8').toString('base64url');
const decodeId = (encoded: string): string => Buffer.from(encoded, 'base64url').toString('utf8');

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
  async revokeSession(sid: string): Promise<void> {
    const ttl = this.options.accessTokenTtlMs + this.options.clockToleranceMs;
    await this.store.set(`${this.prefix}sid:${encodeId(sid)}`, 1, ttl);
    await this.announce({ t: 'sid', id: sid, exp: Date.now() + ttl });
  }

  /** Tokens of this subject issued before now stop verifying ("log out everywhere"). */
  async revokeSubject(sub: string): Promise<void> {
    const now = Date.now();
    const cutoff = Math.floor(now / 1000);
    const ttl = this.options.maxTokenLifetimeMs + this.options.clockToleranceMs;
    await this.store.set(`${this.prefix}sub:${encodeId(sub)}.${cutoff}`, cutoff, ttl);
    await this.announce({ t: 'sub', id: sub, cutoff, exp: now + ttl });
  }

  /** One token stops verifying. `exp` is the token's `exp` claim (seconds). */
  async revokeToken(jti: string, exp: number): Promise<void> {
    if (typeof jti !== 'string' || jti.length === 0 || !Number.isFinite(exp)) {
      throw new TypeError("revokeToken() takes the token's jti and its exp claim (seconds since the epoch)");
    }
    // No token lives longer than the longest lifetime: neither need its revocation.
    const longest = this.options.maxTokenLifetimeMs + this.options.clockToleranceMs;
    const ttl = Math.min(longest, Math.max(1000, exp * 1000 - Date.now() + this.options.clockToleranceMs));
    await this.store.set(`${this.prefix}jti:${encodeId(jti)}`, 1, ttl);
    await this.announce({ t: 'jti', id: jti, exp: Date.now() + ttl });
  }

  /** Applies a revocation made here or announced by another instance. */
  apply(event: ClusterEvent): void {
    if (event.t === 'sid') this.view.addSession(event.id, event.exp);
    else if (event.t === 'jti') this.view.addToken(event.id, event.exp);
    else if (event.t === 'sub') this.view.addSubject(event.id, event.cutoff, event.exp);
  }

  /**
   * The entry is in the store already, so an instance that misses the message still gets it at its
   * next resync; a failed publish is logged, not thrown.
   */
  private async announce(event: ClusterEvent): Promise<void> {
    this.apply(event);
    await this.store.publish(this.channel, JSON.stringify(event)).catch((error: unknown) => {
      this.logger.warn(`Could not announce a revocation to other instances; they will read it at their next resync: ${String(error)}`);
    });
  }

  /**
   * Reads every revocation from the store into the view (entries written by other instances) and
   * drops expired ones. Entries are only ever added here, so a revocation made locally meanwhile
   * is never lost.
   */
  async resync(): Promise<void> {
    const keys = await this.store.scanKeys(this.prefix);
    const now = Date.now();
    // The store's own TTL is the truth; the view keeps an entry at most as long as any could need.
    const accessExpiry = now + this.options.accessTokenTtlMs + this.options.clockToleranceMs;
    const anyExpiry = now + this.options.maxTokenLifetimeMs + this.options.clockToleranceMs;
    for (const key of keys ?? []) {
      const rest = key.slice(this.prefix.length);
      const kind = rest.slice(0, 4);
      const id = rest.slice(4);
      if (kind === 'sid:') this.view.addSession(decodeId(id), accessExpiry);
      else if (kind === 'jti:') this.view.addToken(decodeId(id), anyExpiry);
      else if (kind === 'sub:') {
        const dot = id.lastIndexOf('.');
        const cutoff = Number(id.slice(dot + 1));
        if (dot > 0 && Number.isSafeInteger(cutoff)) this.view.addSubject(decodeId(id.slice(0, dot)), cutoff, anyExpiry);
      }
    }
    this.view.prune(now);
  }
}
