import type { INestApplicationContext } from '@nestjs/common';
import { KeyRotationService } from '../../libs/jwt-rotation/src/keys/key-rotation.service';
import { ROTATION_STORE, type RotationStore } from '../../libs/jwt-rotation/src/store/rotation-store';

/** Store commands seen by the bench, split by whether a key ring reconcile was running. */
export interface StoreCounters {
  /** Every RotationStore call. */
  commands: number;
  /** Calls made while no reconcile (scheduled tick or unknown-kid reload) was in flight: request-path calls. */
  outsideReconcile: number;
  /** Reconcile runs started (scheduled ticks, rotations, unknown-kid reloads). */
  reconciles: number;
  /** Reloads asked for by a token with an unknown kid: the only way a request reaches the store. */
  unknownKidReloads: number;
}

const STORE_METHODS = ['get', 'set', 'delete', 'hashSetIfAbsent', 'hashSet', 'hashGetAll', 'hashDelete'] as const;

/**
 * Counts the library's store commands by wrapping the RotationStore instance and the reconcile
 * entry points in place (the library holds the same instances, so it goes through the wrappers).
 */
export function countStoreCommands(context: Pick<INestApplicationContext, 'get'>): StoreCounters {
  const lookup = { strict: false } as const;
  const store = context.get<symbol, RotationStore>(ROTATION_STORE, lookup) as unknown as Record<string, (...args: unknown[]) => unknown>;
  const rotation = context.get(KeyRotationService, lookup);
  const counters: StoreCounters = { commands: 0, outsideReconcile: 0, reconciles: 0, unknownKidReloads: 0 };
  let reconciling = 0;
  for (const method of STORE_METHODS) {
    const original = store[method].bind(store);
    store[method] = (...args: unknown[]) => {
      counters.commands++;
      if (reconciling === 0) counters.outsideReconcile++;
      return original(...args);
    };
  }
  const reconcile = rotation.reconcile.bind(rotation);
  rotation.reconcile = () => {
    counters.reconciles++;
    reconciling++;
    return reconcile().finally(() => reconciling--);
  };
  const reload = rotation.reloadForUnknownKid.bind(rotation);
  rotation.reloadForUnknownKid = () => {
    counters.unknownKidReloads++;
    return reload();
  };
  return counters;
}
