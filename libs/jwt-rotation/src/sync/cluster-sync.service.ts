import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { JWT_ROTATION_OPTIONS, storeKeys } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { KeyRotationService } from '../keys/key-rotation.service';
import { RevocationService } from '../sessions/revocation.service';
import { ROTATION_STORE, type RotationStore } from '../store/rotation-store';
import { parseClusterEvent } from './cluster-event';

/**
 * Keeps this instance in step with the others sharing the store: revocations and key-ring changes
 * arrive by pub/sub as they happen, and after a lost connection comes back everything is read
 * again, since messages sent meanwhile are gone.
 */
@Injectable()
export class ClusterSyncService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JwtRotation');
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
    @Inject(ROTATION_STORE) private readonly store: RotationStore,
    private readonly revocations: RevocationService,
    private readonly rotation: KeyRotationService,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.store.shared) return;
    this.unsubscribe = await this.store.subscribe(
      storeKeys(this.options.keyPrefix).events,
      (message) => this.onMessage(message),
      () => this.onReconnect(),
    );
    // What was published between the first read at startup and this subscription is read again.
    await this.revocations.resync();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.unsubscribe?.();
  }

  private onMessage(message: string): void {
    const event = parseClusterEvent(message);
    if (!event) return;
    if (event.t === 'ring') {
      this.rotation.reconcile().catch((error: unknown) => this.logger.warn(`Key ring reload failed: ${String(error)}`));
    } else {
      this.revocations.apply(event);
    }
  }

  private onReconnect(): void {
    this.logger.log('Store connection back: resynchronising keys and revocations');
    Promise.all([this.revocations.resync(), this.rotation.reconcile()]).catch((error: unknown) =>
      this.logger.warn(`Resync after reconnect failed; the next tick retries: ${String(error)}`),
    );
  }
}
