import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import { ConfigurationError, KeyDecryptionError, NoSigningKeyError, StoreUnavailableError } from '../errors';
import { JWT_ROTATION_OPTIONS, KEY_ENCRYPTION, storeKeys } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { ROTATION_STORE, type RotationStore } from '../store/rotation-store';
import { ClusterEventBus } from '../sync/cluster-event-bus';
import type { JwtAlgorithm } from './algorithms';
import type { EncryptedMaterial, KeyEncryption } from './key-encryption';
import { KeyRing, type RingKey } from './key-ring';
import { type KeySource, UnknownKidReloader } from './key-source';
import {
  activationField,
  currentEntry,
  encodeGeneration,
  generationField,
  keyStatus,
  type KeyStatus,
  nextEntry,
  parseSchedule,
  plan,
  type PlannedKey,
  retirementField,
  revocationField,
  type ScheduleEntry,
} from './key-schedule';
import { generateKeyMaterial, prepareKeyMaterial, revokedKeyPlaceholder } from './key-material';

/** Metadata of one key, as `listKeys()` returns it. Never key material. */
export interface KeyInfo {
  kid: string;
  alg: JwtAlgorithm;
  status: KeyStatus;
  createdAt: Date;
  activatesAt: Date;
  retiresAt: Date;
  /** When no token the key signed can still be valid; the store drops the key then. */
  expiresAt: Date;
}

interface KeyRecord {
  kid: string;
  alg: JwtAlgorithm;
  createdAt: number;
  material: EncryptedMaterial;
}

/**
 * Keeps the key ring: makes sure the store holds a current and a published next key, loads them
 * into memory, and retires, expires and revokes them. Safe to run on any number of instances.
 */
