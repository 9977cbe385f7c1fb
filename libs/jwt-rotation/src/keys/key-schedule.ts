import { isSupportedAlgorithm, type JwtAlgorithm } from './algorithms';

/**
 * The schedule of the key ring, as every instance reads it from the store.
 *
 * Each key has a generation number. The store holds one hash whose fields are:
 * `g:<n>` the key of generation n (written once, create-if-absent, so racing instances agree),
 * `act:<n>` / `ret:<n>` moved activation and retirement times (rotate now), `rev:<kid>` a revocation.
 * Everything here is a pure function of those fields and the clock.
 */
export interface ScheduleEntry {
  readonly generation: number;
  readonly kid: string;
  readonly alg: JwtAlgorithm;
  readonly createdAt: number;
  readonly activatesAt: number;
  readonly retiresAt: number;
  readonly revokedAt: number | undefined;
}

export type KeyStatus = 'next' | 'current' | 'retired' | 'revoked';

interface GenerationField {
  kid: string;
  alg: string;
  createdAt: number;
  activatesAt: number;
  retiresAt: number;
}

export const generationField = (generation: number): string => `g:${generation}`;
export const activationField = (generation: number): string => `act:${generation}`;
export const retirementField = (generation: number): string => `ret:${generation}`;
export const revocationField = (kid: string): string => `rev:${kid}`;

export function encodeGeneration(entry: Omit<GenerationField, 'alg'> & { alg: JwtAlgorithm }): string {
  return JSON.stringify({
    kid: entry.kid,
    alg: entry.alg,
    createdAt: entry.createdAt,
    activatesAt: entry.activatesAt,
    retiresAt: entry.retiresAt,
  });
}

/** Reads the hash; fields that do not parse are skipped (a tampered or foreign field never becomes a key). */
export function parseSchedule(hash: Readonly<Record<string, string>>): ScheduleEntry[] {
  const entries: ScheduleEntry[] = [];
  for (const [field, raw] of Object.entries(hash)) {
    if (!field.startsWith('g:')) continue;
    const generation = Number(field.slice(2));
    let parsed: Partial<GenerationField>;
    try {
      parsed = JSON.parse(raw) as Partial<GenerationField>;
    } catch {
      continue;
    }
    const { kid, alg, createdAt, activatesAt, retiresAt } = parsed;
    if (!Number.isSafeInteger(generation) || typeof kid !== 'string' || !isSupportedAlgorithm(alg)) continue;
    if (![createdAt, activatesAt, retiresAt].every((t) => typeof t === 'number' && Number.isFinite(t))) continue;
    const revoked = hash[revocationField(kid)];
    entries.push({
      generation,
      kid,
      alg,
      createdAt: createdAt!,
      activatesAt: numberOr(hash[activationField(generation)], activatesAt!),
      retiresAt: numberOr(hash[retirementField(generation)], retiresAt!),
      revokedAt: revoked === undefined ? undefined : Number(revoked),
    });
  }
  return entries.sort((a, b) => a.generation - b.generation);
}

function numberOr(raw: string | undefined, fallback: number): number {
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(value) ? value : fallback;
}

/** The key that signs at `now`: active, not revoked; the latest activated wins a tie. */
export function currentEntry(entries: readonly ScheduleEntry[], now: number, alg?: JwtAlgorithm): ScheduleEntry | undefined {
  let best: ScheduleEntry | undefined;
  for (const entry of entries) {
    if (entry.revokedAt !== undefined || entry.activatesAt > now || entry.retiresAt <= now) continue;
    if (alg !== undefined && entry.alg !== alg) continue;
    if (!best || entry.activatesAt > best.activatesAt || (entry.activatesAt === best.activatesAt && entry.generation > best.generation)) {
      best = entry;
    }
  }
  return best;
}

/** The published key that signs after `current`. */
export function nextEntry(
  entries: readonly ScheduleEntry[],
  current: ScheduleEntry | undefined,
  now: number,
  alg?: JwtAlgorithm,
): ScheduleEntry | undefined {
  let best: ScheduleEntry | undefined;
  for (const entry of entries) {
    // A window closed before it opened is a next key whose material the store lost: it never signs.
    if (entry.revokedAt !== undefined || entry.activatesAt <= now || entry.retiresAt <= entry.activatesAt || entry === current) continue;
    if (alg !== undefined && entry.alg !== alg) continue;
    if (!best || entry.activatesAt < best.activatesAt) best = entry;
  }
  return best;
}

export function keyStatus(entry: ScheduleEntry, current: ScheduleEntry | undefined, now: number): KeyStatus {
  if (entry.revokedAt !== undefined) return 'revoked';
  if (entry === current || entry.kid === current?.kid) return 'current';
  return entry.activatesAt > now ? 'next' : 'retired';
}

/**
 * How many keys are published ahead of the current one. Two, so that two `rotateNow()` in a row
 * promote keys that were in the JWKS before the first: a verifier whose cache refetches at most
 * once per cooldown (jose and express-oauth2-jwt-bearer: 30 s) already holds both.
 */
export const KEYS_AHEAD = 2;

/** A key to create so that the ring has a current key and {@link KEYS_AHEAD} published ones after it. */
export interface PlannedKey {
  readonly generation: number;
  readonly activatesAt: number;
  readonly retiresAt: number;
}

/**
 * What the reconcile loop must create next, if anything. Deterministic in (entries, now), so
 * instances racing on the same state plan the same generation and the store's create-if-absent
 * picks one winner.
 */
export function plan(
  entries: readonly ScheduleEntry[],
  now: number,
  intervalMs: number,
  alg?: JwtAlgorithm,
  /** Generations whose field exists but failed authentication: never planned again. */
  firstFreeGeneration = 0,
): PlannedKey | undefined {
  const generation = Math.max(firstFreeGeneration, entries.length === 0 ? 0 : entries[entries.length - 1].generation + 1);
  // Keys of another algorithm (the configuration changed) verify until they expire, never sign.
  const current = currentEntry(entries, now, alg);
  if (!current) {
    // Keep to the existing grid of windows when there is one, so a late or restarted fleet lands
    // on the same boundaries; a first start or an emergency starts the grid now.
    const latest = entries.reduce<ScheduleEntry | undefined>((a, e) => (!a || e.retiresAt > a.retiresAt ? e : a), undefined);
    const activatesAt =
      latest && latest.retiresAt <= now ? latest.retiresAt + Math.floor((now - latest.retiresAt) / intervalMs) * intervalMs : now;
    return { generation, activatesAt, retiresAt: activatesAt + intervalMs };
  }
  const ahead = entries.filter(
    (e) => e.revokedAt === undefined && e.activatesAt > now && e !== current && (alg === undefined || e.alg === alg),
  );
  if (ahead.length < KEYS_AHEAD) {
    const last = ahead.reduce((latest, e) => (e.retiresAt > latest.retiresAt ? e : latest), current);
    return { generation, activatesAt: last.retiresAt, retiresAt: last.retiresAt + intervalMs };
  }
  return undefined;
}
