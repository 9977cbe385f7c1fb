import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { JWT_ROTATION_OPTIONS, storeKeys } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { compareLogIds, ROTATION_STORE, type RotationStore } from '../store/rotation-store';
import { type ClusterEvent, parseClusterEvent } from './cluster-event';

/** Entries the log keeps; an instance away for longer than these take to write reloads in full. */
export const EVENT_LOG_LENGTH = 10_000;
/** Entries read per round trip while catching up. */
const READ_BATCH = 1_000;
/** Pub/sub delivers at once; this periodic read of the log is the safety net for anything it dropped. */
const CATCH_UP_INTERVAL_MS = 60_000;

type EventHandler = (event: ClusterEvent) => void;
type ReloadHandler = () => Promise<void>;

/**
 * The one way instances sharing a store tell each other things. Every event is appended to a
 * capped log (a Redis Stream) and published; subscribers get it from pub/sub as it happens, and a
 * reconnecting instance reads the log from the last entry it saw. When the log no longer holds
 * that entry (the instance was away too long), the reload handlers read the whole state instead.
 * Handlers must be idempotent: an event can arrive by both paths.
 */
@Injectable()
export class ClusterEventBus implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('JwtRotation');
  private readonly keys: ReturnType<typeof storeKeys>;
  private readonly handlers: EventHandler[] = [];
  private readonly reloaders: ReloadHandler[] = [];
  private unsubscribe: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The newest log entry this instance has applied. */
  private lastId = '0-0';
  private catchingUp: Promise<void> | undefined;

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) options: ResolvedJwtRotationOptions,
    @Inject(ROTATION_STORE) private readonly store: RotationStore,
  ) {
    this.keys = storeKeys(options.keyPrefix);
  }

  /** Calls `handler` with every event of another instance (and replays of this one's). */
  on(handler: EventHandler): void {
    this.handlers.push(handler);
  }

  /** Calls `reload` when events may have been missed beyond what the log holds: read everything again. */
  onReload(reload: ReloadHandler): void {
    this.reloaders.push(reload);
  }

  /** Logs and publishes `event` for every other instance. Resolves once it is in the log. */
  async publish(event: ClusterEvent): Promise<void> {
    if (!this.store.shared) return;
    const message = JSON.stringify(event);
    await this.store.logAppend(this.keys.log, message, EVENT_LOG_LENGTH);
    await this.store.publish(this.keys.events, message).catch((error: unknown) => {
      this.logger.warn(`Could not publish an event; other instances read it from the log: ${String(error)}`);
    });
  }

  async onModuleInit(): Promise<void> {
    if (!this.store.shared) return;
    // Where this instance starts: what is older, the state read at startup already holds.
    this.lastId = await this.store.logTail(this.keys.log);
    this.unsubscribe = await this.store.subscribe(
      this.keys.events,
      (message) => this.deliver(message),
      () => void this.catchUpLogged('Store connection back: reading the events missed'),
    );
  }

  /** After every module has read its state: what was logged meanwhile is applied now. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.store.shared) return;
    await this.catchUp();
    this.timer = setInterval(() => void this.catchUpLogged(), CATCH_UP_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
  }

  /** Applies every log entry after the last one seen; concurrent callers share one run. */
  catchUp(): Promise<void> {
    this.catchingUp ??= this.readLog().finally(() => (this.catchingUp = undefined));
    return this.catchingUp;
  }

  private async readLog(): Promise<void> {
    for (;;) {
      const { entries, oldestId } = await this.store.logRead(this.keys.log, this.lastId, READ_BATCH);
      // The last entry seen was trimmed away: entries after it may have gone too, and the log cannot say.
      if (this.lastId !== '0-0' && oldestId !== undefined && compareLogIds(oldestId, this.lastId) > 0) {
        this.logger.warn('Away longer than the event log holds: reloading keys and revocations in full');
        this.lastId = await this.store.logTail(this.keys.log);
        await Promise.all(this.reloaders.map((reload) => reload()));
        return;
      }
      for (const entry of entries) this.deliver(entry.message);
      if (entries.length > 0) this.lastId = entries[entries.length - 1].id;
      if (entries.length < READ_BATCH) return;
    }
  }

  private catchUpLogged(message?: string): Promise<void> {
    if (message) this.logger.log(message);
    return this.catchUp().catch((error: unknown) => this.logger.warn(`Reading the event log failed; retrying later: ${String(error)}`));
  }

  private deliver(message: string): void {
    const event = parseClusterEvent(message);
    if (!event) return;
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (error) {
        this.logger.warn(`An event handler failed: ${String(error)}`);
      }
    }
  }
}
