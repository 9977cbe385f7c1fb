import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  registerDecorator,
  validateSync,
  type ValidationArguments,
} from 'class-validator';
import { type ResolvedCookieOptions, resolveCookieOptions, type SessionCookieOptions } from './cookies/cookie.options';
import { type Duration, parseDuration } from './duration';
import { ConfigurationError } from './errors';
import { estimateSecretEntropyBits, MIN_SECRET_ENTROPY_BITS } from './keys/secret-entropy';
import { ALGORITHMS, isHmacAlgorithm, isSupportedAlgorithm, type JwtAlgorithm, SUPPORTED_ALGORITHMS } from './keys/algorithms';
import type { JwtTransport } from './transports/jwt-transport';
import { DEFAULT_TOKEN_SOURCES, type TokenSource, tokenSourceProblems, transportProblems } from './transports/token-source';

/** Options of `JwtRotationModule.forRoot()` / `forRootAsync()`. */
export interface JwtRotationModuleOptions {
  /** The `iss` of every token signed, and the issuer every token verified must carry. */
  issuer: string;
  /**
   * Short audience names mapped to the full `aud` strings. Must contain `default`.
   * @default { default: issuer }
   */
  audiences?: Record<string, string>;
  /** @default 'HS256' */
  algorithm?: JwtAlgorithm;
  /** How long one key signs before the next takes over. @default '15d' */
  rotationInterval?: Duration;
  /** @default '15m' */
  accessTokenTtl?: Duration;
  /** @default '30d' */
  refreshTokenTtl?: Duration;
  /** Leeway for `exp`, `nbf` and `iat` between clocks. @default '30s' */
  clockTolerance?: Duration | 0;
  /** Reject tokens whose `iat` is older than this, whatever their `exp`. @default undefined (no limit) */
  maxTokenAge?: Duration;
  /** Bytes of a generated HMAC secret; at least the hash size (32, 48, 64). @default 64 */
  secretLength?: number;
  /** Bits of a generated RSA modulus (RS*, PS*); at least 2048. @default 2048 */
  rsaModulusLength?: number;
  /**
   * Secret that encrypts key material at rest (AES-256-GCM), at least 32 characters and not
   * guessable: a repeated character, a repeated chunk or a run such as `abcd…` is refused at startup
   * (an estimate of at least 128 bits, see the README). Generate one with `openssl rand -base64 48`.
   * Required as soon as the cache store is not the in-memory one; with the in-memory store a
   * random secret is made per process.
   */
  keyEncryptionSecret?: string;
  /** Namespace of everything the library writes to the store. @default 'jwt-rotation' */
  keyPrefix?: string;
  /** Claim holding the roles checked by `RolesGuard`. @default 'roles' */
  rolesClaim?: string;
  /** Claim holding the permissions checked by `PermissionsGuard`. @default 'permissions' */
  permissionsClaim?: string;
  /** `realm` of the `WWW-Authenticate` challenge. @default issuer */
  realm?: string;
  /** Longest token accepted, in characters; longer ones are refused before any parsing. @default 8192 */
  maxTokenLength?: number;
  /**
   * How long after a refresh the refresh token it consumed may be presented again (a client that
   * retried after a 503 or a timeout, or whose answer was lost) and still get the pair that refresh
   * made, as long as that pair's refresh token is unused. Outside it, or once the successor was
   * refreshed, reuse is theft and revokes the session. `0` still gives concurrent duplicates the
   * winner's pair, but not a retry. @default '30s'
   */
  refreshReuseInterval?: Duration | 0;
  /**
   * Most sessions one subject may hold; a login beyond it ends the subject's oldest session, as a
   * logout would. Bounds `listSessions()` and "log out everywhere". @default 200
   */
  maxSessionsPerSubject?: number;
  /** A session not refreshed for this long ends. @default undefined (refreshTokenTtl bounds it) */
  sessionIdleTimeout?: Duration;
  /** No refresh extends a session past this age. @default undefined (no limit) */
  sessionMaxLifetime?: Duration;
  /**
   * The `client_id` of access tokens (RFC 9068 §2.2) when `sign()` is given none: the client that
   * asked for the token. @default issuer (the service signs for itself)
   */
  clientId?: string;
  /**
   * The URL of this issuer's JWKS, as its metadata documents name it (`jwks_uri`).
   * @default `<issuer>/.well-known/jwks.json`, where JwksController serves it
   */
  jwksUri?: string;
  /** Run the scheduled reconcile tick. Turn off only to drive rotation yourself. @default true */
  scheduleRotation?: boolean;
  /**
   * Tokens in httpOnly cookies for browser apps, with CSRF defence (see `SessionCookies`).
   * Opt-in: `cookies: {}` turns them on with the defaults. @default undefined (off)
   */
  cookies?: SessionCookieOptions;
  /**
   * Where guards look for the access token, in order, for routes without `@TokenFrom()`; see
   * {@link TokenSource}. Never the URL query string.
   * @default ['authorization', 'handshake'] (the Authorization header or gRPC/packet metadata, then socket.io's auth.token)
   */
  tokenFrom?: TokenSource[];
  /** Request models for other context types than http, graphql, ws and rpc, by `context.getType()`. */
  transports?: Record<string, JwtTransport>;
}

