import type { KeyRing } from '../keys/key-ring';
import type { ClaimsProfile } from './claims-profile';

/**
 * An issuer whose tokens `TokenService.verify` accepts, with the keys of that issuer only: a token
 * is matched to its issuer by `iss` before any key is looked up, so one issuer's kid never
 * verifies a token that claims another.
 */
export interface TrustedIssuer {
  readonly issuer: string;
  readonly ring: KeyRing;
  readonly algorithms: ReadonlySet<string>;
  /** Short audience names (`@Audience()`) mapped to the audience values. */
  readonly audiences: Readonly<Record<string, string>>;
  readonly profile: ClaimsProfile;
  /** Longest lifetime of this issuer's tokens, in seconds; `undefined` when unknown (a foreign issuer). */
  readonly maxLifetimeSec: number | undefined;
  /** Reloads this issuer's keys for an unknown kid; shared by concurrent callers and rate-limited. */
  reloadForUnknownKid(): Promise<void>;
}

/** Injection token of the trusted issuers of a verifier (`readonly TrustedIssuer[]`). Absent on an issuer. */
export const TRUSTED_ISSUERS = Symbol('JWT_ROTATION_TRUSTED_ISSUERS');
