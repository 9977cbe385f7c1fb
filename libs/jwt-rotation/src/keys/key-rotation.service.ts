import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import { ConfigurationError, KeyDecryptionError, NoSigningKeyError, StoreUnavailableError } from '../errors';
import { JWT_ROTATION_OPTIONS, KEY_ENCRYPTION, storeKeys } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { ROTATION_STORE, type RotationStore } from '../store/rotation-store';
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
import { generateKeyMaterial, prepareKeyMaterial } from './key-material';

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
  private readonly reloader = new UnknownKidReloader(() => this.reconcile());

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
    @Inject(ROTATION_STORE) private readonly store: RotationStore,
    @Inject(KEY_ENCRYPTION) private readonly encryption: KeyEncryption,
    private readonly ring: KeyRing,
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
    if (current?.kid === kid) Object.assign(fields, this.promotion(entries, current, now));
    await this.store.hashSet(this.keys.ring, fields);
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
      .filter((e) => e.revokedAt === undefined && e.activatesAt > now && e !== current)
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
    let entries = await this.readSchedule();
    // Each pass creates at most one key; two cover "no current key" and "no next key".
    for (let pass = 0; pass < 3; pass++) {
      const planned = plan(entries, Date.now(), this.options.rotationIntervalMs, this.options.algorithm);
      if (!planned) break;
      await this.create(planned);
      entries = await this.readSchedule();
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
    await this.store.publish(this.keys.events, JSON.stringify({ t: 'ring' })).catch(() => undefined);
  }

  private async create(planned: PlannedKey): Promise<void> {
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
  }

  private async load(entries: readonly ScheduleEntry[]): Promise<void> {
    const loaded: RingKey[] = [];
    let failures = 0;
    for (const entry of entries) {
      const known = this.ring.get(entry.kid);
      const key =
        known?.key ??
        (await this.loadKey(entry).catch((error: unknown) => {
          failures++;
          this.logger.error(`Key ${entry.kid} refused: ${describe(error)}`);
          return undefined;
        }));
      if (key) loaded.push({ entry, key, expiresAt: this.expiresAt(entry) });
    }
    // A key this instance holds that the store no longer lists (the store lost its data) goes on
    // verifying until it would have expired anyway: its tokens are still valid.
    const listed = new Set(entries.map((e) => e.kid));
    const now = Date.now();
    for (const held of this.ring.all()) {
      if (!listed.has(held.entry.kid) && held.expiresAt > now) loaded.push(held);
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
