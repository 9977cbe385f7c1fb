import { DEFAULT_TOKEN_SOURCES } from '../transports/token-source';
import { type Duration, parseDuration } from '../duration';
import { ConfigurationError } from '../errors';
import { stripUndefined, type ResolvedVerificationOptions } from '../jwt-rotation.options';
import { ASYMMETRIC_ALGORITHM_NAMES, type AsymmetricAlgorithm } from '../keys/algorithms';
import {
  type ClaimsPreset,
  type ClaimsProfile,
  type ClaimsProfileOptions,
  presetAlgorithms,
  resolveClaimsProfile,
} from '../tokens/claims-profile';

/** One issuer whose tokens a verifier accepts. */
export interface TrustedIssuerOptions {
  /** The exact `iss` of its tokens, e.g. `https://tenant.eu.auth0.com/` (Auth0 keeps the trailing slash). */
  issuer: string;
  /**
   * Its JSON Web Key Set. @default found by discovery: OIDC `/.well-known/openid-configuration`,
   * then RFC 8414 `/.well-known/oauth-authorization-server` (path-insertion, then path-append form)
   */
  jwksUri?: string;
  /**
   * The audience its tokens must carry: one string, or short names mapped to audiences (with a
   * `default`) for `@Audience()`. There is no way to switch the audience check off.
   */
  audience: string | Record<string, string>;
  /** Claims profile of a known provider; `claims` overrides its parts. @default 'rfc9068' */
  preset?: ClaimsPreset;
  /** A custom claims profile, or the parts of the preset to change. */
  claims?: ClaimsProfileOptions;
  /** Algorithms accepted; each key is pinned to the one its JWK declares. @default the preset's, else every asymmetric algorithm */
  algorithms?: AsymmetricAlgorithm[];
  /** How often the JWKS is fetched again; an unknown kid also triggers a (rate-limited) fetch. @default '5m' */
  refreshInterval?: Duration;
  /**
   * How long keys are kept while the JWKS cannot be fetched or comes back without a usable key;
   * past it they are dropped and tokens refused until the JWKS answers again. @default '1h'
   */
  maxStaleness?: Duration;
}

/**
 * Options of `JwtRotationModule.forVerifier()`: a service that only verifies tokens of trusted
 * issuers. It signs nothing, so none of the issuer's options (`algorithm`, `rotationInterval`,
 * `keyEncryptionSecret`, ...) exist here: passing one does not compile.
 */
export interface JwtVerifierModuleOptions {
  /** The issuers trusted; the token's `iss` picks one before any key is looked up. */
  issuers: TrustedIssuerOptions[];
  /** Leeway for `exp`, `nbf` and `iat` between clocks. @default '30s' */
  clockTolerance?: Duration | 0;
  /** Reject tokens whose `iat` is older than this, whatever their `exp`. @default undefined (no limit) */
  maxTokenAge?: Duration;
  /** `realm` of the `WWW-Authenticate` challenge. @default the first issuer */
  realm?: string;
  /** Longest token accepted, in characters. @default 8192 */
  maxTokenLength?: number;
  /** Largest JWKS or metadata document read, in bytes. @default 262144 (256 KiB) */
  jwksMaxBytes?: number;
  /** Most keys taken from one JWKS. @default 100 */
  jwksMaxKeys?: number;
}

/** One trusted issuer after validation. */
export interface ResolvedTrustedIssuer {
  readonly issuer: string;
  /** `undefined`: found by discovery. */
  readonly jwksUri: URL | undefined;
  readonly algorithms: readonly AsymmetricAlgorithm[];
  readonly audiences: Readonly<Record<string, string>>;
  readonly profile: ClaimsProfile;
  readonly refreshIntervalMs: number;
  readonly maxStalenessMs: number;
}