/**
 * What verification and the guards read; the issuer and the verifier configuration both resolve
 * to it, and `role` tells them apart in the one place that must know (which providers exist).
 */
export interface ResolvedVerificationOptions {
  /** `issuer`: this service signs the tokens it verifies; `verifier`: they come from trusted issuers' JWKS. */
  readonly role: 'issuer' | 'verifier';
  readonly realm: string;
  readonly maxTokenLength: number;
  readonly clockToleranceMs: number;
  readonly maxTokenAgeMs: number | undefined;
  /** Claim of this issuer's roles; on a verifier each issuer's claims profile decides. */
  readonly rolesClaim: string;
  /** Claim of this issuer's permissions; on a verifier each issuer's claims profile decides. */
  readonly permissionsClaim: string;
  /** Where guards look for the access token, for routes without `@TokenFrom()`. */
  readonly tokenFrom: readonly TokenSource[];
  /** Request models of context types beyond http, graphql, ws and rpc. */
  readonly transports: Readonly<Record<string, JwtTransport>>;
}

/** Options after defaults and validation, durations in milliseconds. */
export interface ResolvedJwtRotationOptions extends ResolvedVerificationOptions {
  readonly role: 'issuer';
  readonly issuer: string;
  readonly audiences: Readonly<Record<string, string>>;
  readonly algorithm: JwtAlgorithm;
  readonly rotationIntervalMs: number;
  readonly accessTokenTtlMs: number;
  readonly refreshTokenTtlMs: number;
  readonly clockToleranceMs: number;
  readonly maxTokenAgeMs: number | undefined;
  readonly secretLength: number;
  readonly rsaModulusLength: number;
  readonly keyEncryptionSecret: string | undefined;
  readonly keyPrefix: string;
  readonly rolesClaim: string;
  readonly permissionsClaim: string;
  readonly realm: string;
  readonly maxTokenLength: number;
  /** Algorithms a token may carry before its key's own is checked. */
  readonly acceptedAlgorithms: readonly JwtAlgorithm[];
  readonly scheduleRotation: boolean;
  readonly clientId: string;
  readonly jwksUri: string;
  readonly refreshReuseIntervalMs: number;
  readonly maxSessionsPerSubject: number;
  readonly sessionIdleTimeoutMs: number | undefined;
  readonly sessionMaxLifetimeMs: number | undefined;
  /** Longest lifetime any token signed by a key can have: a key must verify this long after it retires. */
  readonly maxTokenLifetimeMs: number;
  /** Period of the reconcile tick: a fraction of the rotation interval, so the next key is loaded well before it signs. */
  readonly reconcileIntervalMs: number;
  /** Session cookies, when on. */
  readonly cookies: ResolvedCookieOptions | undefined;
}

/** Shortest rotation interval: the next key must be published and loaded by every instance before it signs. */
export const MIN_ROTATION_INTERVAL_MS = 2000;

function IsDuration(allowZero = false) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isDuration',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) => (allowZero && (value === 0 || value === '0s')) || parseDuration(value) !== undefined,
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} must be a positive duration: whole seconds (900) or a string such as '90s', '15m', '12h', '15d'`,
      },
    });
}

/** The estimate is in `keys/secret-entropy.ts`; the message never holds the secret nor its score. */
function HasEntropy(minBits: number) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'hasEntropy',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || estimateSecretEntropyBits(value) >= minBits,
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} is too easy to guess (repeated or patterned characters; at least ${minBits} bits of randomness are needed): ` +
          'generate one with `openssl rand -base64 48`',
      },
    });
}

class OptionsSchema {
  @IsString()
  @IsNotEmpty({ message: 'issuer is required: set it to the URL or name of your API, e.g. "https://api.example.com"' })
  issuer: string;

  @IsIn(SUPPORTED_ALGORITHMS, { message: `algorithm must be one of ${SUPPORTED_ALGORITHMS.join(', ')}` })
  algorithm: JwtAlgorithm;