@Injectable()
export class KeyRotationService implements KeySource, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JwtRotation');
  private readonly keys: ReturnType<typeof storeKeys>;
  /** Unique per module instance, so two JwtRotationModules in one app do not clash in the registry. */
  private readonly job = `jwt-rotation:reconcile:${randomUUID()}`;
  private running: Promise<void> | undefined;
  private rerun: Promise<void> | undefined;
  /** Whether the current reconcile run created a key. */
  private changed = false;
  /** Generations below this have a field in the store that failed authentication: never planned again. */
  private firstFreeGeneration = 0;
  private materialCheckedAt = -Infinity;
  private readonly reloader = new UnknownKidReloader(() => this.reconcile());

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
    @Inject(ROTATION_STORE) private readonly store: RotationStore,
    @Inject(KEY_ENCRYPTION) private readonly encryption: KeyEncryption,
    private readonly ring: KeyRing,
    private readonly bus: ClusterEventBus,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {
    this.keys = storeKeys(options.keyPrefix);
  }

  async onModuleInit(): Promise<void> {
    if (this.options.scheduleRotation && !this.scheduler) {
      throw new ConfigurationError([
        'JwtRotationModule needs ScheduleModule.forRoot() in your AppModule imports (from @nestjs/schedule), or scheduleRotation: false',
      ]);
    }
    // Another instance changed the ring (or this one missed changes): reload it now rather than at the next tick.
    const reload = () => this.reconcile().catch((error: unknown) => this.logger.warn(`Key ring reload failed: ${describe(error)}`));
    this.bus.on((event) => event.t === 'ring' && void reload());
    this.bus.onReload(async () => void (await reload()));
    await this.reconcile();
    if (this.options.scheduleRotation && this.scheduler) {
      const timer = setInterval(() => {
        this.reconcile().catch((error: unknown) => this.logger.warn(`Key ring reconcile failed; retrying next tick: ${describe(error)}`));
      }, this.options.reconcileIntervalMs);
      timer.unref();
      this.scheduler.addInterval(this.job, timer);
    }
  }

  onApplicationShutdown(): void {
    if (this.scheduler?.doesExist('interval', this.job)) this.scheduler.deleteInterval(this.job);
  }

  /**
   * Makes sure the store has a current and a next key and reloads the ring. Idempotent, and
   * harmless when several instances run it at once. Concurrent calls share one run.
   */
  reconcile(): Promise<void> {
    if (!this.running) {
      this.running = this.reconcileOnce().finally(() => (this.running = undefined));
      return this.running;
    }
    // The run in flight may have read the schedule before the caller's change (a revocation, a
    // rotation, an event from another instance): one more run follows it, shared by all who ask.
    this.rerun ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.rerun = undefined;
        return this.reconcile();
      });
    return this.rerun;
  }

  /**
   * Reloads the ring for a token whose kid this instance does not know (another instance may have
   * rotated). Shared by concurrent callers and at most once a second, so a flood of forged kids
   * cannot hammer the store.
   */
  reloadForUnknownKid(): Promise<void> {
    return this.running ?? this.reloader.reload();
  }

  ready(): Promise<void> {
    return this.ring.size > 0 ? Promise.resolve() : this.reconcile();
  }

  /**
   * Emergency rotation: promotes the already-published next key to sign from now on, moves the
   * keys published after it up by one window and publishes a fresh one at the end, so nothing
   * signs with a key that verifiers have not seen. With {@link KEYS_AHEAD} = 2, two rotations in
   * a row both promote keys that were published before the first of them.
   * @returns the kid that signs from now on.
   */
  async rotateNow(): Promise<string> {
    await this.reconcile();
    const now = Date.now();
    const entries = await this.readSchedule();
    const current = currentEntry(entries, now);
    const next = nextEntry(entries, current, now);
    if (next) {
      await this.store.hashSet(this.keys.ring, {
        ...(current ? { [retirementField(current.generation)]: String(now) } : {}),
        ...this.promotion(entries, current, now),
      });
    }
    await this.reconcile();
    await this.announceChange();
    const signer = this.ring.signer(Date.now(), this.options.algorithm);
    if (!signer) throw new NoSigningKeyError('No signing key after rotation: the key store is unreachable');
    return signer.entry.kid;
  }

  /**
   * Revokes a key: tokens it signed stop verifying. Revoking the current key first promotes the
   * next one. @returns false when no key has that kid.
   */
  async revokeKey(kid: string): Promise<boolean> {
    const now = Date.now();
    const entries = await this.readSchedule();
    const entry = entries.find((e) => e.kid === kid);
    if (!entry) return false;
    const current = currentEntry(entries, now);
    const fields: Record<string, string> = { [revocationField(kid)]: String(now) };
    if (current?.kid === kid) {
      Object.assign(fields, this.promotion(entries, current, now));
      fields[retirementField(entry.generation)] = String(now);
    }
    await this.store.hashSet(this.keys.ring, fields);
    // Without its material the key cannot come back by someone deleting the revocation field.
    await this.store.delete(this.keys.material(kid));
    this.logger.warn(`Key ${kid} revoked`);
    await this.reconcile();
    await this.announceChange();
    return true;
  }

  /** Every key still in the store, oldest first: metadata only. */
  async listKeys(): Promise<KeyInfo[]> {
    const now = Date.now();
    const entries = (await this.readSchedule()).filter((e) => this.expiresAt(e) > now);
    const current = currentEntry(entries, now);
    return entries.map((entry) => ({
      kid: entry.kid,
      alg: entry.alg,
      status: keyStatus(entry, current, now),
      createdAt: new Date(entry.createdAt),
      activatesAt: new Date(entry.activatesAt),
      retiresAt: new Date(entry.retiresAt),
      expiresAt: new Date(this.expiresAt(entry)),
    }));
  }

  /**
   * Moves every published key ahead of `current` up, so that the first signs from `now` and each
   * follows the one before it without a gap (a gap would make the planner create a key that signs
   * unpublished).
   */
  private promotion(entries: readonly ScheduleEntry[], current: ScheduleEntry | undefined, now: number): Record<string, string> {
    const interval = this.options.rotationIntervalMs;
    const fields: Record<string, string> = {};
    entries
      // A window closed before it opened is a key whose material was lost: it stays closed.
      .filter((e) => e.revokedAt === undefined && e.activatesAt > now && e.retiresAt > e.activatesAt && e !== current)
      .sort((a, b) => a.activatesAt - b.activatesAt)
      .forEach((entry, index) => {
        fields[activationField(entry.generation)] = String(now + index * interval);
        fields[retirementField(entry.generation)] = String(now + (index + 1) * interval);
      });
    return fields;
  }

  private expiresAt(entry: ScheduleEntry): number {
    return entry.retiresAt + this.options.maxTokenLifetimeMs + this.options.clockToleranceMs;
  }

  private async readSchedule(): Promise<ScheduleEntry[]> {
    return parseSchedule(await this.store.hashGetAll(this.keys.ring));
  }

  private async reconcileOnce(): Promise<void> {
    this.changed = false;
    let entries = await this.retireLost(await this.readSchedule());
    // Each pass creates at most one key; two cover "no current key" and "no next key", one more a
    // generation taken by a field that fails authentication.
    for (let pass = 0; pass < 4; pass++) {
      const planned = plan(entries, Date.now(), this.options.rotationIntervalMs, this.options.algorithm, this.firstFreeGeneration);
      if (!planned) break;
      const won = await this.create(planned);
      entries = await this.readSchedule();
      if (!won && !entries.some((e) => e.generation === planned.generation)) this.foreignGeneration(planned.generation, entries);
    }
    const now = Date.now();
    const expired = entries.filter((e) => this.expiresAt(e) <= now);
    if (expired.length > 0) {
      await this.store.hashDelete(
        this.keys.ring,
        expired.flatMap((e) => [
          generationField(e.generation),
          activationField(e.generation),
          retirementField(e.generation),
          revocationField(e.kid),
        ]),
      );
    }
    await this.load(entries.filter((e) => this.expiresAt(e) > now));
    if (this.changed) await this.announceChange();
  }

  /** Tells other instances to reload now rather than at their next tick; they would catch up anyway. */
  private async announceChange(): Promise<void> {
    await this.bus.publish({ t: 'ring' }).catch(() => undefined);
  }

  /** @returns whether this instance's key took the generation. */
  private async create(planned: PlannedKey): Promise<boolean> {
    const { algorithm: alg, maxTokenLifetimeMs, clockToleranceMs, rotationIntervalMs } = this.options;
    const { kid, jwk } = await generateKeyMaterial(alg, this.options);
    const createdAt = Date.now();
    const record: KeyRecord = { kid, alg, createdAt, material: this.encryption.encrypt(kid, Buffer.from(JSON.stringify(jwk))) };
    // Material first, then the schedule entry: whoever reads the entry finds the material. The
    // extra interval of TTL covers a later rotate-now moving this key's window.
    const ttl = planned.retiresAt + maxTokenLifetimeMs + clockToleranceMs + rotationIntervalMs - createdAt;
    await this.store.set(this.keys.material(kid), record, ttl);
    if (!(await this.store.get<KeyRecord>(this.keys.material(kid)))) {
      throw new StoreUnavailableError('The key store did not keep a new key; the next tick tries again');
    }
    const won = await this.store.hashSetIfAbsent(
      this.keys.ring,
      generationField(planned.generation),
      encodeGeneration({ kid, alg, createdAt, activatesAt: planned.activatesAt, retiresAt: planned.retiresAt }),
    );
    if (won) {
      this.logger.log(`Key ${kid} published for ${new Date(planned.activatesAt).toISOString()}`);
      this.changed = true;
    } else {
      await this.store.delete(this.keys.material(kid));
    }
    return won;
  }

  /**
   * Another writer holds the generation's field, yet it fails authentication. Before this instance
   * holds any key that means the ring was written under another keyEncryptionSecret (or by an
   * older version of the library): starting would split the fleet, so startup stops. Afterwards
   * it is tampering: the generation is skipped, and the next one is planned.
   */
  private foreignGeneration(generation: number, verified: readonly ScheduleEntry[]): void {
    if (this.ring.size === 0 && verified.length === 0) {
      throw new KeyDecryptionError(
        'The key ring in the store fails authentication: keyEncryptionSecret differs from the one it was written with, ' +
          'or it was written by an older version of nest-jwt-rotation. Use the same keyEncryptionSecret on every instance, ' +
          'or a new keyPrefix to start a fresh key ring.',
      );
    }
    this.logger.warn(`Key ring generation ${generation} fails authentication in the store: skipped`);
    this.firstFreeGeneration = Math.max(this.firstFreeGeneration, generation + 1);
  }

  /**
   * The current or next key whose material the store lost (eviction, a flush of that key alone)
   * stops being scheduled: an instance started now could not verify what it signs. Its holders go
   * on verifying its tokens; the plan then makes a new key, which every instance can load.
   */
  private async retireLost(entries: ScheduleEntry[]): Promise<ScheduleEntry[]> {
    const now = Date.now();
    // Once a tick is enough, and reloads for unknown kids must not add reads; a store that lives
    // in this process loses nothing on its own.
    if (!this.store.shared || now - this.materialCheckedAt < this.options.reconcileIntervalMs) return entries;
    this.materialCheckedAt = now;
    const current = currentEntry(entries, now, this.options.algorithm);
    const next = nextEntry(entries, current, now, this.options.algorithm);
    const lost: Record<string, string> = {};
    for (const entry of [current, next]) {
      if (!entry || (await this.store.get<KeyRecord>(this.keys.material(entry.kid)))) continue;
      this.logger.warn(`Key ${entry.kid} has lost its material in the store: a new key takes its place`);
      lost[retirementField(entry.generation)] = String(entry === current ? now : entry.activatesAt);
    }
    if (Object.keys(lost).length === 0) return entries;
    await this.store.hashSet(this.keys.ring, lost);
    this.changed = true;
    return this.readSchedule();
  }

  private async load(entries: readonly ScheduleEntry[]): Promise<void> {
    const loaded: RingKey[] = [];
    let failures = 0;
    for (const stored of entries) {
      const known = this.ring.get(stored.kid);
      if (known && known.key.alg !== stored.alg) {
        // A key's algorithm is fixed when it is made (RFC 8725 §3.1): one key never verifies under two.
        this.logger.error(`Key ${stored.kid} refused: its algorithm changed in the store; the key held keeps its own`);
        loaded.push(known);
        continue;
      }
      // Revocation is monotonic here: a revocation removed from the store is still one.
      const revokedAt = stored.revokedAt ?? known?.entry.revokedAt;
      const entry = revokedAt === stored.revokedAt ? stored : { ...stored, revokedAt };
      const key =
        known?.key ??
        (revokedAt !== undefined
          ? revokedKeyPlaceholder(entry.kid, entry.alg)
          : await this.loadKey(entry).catch((error: unknown) => {
              failures++;
              this.logger.error(`Key ${entry.kid} refused: ${describe(error)}`);
              return undefined;
            }));
      if (key) loaded.push({ entry, key, expiresAt: this.expiresAt(entry) });
    }
    // A key this instance holds that the store no longer lists (the store lost its data) goes on
    // verifying until it would have expired anyway: its tokens are still valid. It never signs
    // again, since no instance started from now on has it.
    const listed = new Set(entries.map((e) => e.kid));
    const now = Date.now();
    for (const held of this.ring.all()) {
      if (!listed.has(held.entry.kid) && held.expiresAt > now) loaded.push(held.orphaned ? held : { ...held, orphaned: true });
    }
    if (loaded.length === 0 && failures > 0 && this.ring.size === 0) {
      throw new KeyDecryptionError(
        'No key in the store decrypts: keyEncryptionSecret differs from the one the keys were written with. ' +
          'Use the same keyEncryptionSecret on every instance, or a new keyPrefix to start a fresh key ring.',
      );
    }
    this.ring.replace(loaded);
  }

  private async loadKey(entry: ScheduleEntry) {
    const record = await this.store.get<KeyRecord>(this.keys.material(entry.kid));
    if (!record) throw new Error('its material is missing from the store');
    if (record.kid !== entry.kid || record.alg !== entry.alg) throw new Error('its record does not match its schedule entry');
    const jwk = JSON.parse(this.encryption.decrypt(entry.kid, record.material).toString('utf8')) as JWK;
    return prepareKeyMaterial(entry.kid, entry.alg, jwk);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
