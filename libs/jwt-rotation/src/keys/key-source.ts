/**
 * Where the key ring comes from: the rotation service on an issuer, the issuer's JWKS on a
 * verify-only service. The token service asks it only to wait for the first load and to reload
 * for a kid it does not know.
 */
export interface KeySource {
  /** Resolves once the ring has been loaded at least once. */
  ready(): Promise<void>;
  /** Reloads the ring for an unknown kid; shared by concurrent callers and rate-limited. */
  reloadForUnknownKid(): Promise<void>;
}

/** Injection token of the {@link KeySource} in use. */
export const KEY_SOURCE = Symbol('JWT_ROTATION_KEY_SOURCE');

/** Shortest gap between two reloads caused by tokens with an unknown kid. */
export const UNKNOWN_KID_RELOAD_GAP_MS = 1000;

/** Runs `load` for unknown kids at most once per gap, sharing a run in flight. */
export class UnknownKidReloader {
  private last = 0;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly load: () => Promise<void>) {}

  reload(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const now = Date.now();
    if (now - this.last < UNKNOWN_KID_RELOAD_GAP_MS) return Promise.resolve();
    this.last = now;
    this.inFlight = this.load().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }
}