  @IsDuration() rotationInterval: Duration;
  @IsDuration() accessTokenTtl: Duration;
  @IsDuration() refreshTokenTtl: Duration;
  @IsDuration(true) clockTolerance: Duration;
  @IsOptional() @IsDuration() maxTokenAge?: Duration;
  @IsDuration(true) refreshReuseInterval: Duration;
  @IsOptional() @IsDuration() sessionIdleTimeout?: Duration;
  @IsOptional() @IsDuration() sessionMaxLifetime?: Duration;

  @IsInt({ message: 'secretLength must be a whole number of bytes' })
  @Max(1024, { message: 'secretLength must be at most 1024 bytes' })
  secretLength: number;

  @IsInt({ message: 'rsaModulusLength must be a whole number of bits' })
  @Min(2048, { message: 'rsaModulusLength must be at least 2048 bits (RFC 7518 §3.3)' })
  @Max(8192, { message: 'rsaModulusLength must be at most 8192 bits' })
  rsaModulusLength: number;

  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'keyEncryptionSecret must be at least 32 characters: generate one with `openssl rand -base64 48`' })
  @HasEntropy(MIN_SECRET_ENTROPY_BITS)
  keyEncryptionSecret?: string;

  @IsString()
  @Matches(/^[A-Za-z0-9:_.-]{1,64}$/, { message: 'keyPrefix must be 1-64 characters of letters, digits, ":", "_", "." or "-"' })
  keyPrefix: string;

  @IsString() @IsNotEmpty() rolesClaim: string;
  @IsString() @IsNotEmpty() permissionsClaim: string;
  @IsString()
  @Matches(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/, { message: 'realm must be printable ASCII without quotes or backslashes' })
  realm: string;

  @IsInt() @Min(256, { message: 'maxTokenLength must be at least 256' }) maxTokenLength: number;

  @IsInt({ message: 'maxSessionsPerSubject must be a whole number of sessions, e.g. 200' })
  @Min(1, { message: 'maxSessionsPerSubject must be at least 1' })
  @Max(100_000, { message: 'maxSessionsPerSubject must be at most 100000: listing and logging out every session read them all' })
  maxSessionsPerSubject: number;
  @IsBoolean() scheduleRotation: boolean;

  @IsOptional()
  @IsString()
  @IsNotEmpty({ message: 'clientId must be a non-empty string: the client_id of access tokens' })
  clientId?: string;

  @IsOptional()
  @IsUrl(
    { require_tld: false, require_protocol: true, protocols: ['https', 'http'] },
    { message: 'jwksUri must be the absolute URL where this issuer serves its JWKS, e.g. "https://api.example.com/.well-known/jwks.json"' },
  )
  jwksUri?: string;
}

const AUDIENCE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

function audienceProblems(audiences: unknown): string[] {
  if (typeof audiences !== 'object' || audiences === null || Array.isArray(audiences)) {
    return ['audiences must be an object mapping short names to audience strings, e.g. { default: "https://api.example.com" }'];
  }
  const problems: string[] = [];
  if (!Object.hasOwn(audiences, 'default')) {
    problems.push('audiences must contain a "default" entry: it is the audience of routes without @Audience()');
  }
  for (const [name, value] of Object.entries(audiences)) {
    if (!AUDIENCE_NAME.test(name))
      problems.push(`audiences: the name "${name.slice(0, 64)}" must be 1-64 letters, digits, "_", ".", ":" or "-"`);
    if (typeof value !== 'string' || value.length === 0) problems.push(`audiences.${name} must be a non-empty string`);
  }
  return problems;
}

/**
 * Merges defaults, validates every option and returns the resolved options, or throws a
 * {@link ConfigurationError} that lists every problem by option name.
 */