/** The verifier's options after defaults and validation. */
export interface ResolvedVerifierOptions extends ResolvedVerificationOptions {
  readonly role: 'verifier';
  readonly issuers: readonly ResolvedTrustedIssuer[];
  readonly jwksMaxBytes: number;
  readonly jwksMaxKeys: number;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** `https`, or `http` to a loopback host only (tests, a sidecar): keys fetched in clear text could be anyone's. */
export function isAllowedFetchUrl(url: URL): boolean {
  return (
    url.protocol === 'https:' || (url.protocol === 'http:' && (LOOPBACK.has(url.hostname) || /^127(\.\d{1,3}){3}$/.test(url.hostname)))
  );
}

/** Validates the verifier's options, or throws a {@link ConfigurationError} listing every problem. */
export function resolveVerifierOptions(input: JwtVerifierModuleOptions): ResolvedVerifierOptions {
  if (typeof input !== 'object' || input === null) {
    throw new ConfigurationError([
      'options must be an object such as { issuers: [{ issuer: "https://auth.example.com/", audience: "https://api.example.com" }] }',
    ]);
  }
  const problems: string[] = [];
  const issuers: ResolvedTrustedIssuer[] = [];
  if (!Array.isArray(input.issuers) || input.issuers.length === 0) {
    problems.push(
      'issuers must list at least one trusted issuer, e.g. [{ issuer: "https://auth.example.com/", audience: "https://api.example.com" }]',
    );
  } else {
    const seen = new Set<string>();
    input.issuers.forEach((entry, index) => {
      const resolved = trustedIssuerOf(entry, `issuers[${index}]`, problems);
      if (!resolved) return;
      if (seen.has(resolved.issuer)) problems.push(`issuers[${index}].issuer is listed twice: each issuer appears once`);
      seen.add(resolved.issuer);
      issuers.push(resolved);
    });
  }
  const clockToleranceMs =
    input.clockTolerance === undefined || input.clockTolerance === 0
      ? input.clockTolerance === 0
        ? 0
        : 30_000
      : parseDuration(input.clockTolerance);
  if (clockToleranceMs === undefined) problems.push("clockTolerance must be a duration such as '30s', or 0");
  const maxTokenAgeMs = input.maxTokenAge === undefined ? undefined : parseDuration(input.maxTokenAge);
  if (input.maxTokenAge !== undefined && maxTokenAgeMs === undefined) problems.push("maxTokenAge must be a positive duration such as '1h'");
  const realm = input.realm ?? issuers[0]?.issuer ?? 'api';
  if (typeof realm !== 'string' || !/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/.test(realm))
    problems.push('realm must be printable ASCII without quotes or backslashes');
  const maxTokenLength = positiveInteger(input.maxTokenLength, 8192, 256, 'maxTokenLength', problems);
  const jwksMaxBytes = positiveInteger(input.jwksMaxBytes, 262_144, 1024, 'jwksMaxBytes', problems);
  const jwksMaxKeys = positiveInteger(input.jwksMaxKeys, 100, 1, 'jwksMaxKeys', problems);
  for (const key of ['algorithm', 'rotationInterval', 'keyEncryptionSecret', 'accessTokenTtl', 'refreshTokenTtl', 'verifyOnly']) {
    // The types already refuse these; a plain-JavaScript or `as any` caller gets told too.
    if (Object.hasOwn(input, key))
      problems.push(`${key} is an issuer option: a verifier signs nothing (use JwtRotationModule.forRoot() for an issuer)`);
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return {
    role: 'verifier',
    issuers,
    realm,
    maxTokenLength,
    clockToleranceMs: clockToleranceMs!,
    maxTokenAgeMs,
    rolesClaim: 'roles',
    permissionsClaim: 'permissions',
    tokenFrom: DEFAULT_TOKEN_SOURCES,
    transports: {},
    jwksMaxBytes,
    jwksMaxKeys,
  };
}

function positiveInteger(value: number | undefined, fallback: number, min: number, name: string, problems: string[]): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) problems.push(`${name} must be a whole number of at least ${min}`);
  return value;
}

function trustedIssuerOf(entry: TrustedIssuerOptions, path: string, problems: string[]): ResolvedTrustedIssuer | undefined {
  if (typeof entry !== 'object' || entry === null) {
    problems.push(`${path} must be an object such as { issuer: "https://auth.example.com/", audience: "https://api.example.com" }`);
    return undefined;
  }
  const before = problems.length;
  const value = stripUndefined(entry) as TrustedIssuerOptions;
  if (typeof value.issuer !== 'string' || value.issuer.length === 0)
    problems.push(`${path}.issuer is required: the exact "iss" of the tokens`);
  else if (value.jwksUri === undefined && !parsesAsFetchUrl(value.issuer)) {
    problems.push(`${path}.issuer must be an https URL (http only for loopback) to be discovered, or give jwksUri`);
  }
  let jwksUri: URL | undefined;
  if (value.jwksUri !== undefined) {
    jwksUri = parsesAsFetchUrl(value.jwksUri);
    if (!jwksUri) problems.push(`${path}.jwksUri must be an https URL of the issuer's JWKS (http only for loopback hosts)`);
  }
  const audiences = typeof value.audience === 'string' ? { default: value.audience } : value.audience;
  if (typeof audiences !== 'object' || audiences === null || Array.isArray(audiences) || !Object.hasOwn(audiences, 'default')) {
    problems.push(
      `${path}.audience is required: the audience (or, for Cognito, the client id) the tokens must carry, or a map with a "default"`,
    );
  } else if (!Object.values(audiences).every((a) => typeof a === 'string' && a.length > 0)) {
    problems.push(`${path}.audience values must be non-empty strings`);
  }
  const audienceValues = audiences && typeof audiences === 'object' ? Object.values(audiences).filter((a) => typeof a === 'string') : [];
  const context = { audiences: audienceValues };
  const profile = resolveClaimsProfile(value.preset, value.claims, context, path, problems);
  const algorithms = value.algorithms ??
    (value.preset && profile ? presetAlgorithms(value.preset, context) : undefined) ?? [...ASYMMETRIC_ALGORITHM_NAMES];
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    !algorithms.every((a) => (ASYMMETRIC_ALGORITHM_NAMES as readonly string[]).includes(a))
  ) {
    problems.push(
      `${path}.algorithms must list asymmetric algorithms only (${ASYMMETRIC_ALGORITHM_NAMES.join(', ')}): a verifier never holds an HMAC secret`,
    );
  }
  const refreshIntervalMs = value.refreshInterval === undefined ? 300_000 : parseDuration(value.refreshInterval);
  if (refreshIntervalMs === undefined) problems.push(`${path}.refreshInterval must be a positive duration such as '5m'`);
  const maxStalenessMs = value.maxStaleness === undefined ? Math.max(3_600_000, refreshIntervalMs ?? 0) : parseDuration(value.maxStaleness);
  if (maxStalenessMs === undefined) problems.push(`${path}.maxStaleness must be a positive duration such as '1h'`);
  else if (refreshIntervalMs !== undefined && maxStalenessMs < refreshIntervalMs) {
    problems.push(`${path}.maxStaleness must be at least refreshInterval: keys would be dropped before the next fetch could renew them`);
  }
  if (problems.length > before || !profile) return undefined;
  return {
    issuer: value.issuer,
    jwksUri,
    algorithms,
    audiences: { ...(audiences as Record<string, string>) },
    profile,
    refreshIntervalMs: refreshIntervalMs!,
    maxStalenessMs: maxStalenessMs!,
  };
}

function parsesAsFetchUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    return isAllowedFetchUrl(url) ? url : undefined;
  } catch {
    return undefined;
  }
}
