import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { randomUUID } from 'node:crypto';
import { JWT_ROTATION_OPTIONS, storeKeys } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { ROTATION_STORE, type RotationStore } from '../store/rotation-store';
import { type ClusterEvent, parseClusterEvent } from '../sync/cluster-event';
import { ClusterEventBus } from '../sync/cluster-event-bus';
import { RevocationView } from './revocation-view';

/** How often the view drops entries whose revoked tokens have all expired. */
const PRUNE_INTERVAL_MS = 60_000;

/**
 * Writes revocations to the store and keeps this instance's {@link RevocationView} in step. Each
 * revocation is its event, kept in one sorted set scored by when what it revokes can no longer be
 * valid (read in full only at startup, or after an absence longer than the event log holds), and
 * sent to the other instances through the {@link ClusterEventBus}. Nothing walks the keyspace.
 */
@Injectable()
export class RevocationService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JwtRotation');
  private readonly index: string;
  /** Unique per module instance, so two JwtRotationModules in one app do not clash in the registry. */
  private readonly job = `jwt-rotation:revocations:${randomUUID()}`;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
    @Inject(ROTATION_STORE) private readonly store: RotationStore,
    private readonly view: RevocationView,
    private readonly bus: ClusterEventBus,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {
    this.index = storeKeys(options.keyPrefix).revocations;
  }

  async onModuleInit(): Promise<void> {
    this.bus.on((event) => this.apply(event));
    this.bus.onReload(() => this.reload());
    await this.reload();
    // The view must not grow forever: expired entries go, whatever scheduleRotation says.
    this.timer = setInterval(() => this.view.prune(), PRUNE_INTERVAL_MS);
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
    return this.record({ t: 'sid', id: sid, exp: Date.now() + ttl });
  }

  /** Tokens of this subject issued before now stop verifying ("log out everywhere"). */
  revokeSubject(sub: string): Promise<void> {
    const now = Date.now();
    const cutoff = Math.floor(now / 1000);
    return this.record({ t: 'sub', id: sub, cutoff, exp: now + this.options.maxTokenLifetimeMs + this.options.clockToleranceMs });
  }

  /** One token stops verifying. `exp` is the token's `exp` claim (seconds). */
  revokeToken(jti: string, exp: number): Promise<void> {
    if (typeof jti !== 'string' || jti.length === 0 || !Number.isFinite(exp)) {
      throw new TypeError("revokeToken() takes the token's jti and its exp claim (seconds since the epoch)");
    }
    // No token lives longer than the longest lifetime: neither need its revocation.
    const longest = this.options.maxTokenLifetimeMs + this.options.clockToleranceMs;
    const ttl = Math.min(longest, Math.max(1000, exp * 1000 - Date.now() + this.options.clockToleranceMs));
    return this.record({ t: 'jti', id: jti, exp: Date.now() + ttl });
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
   * Stored (and in the event log) before it resolves, so an acknowledged revocation survives this
   * instance and reaches every other one, now or when it reconnects.
   */
  private async record(event: Exclude<ClusterEvent, { t: 'ring' }>): Promise<void> {
    const now = Date.now();
    const ttl = this.options.maxTokenLifetimeMs + 2 * this.options.clockToleranceMs;
    await this.store.sortedAdd(this.index, JSON.stringify(event), event.exp, ttl);
    this.apply(event, now);
    await this.bus.publish(event);
    // What has expired leaves the index as new revocations come in; one command, no read.
    await this.store.sortedRemoveUpTo(this.index, now).catch((error: unknown) => {
      this.logger.warn(`Pruning expired revocations failed; the next revocation retries: ${String(error)}`);
    });
  }

  /** Reads every live revocation into the view. Only adds, so one made here meanwhile is never lost. */
  async reload(): Promise<void> {
    const now = Date.now();
    for (const member of await this.store.sortedRangeAbove(this.index, now)) {
      const event = parseClusterEvent(member);
      if (event) this.apply(event, now);
    }
    this.view.prune(now);
  }
}