export function resolveOptions(input: JwtRotationModuleOptions): ResolvedJwtRotationOptions {
  if (typeof input !== 'object' || input === null) {
    throw new ConfigurationError(['options must be an object such as { issuer: "https://api.example.com" }']);
  }
  const issuer = input.issuer;
  const schema = Object.assign(new OptionsSchema(), {
    algorithm: 'HS256',
    rotationInterval: '15d',
    accessTokenTtl: '15m',
    refreshTokenTtl: '30d',
    clockTolerance: '30s',
    refreshReuseInterval: '30s',
    maxSessionsPerSubject: 200,
    secretLength: 64,
    rsaModulusLength: 2048,
    keyPrefix: 'jwt-rotation',
    rolesClaim: 'roles',
    permissionsClaim: 'permissions',
    realm: typeof issuer === 'string' && issuer ? issuer : 'api',
    maxTokenLength: 8192,
    scheduleRotation: true,
    ...stripUndefined(input),
  });
  const problems = validateSync(schema, { forbidUnknownValues: false }).flatMap((error) => Object.values(error.constraints ?? {}));
  const audiences = input.audiences ?? (typeof issuer === 'string' ? { default: issuer } : {});
  problems.push(...audienceProblems(audiences));

  const algorithm = isSupportedAlgorithm(schema.algorithm) && isHmacAlgorithm(schema.algorithm) ? ALGORITHMS[schema.algorithm] : undefined;
  if (algorithm && Number.isInteger(schema.secretLength) && schema.secretLength < algorithm.minSecretBytes) {
    problems.push(
      `secretLength must be at least ${algorithm.minSecretBytes} bytes for ${schema.algorithm} (the hash size, RFC 7518 §3.2); raise it or leave it unset (64)`,
    );
  }
  const rotationIntervalMs = parseDuration(schema.rotationInterval);
  if (rotationIntervalMs !== undefined && rotationIntervalMs < MIN_ROTATION_INTERVAL_MS) {
    problems.push(
      `rotationInterval must be at least ${MIN_ROTATION_INTERVAL_MS / 1000}s: the next key is published one interval ahead and must reach every instance before it signs`,
    );
  }
  if (input.tokenFrom !== undefined) problems.push(...tokenSourceProblems(input.tokenFrom, 'tokenFrom'));
  problems.push(...transportProblems(input.transports));
  const cookies = resolveCookieOptions(input.cookies, problems);
  if (Object.hasOwn(input, 'verifyOnly')) {
    problems.push(
      'verifyOnly is replaced by JwtRotationModule.forVerifier({ issuers: [{ issuer, jwksUri, audience }] }): a verifier is a configuration of its own',
    );
  }
  if (problems.length > 0) throw new ConfigurationError(problems);

  const accessTokenTtlMs = parseDuration(schema.accessTokenTtl)!;
  const refreshTokenTtlMs = parseDuration(schema.refreshTokenTtl)!;
  const interval = rotationIntervalMs!;
  return {
    role: 'issuer',
    issuer: schema.issuer,
    audiences: { ...audiences },
    algorithm: schema.algorithm,
    rotationIntervalMs: interval,
    accessTokenTtlMs,
    refreshTokenTtlMs,
    clockToleranceMs: parseDuration(schema.clockTolerance) ?? 0,
    maxTokenAgeMs: schema.maxTokenAge === undefined ? undefined : parseDuration(schema.maxTokenAge),
    secretLength: schema.secretLength,
    rsaModulusLength: schema.rsaModulusLength,
    keyEncryptionSecret: schema.keyEncryptionSecret,
    keyPrefix: schema.keyPrefix,
    rolesClaim: schema.rolesClaim,
    permissionsClaim: schema.permissionsClaim,
    realm: schema.realm,
    maxTokenLength: schema.maxTokenLength,
    scheduleRotation: schema.scheduleRotation,
    // With session cookies on, the access cookie is read after the Authorization header.
    tokenFrom: Object.freeze([
      ...(input.tokenFrom ??
        (cookies ? ['authorization' as const, { cookie: cookies.accessTokenName }, 'handshake' as const] : DEFAULT_TOKEN_SOURCES)),
    ]),
    transports: { ...input.transports },
    clientId: schema.clientId ?? schema.issuer,
    jwksUri: schema.jwksUri ?? `${schema.issuer.replace(/\/$/, '')}/.well-known/jwks.json`,
    // On an issuer every key is ours and each token is pinned to its key's algorithm, so the keys of
    // an algorithm configured before keep verifying until they expire.
    acceptedAlgorithms: [...SUPPORTED_ALGORITHMS],
    refreshReuseIntervalMs: parseDuration(schema.refreshReuseInterval) ?? 0,
    maxSessionsPerSubject: schema.maxSessionsPerSubject,
    sessionIdleTimeoutMs: schema.sessionIdleTimeout === undefined ? undefined : parseDuration(schema.sessionIdleTimeout),
    sessionMaxLifetimeMs: schema.sessionMaxLifetime === undefined ? undefined : parseDuration(schema.sessionMaxLifetime),
    maxTokenLifetimeMs: Math.max(accessTokenTtlMs, refreshTokenTtlMs),
    reconcileIntervalMs: Math.min(60_000, Math.max(250, Math.floor(interval / 8))),
    cookies,
  };
}

export function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
