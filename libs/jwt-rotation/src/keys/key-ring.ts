import type { PreparedKey } from './prepared-key';
import type { ScheduleEntry } from './key-schedule';

/** A key this instance holds in memory, ready to sign or verify. */
export interface RingKey {
  readonly entry: ScheduleEntry;
  readonly key: PreparedKey;
  /** After this moment no token the key signed can be valid. */
  readonly expiresAt: number;
  /**
   * The store no longer lists this key (it lost its data): it goes on verifying the tokens it
   * signed, but never signs again, since an instance started afterwards could not verify it.
   */
  readonly orphaned?: true;
}

/**
 * The in-memory view of the key ring: what the hot path reads, with no store round trip.
 * Replaced as a whole by the rotation service; never mutated in place.
 */
export class KeyRing {
  private keys = new Map<string, RingKey>();
  private signerCache: { key: RingKey | undefined; until: number; since: number; alg?: string } = {
    key: undefined,
    until: -Infinity,
    since: Infinity,
  };
  private loadedAt = 0;

  get size(): number {
    return this.keys.size;
  }

  /** When the ring was last replaced from the store (epoch ms; 0 = never). */
  get lastLoadedAt(): number {
    return this.loadedAt;
  }

  replace(keys: Iterable<RingKey>, loadedAt = Date.now()): void {
    this.keys = new Map([...keys].map((k) => [k.entry.kid, k]));
    this.signerCache = { key: undefined, until: -Infinity, since: Infinity };
    this.loadedAt = loadedAt;
  }

  get(kid: string): RingKey | undefined {
    return this.keys.get(kid);
  }

  all(): RingKey[] {
    return [...this.keys.values()];
  }

  /**
   * The key to sign with at `now`. When the store has been out of reach long enough that no key
   * is scheduled for `now`, the latest activated key goes on signing: it is still in every
   * verifier's ring, and refusing to sign would take the whole API down with the store.
   */
  signer(now: number, alg?: string): RingKey | undefined {
    const cached = this.signerCache;
    if (now < cached.until && now >= cached.since && cached.alg === alg) return cached.key;
    let scheduled: RingKey | undefined;
    let fallback: RingKey | undefined;
    let until = Infinity;
    for (const candidate of this.keys.values()) {
      const { entry } = candidate;
      // A revoked or orphaned key never signs; nor does a key of an algorithm no longer configured.
      if (entry.revokedAt !== undefined || candidate.orphaned || (alg !== undefined && entry.alg !== alg)) continue;
      if (entry.activatesAt > now) {
        until = Math.min(until, entry.activatesAt);
        continue;
      }
      if (entry.retiresAt > now && (!scheduled || isLater(entry, scheduled.entry))) scheduled = candidate;
      if (!fallback || isLater(entry, fallback.entry)) fallback = candidate;
    }
    const key = scheduled ?? fallback;
    if (key) until = Math.min(until, key.entry.retiresAt > now ? key.entry.retiresAt : Infinity);
    this.signerCache = { key, until, since: key ? key.entry.activatesAt : now, alg };
    return key;
  }
}

function isLater(a: ScheduleEntry, b: ScheduleEntry): boolean {
  return a.activatesAt > b.activatesAt || (a.activatesAt === b.activatesAt && a.generation > b.generation);
}
