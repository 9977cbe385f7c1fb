import { Inject, Injectable, Optional } from '@nestjs/common';
import type { JWTPayload } from 'jose';
import { randomFillSync } from 'node:crypto';
import { parseDuration } from '../duration';
import {
  AlgorithmNotAllowedError,
  InvalidAudienceError,
  InvalidClaimError,
  InvalidIssuerError,
  InvalidSignatureError,
  InvalidTokenTypeError,
  MalformedTokenError,
  NoSigningKeyError,
  RevokedKeyError,
  TokenExpiredError,
  TokenIssuedInFutureError,
  TokenNotYetValidError,
  TokenRevokedError,
  TokenTooOldError,
  UnknownKeyError,
  UnsupportedHeaderError,
} from '../errors';
import { ACCESS_TOKEN_TYPE, JWT_ROTATION_OPTIONS, REFRESH_TOKEN_TYPE } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import type { ResolvedVerifierOptions } from '../verifier/jwt-verifier.options';
import { KeyRing, type RingKey } from '../keys/key-ring';
import { KEY_SOURCE, type KeySource } from '../keys/key-source';
import { RevocationView } from '../sessions/revocation-view';
import { normalizeType, ownClaimsProfile } from './claims-profile';
import type { DecodedToken, SignOptions, TokenHeader, TokenKind, VerifiedClaims, VerifyOptions } from './token.types';
import { TRUSTED_ISSUERS, type TrustedIssuer } from './trusted-issuer';

const TYPES: Readonly<Record<TokenKind, string>> = { access: ACCESS_TOKEN_TYPE, refresh: REFRESH_TOKEN_TYPE };
const NORMALIZED_TYPES: Readonly<Record<TokenKind, string>> = {
  access: `application/${ACCESS_TOKEN_TYPE}`,
  refresh: `application/${REFRESH_TOKEN_TYPE}`,
};
/** Claims the service sets itself; a payload that carries them is a caller mistake. */
const RESERVED_CLAIMS = ['iss', 'aud', 'iat', 'nbf', 'exp', 'jti'] as const;
/** Header members that would let a token choose its own key or demand unknown processing (RFC 8725 §3.10). */
const REFUSED_HEADER_MEMBERS = ['jwk', 'jku', 'x5u', 'x5c', 'crit', 'b64', 'zip'] as const;
const HEADER_CACHE_SIZE = 64;
/** Bytes of a generated `jti` (128 bits). */
const JTI_BYTES = 16;
/** The CSPRNG is read this many bytes at a time for `jti`s; every byte is handed out once. */
const RANDOM_POOL_BYTES = 4096;

/**
 * Signs and verifies tokens with the rotating key ring. `sign` and `verify` run synchronously on
 * the in-memory ring; the async twins give the same results and may reload the ring once for an
 * unknown kid.
 */
@Injectable()
export class TokenService {
  private readonly toleranceSec: number;
  /** The issuer options on an issuer; `undefined` on a verifier, which signs nothing. */
  private readonly issuing: ResolvedJwtRotationOptions | undefined;
  /** The one issuer trusted when there is one (this service itself): no `iss` lookup before the key. */
  private readonly single: TrustedIssuer | undefined;
  private readonly byIssuer: ReadonlyMap<string, TrustedIssuer>;
  /** The `aud` of an access token for the default audience of the single issuer: the common case, looked up once. */
  private readonly defaultAudience: string | undefined;
  /** Parsed headers of tokens that verified; every token of one key and type shares its header. */
  private readonly headers = new Map<string, TokenHeader>();
  private headerSigner: RingKey | undefined;
  private signerHeaders: Partial<Record<TokenKind, string>> = {};

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions | ResolvedVerifierOptions,
    private readonly ring: KeyRing,
    @Inject(KEY_SOURCE) private readonly keySource: KeySource,
    private readonly revocations: RevocationView,
    @Optional() @Inject(TRUSTED_ISSUERS) trusted?: readonly TrustedIssuer[],
  ) {
    this.toleranceSec = options.clockToleranceMs / 1000;
    this.issuing = options.role === 'issuer' ? options : undefined;
    const issuers = trusted ?? (this.issuing ? [this.ownIssuer(this.issuing)] : []);
    this.byIssuer = new Map(issuers.map((issuer) => [issuer.issuer, issuer]));
    this.single = issuers.length === 1 ? issuers[0] : undefined;
    this.defaultAudience = this.single?.audiences.default;
  }

  /** This service as the issuer of the tokens it verifies: its own ring, `at+jwt`, `jti` required, bounded lifetimes. */
  private ownIssuer(options: ResolvedJwtRotationOptions): TrustedIssuer {
    return {
      issuer: options.issuer,
      ring: this.ring,
      algorithms: new Set(options.acceptedAlgorithms),
      audiences: options.audiences,
      profile: ownClaimsProfile(options.rolesClaim, options.permissionsClaim),
      maxLifetimeSec: Math.ceil(options.maxTokenLifetimeMs / 1000),
      reloadForUnknownKid: () => this.keySource.reloadForUnknownKid(),
    };
  }

  /**
   * Signs a token with the current key. Throws `NoSigningKeyError` when no key could ever be loaded,
   * and a `TypeError` naming the claim for a token verify would refuse: a `sub`, `sid` or `jti` that
   * is not a string, a payload that is not JSON, a token longer than `maxTokenLength`.
   */
  sign<T extends object = JWTPayload>(payload: T = {} as T, options: SignOptions = {}): string {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new TypeError('sign() takes the payload as a plain object');
    }
    for (const claim of RESERVED_CLAIMS) {
      if (Object.hasOwn(payload, claim)) throw new TypeError(`sign(): "${claim}" is set by the library; use the sign options instead`);
    }
    const issuing = this.issuing;
    if (!issuing)
      throw new TypeError('TokenService.sign() is not available on a verifier (JwtRotationModule.forVerifier): its issuers sign');
    const kind = options.kind ?? 'access';
    const now = Date.now();
    const signer = this.ring.signer(now, issuing.algorithm);
    if (!signer) throw new NoSigningKeyError('No signing key is loaded: the key store has not been reachable since startup');
    const lifetimeMs = this.lifetime(issuing, kind, options.expiresIn);
    const iat = options.issuedAt ?? Math.floor(now / 1000);
    if (!Number.isSafeInteger(iat) || iat < 0) throw new TypeError('sign(): issuedAt must be whole seconds since the epoch');
    // Same claims, in the same order, as `{ ...payload, iss, aud, iat, nbf, exp, jti }`: on V8 that
    // literal (a spread then more properties) cost more than the HMAC, so the copy is built
    // property by property. An own `__proto__` member (from JSON.parse) keeps the spread, which
    // copies it as data where Object.assign would set the prototype.
    const fields = payload as Record<string, unknown>;
    const claims: Record<string, unknown> = Object.hasOwn(fields, '__proto__') ? { ...fields } : Object.assign({}, fields);
    claims.iss = issuing.issuer;
    claims.aud =
      options.audience === undefined && kind === 'access' ? this.defaultAudience : this.audience(this.single!, options.audience, kind);
    claims.iat = iat;
    claims.nbf = iat;
    claims.exp = iat + Math.ceil(lifetimeMs / 1000);
    claims.jti = options.jwtid ?? randomId();
    if (options.subject !== undefined) claims.sub = options.subject;
    // RFC 9068 §2.2: verifiers in strict mode (express-oauth2-jwt-bearer) require it.
    if (kind === 'access' && claims.client_id === undefined) claims.client_id = options.clientId ?? issuing.clientId;
    assertStringClaims(claims);
    const input = `${this.headerSegment(signer, kind)}.${Buffer.from(serializeClaims(claims)).toString('base64url')}`;
    const token = `${input}.${signer.key.sign(input)}`;
    if (token.length > this.options.maxTokenLength) {
      throw new TypeError(
        `sign(): the token would be ${token.length} characters, and verify refuses tokens longer than maxTokenLength (${this.options.maxTokenLength}); carry fewer or shorter claims, or raise maxTokenLength`,
      );
    }
    return token;
  }

  /** Same as {@link sign}; waits for the first key load if it has not finished. */
  async signAsync<T extends object = JWTPayload>(payload?: T, options?: SignOptions): Promise<string> {
    await this.keySource.ready();
    return this.sign(payload, options);
  }

  /**
   * Verifies a token against the in-memory ring and returns its claims; throws a
   * `TokenVerificationError` subclass, with a stable `code`, for every reason it refuses one.
   */
  verify<T extends object = JWTPayload>(token: string, options: VerifyOptions = {}): VerifiedClaims<T> {
    if (typeof token !== 'string' || token.length === 0) throw new MalformedTokenError('The token is empty');
    if (token.length > this.options.maxTokenLength) throw new MalformedTokenError('The token is longer than maxTokenLength');
    const dot1 = token.indexOf('.');
    const dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1);
    if (dot1 <= 0 || dot2 <= dot1 + 1 || dot2 === token.length - 1 || token.indexOf('.', dot2 + 1) !== -1) {
      throw new MalformedTokenError('The token is not three non-empty base64url segments');
    }
    const headerSegment = token.slice(0, dot1);
    const kind = options.kind ?? 'access';
    const cachedHeader = this.headers.get(headerSegment);
    const header = cachedHeader ?? parseHeader(headerSegment);
    // Several issuers: the token's claimed `iss` picks the only keys it may be verified with.
    let claims: Record<string, unknown> | undefined;
    let trusted = this.single;
    if (trusted === undefined) {
      claims = parseObject(token.slice(dot1 + 1, dot2), 'payload');
      trusted = typeof claims.iss === 'string' ? this.byIssuer.get(claims.iss) : undefined;
      if (!trusted) throw new InvalidIssuerError('The token issuer is not accepted');
    }

    if (!trusted.algorithms.has(header.alg)) throw new AlgorithmNotAllowedError('The token algorithm is not accepted');
    const typeKnown = header.typ === TYPES[kind];
    // This library always sets typ: a token of its own without one was not made by it (and keeps its round-1 code).
    if (header.typ === undefined && this.issuing) throw new MalformedTokenError('The token header has no "typ"');
    if (!typeKnown && !this.typeAccepted(trusted, header.typ, kind))
      throw new InvalidTokenTypeError(`Expected a token of type ${TYPES[kind]}`);
    const held = trusted.ring.get(header.kid);
    if (!held) throw new UnknownKeyError('The token was signed with a key this service does not know');
    if (held.entry.revokedAt !== undefined) throw new RevokedKeyError('The token was signed with a revoked key');
    // The prepared key's own algorithm, pinned when it was made: nothing read later can re-label it.
    if (held.key.alg !== header.alg) throw new AlgorithmNotAllowedError('The token algorithm does not match its key');
    const signingInput = token.slice(0, dot2);
    if (!held.key.verify(signingInput, token.slice(dot2 + 1))) throw new InvalidSignatureError('The token signature is invalid');
    if (cachedHeader === undefined) this.rememberHeader(headerSegment, header);

    claims ??= parseObject(token.slice(dot1 + 1, dot2), 'payload');
    this.checkClaims(claims, options, trusted);
    // A `typ` other than at+jwt (JWT, or none) is shared with the issuer's ID tokens: the profile's test tells them apart.
    const { accessTokenWhen } = trusted.profile;
    if (!typeKnown && accessTokenWhen && normalizeType(header.typ) !== NORMALIZED_TYPES.access && !accessTokenWhen(claims)) {
      throw new InvalidTokenTypeError('The token is not an access token of its issuer');
    }
    if (this.revocations.size > 0 && this.revocations.check(claims)) throw new TokenRevokedError('The token has been revoked');
    return claims as VerifiedClaims<T>;
  }

  /** `typ` compared as RFC 7515 §4.1.9 says; a foreign issuer's profile lists what its access tokens carry. */
  private typeAccepted(trusted: TrustedIssuer, typ: string | undefined, kind: TokenKind): boolean {
    const normalized = normalizeType(typ);
    if (normalized === undefined) return false;
    if (kind === 'refresh' || this.issuing) return normalized === NORMALIZED_TYPES[kind];
    return trusted.profile.types.has(normalized);
  }

  /** Same as {@link verify}; for a kid this instance does not know yet, reloads the ring once (rate-limited) and retries. */
  async verifyAsync<T extends object = JWTPayload>(token: string, options?: VerifyOptions): Promise<VerifiedClaims<T>> {
    try {
      return this.verify<T>(token, options);
    } catch (error) {
      if (!(error instanceof UnknownKeyError)) throw error;
      await this.trustedIssuerOf(token)
        ?.reloadForUnknownKid()
        .catch(() => undefined);
      return this.verify<T>(token, options);
    }
  }

  private trustedIssuerOf(token: string): TrustedIssuer | undefined {
    if (this.single) return this.single;
    const iss = this.decode(token).payload.iss;
    return typeof iss === 'string' ? this.byIssuer.get(iss) : undefined;
  }

  /** Reads a token's header and claims **without verifying anything**. Never trust the result. */
  decode(token: string): DecodedToken {
    const parts = typeof token === 'string' ? token.split('.') : [];
    if (parts.length !== 3) throw new MalformedTokenError('The token is not three base64url segments');
    return { header: parseObject(parts[0], 'header'), payload: parseObject(parts[1], 'payload') };
  }

  private checkClaims(claims: Record<string, unknown>, options: VerifyOptions, trusted: TrustedIssuer): void {
    const now = Date.now() / 1000;
    const tolerance = this.toleranceSec;
    const { exp, nbf, iat, iss } = claims;
    const { profile, maxLifetimeSec } = trusted;
    if (!isNumericDate(exp)) throw new InvalidClaimError('The "exp" claim must be a number');
    if (!isNumericDate(iat)) throw new InvalidClaimError('The "iat" claim must be a number');
    if (nbf !== undefined && !isNumericDate(nbf)) throw new InvalidClaimError('The "nbf" claim must be a number');
    if (exp <= now - tolerance) throw new TokenExpiredError('The token has expired');
    // No token this issuer signs lives longer than its longest lifetime; a longer one outlives its key.
    if (maxLifetimeSec !== undefined && exp - iat > maxLifetimeSec + tolerance) {
      throw new InvalidClaimError('The token lifetime is longer than any this issuer signs');
    }
    if (nbf !== undefined && nbf > now + tolerance) throw new TokenNotYetValidError('The token is not valid yet');
    if (iat > now + tolerance) throw new TokenIssuedInFutureError('The token was issued in the future');
    if (iss !== trusted.issuer) throw new InvalidIssuerError('The token issuer is not accepted');
    const expected =
      options.audience === undefined && options.kind !== 'refresh' && trusted === this.single
        ? this.defaultAudience
        : this.audience(trusted, options.audience, options.kind ?? 'access');
    // Some providers name the audience in another claim (Cognito: `client_id`); the check itself never goes.
    const aud = claims[profile.audienceClaim];
    if (!(aud === expected || (Array.isArray(aud) && aud.includes(expected)))) {
      throw new InvalidAudienceError('The token is not meant for this audience');
    }
    const maxAgeMs = options.maxTokenAge === undefined ? this.options.maxTokenAgeMs : parseDuration(options.maxTokenAge);
    // A bad per-call maxTokenAge must not quietly switch the limit off.
    if (options.maxTokenAge !== undefined && maxAgeMs === undefined)
      throw new TypeError('verify(): maxTokenAge must be a positive duration');
    if (maxAgeMs !== undefined && now - iat > maxAgeMs / 1000 + tolerance)
      throw new TokenTooOldError('The token is older than maxTokenAge');
    if (claims.sub !== undefined && typeof claims.sub !== 'string') throw new InvalidClaimError('The "sub" claim must be a string');
    if (profile.requireJti ? typeof claims.jti !== 'string' : claims.jti !== undefined && typeof claims.jti !== 'string') {
      throw new InvalidClaimError('The "jti" claim must be a string');
    }
  }

  /**
   * The `aud` of a token. A refresh token without an explicit audience gets one of its own, so a
   * verifier elsewhere that forgets to check `typ` still never takes it for an access token.
   */
  private audience(trusted: TrustedIssuer, name: string | undefined, kind: TokenKind): string {
    if (name === undefined && kind === 'refresh') return `${trusted.issuer}#refresh`;
    const audiences = trusted.audiences;
    const key = name ?? 'default';
    const audience = audiences[key];
    if (typeof audience !== 'string' || !Object.hasOwn(audiences, key)) {
      throw new TypeError(`Unknown audience "${key}": add it to the audiences (or audience) option of JwtRotationModule`);
    }
    return audience;
  }

  private lifetime(options: ResolvedJwtRotationOptions, kind: TokenKind, expiresIn: SignOptions['expiresIn']): number {
    const fallback = kind === 'refresh' ? options.refreshTokenTtlMs : options.accessTokenTtlMs;
    if (expiresIn === undefined) return fallback;
    const ms = parseDuration(expiresIn);
    // A key lives for the longest token lifetime after it retires; a longer token would outlive its key.
    if (ms === undefined || ms > options.maxTokenLifetimeMs) {
      throw new TypeError(
        'sign(): expiresIn must be a positive duration no longer than accessTokenTtl or refreshTokenTtl, whichever is longer',
      );
    }
    return ms;
  }

  /** The encoded header of the current signer's tokens, made once per signer and kind. */
  private headerSegment(signer: RingKey, kind: TokenKind): string {
    if (signer !== this.headerSigner) {
      this.headerSigner = signer;
      this.signerHeaders = {};
    }
    return (this.signerHeaders[kind] ??= Buffer.from(
      JSON.stringify({ alg: signer.entry.alg, kid: signer.entry.kid, typ: TYPES[kind] }),
    ).toString('base64url'));
  }

  private rememberHeader(segment: string, header: TokenHeader): void {
    // Only headers of tokens whose signature verified get here, so forged ones cannot fill it.
    if (this.headers.size >= HEADER_CACHE_SIZE) this.headers.clear();
    this.headers.set(segment, header);
  }
}

/** Claims verify (or revocation) reads as strings, and the fix for each when it is not one. */
const STRING_CLAIMS = [
  ['sub', 'pass the subject as a string, e.g. { subject: String(user.id) }'],
  ['sid', 'pass the session id as a string'],
  ['jti', 'pass jwtid as a string'],
] as const;

/**
 * A token whose `sub` or `jti` is not a string never verifies, and one whose `sid` is not a string
 * escapes session revocation: refused when signing, where the mistake is made, rather than with a
 * 401 on every later request.
 */
function assertStringClaims(claims: Record<string, unknown>): void {
  for (const [claim, fix] of STRING_CLAIMS) {
    const value = claims[claim];
    if (value !== undefined && typeof value !== 'string') {
      throw new TypeError(`sign(): the "${claim}" claim must be a string, as verify requires; ${fix}`);
    }
  }
}

/** `JSON.stringify` of the claims, or a TypeError that names the claim at fault (never its value). */
function serializeClaims(claims: Record<string, unknown>): string {
  let json: string;
  try {
    json = JSON.stringify(claims);
  } catch {
    const culprit = Object.keys(claims).find((name) => {
      try {
        JSON.stringify(claims[name]);
        return false;
      } catch {
        return true;
      }
    });
    const what = culprit === undefined ? 'the payload' : `the "${culprit.slice(0, 64)}" claim`;
    // The JSON error itself is left out: a toJSON() of the caller's could put a value in its message.
    throw new TypeError(
      `sign(): ${what} cannot be serialized as JSON (a BigInt, a circular reference or a throwing toJSON()); use strings, numbers, booleans, arrays and plain objects`,
    );
  }
  if (json.charCodeAt(0) !== 0x7b) {
    throw new TypeError('sign(): the payload must serialize to a JSON object, and verify refuses anything else; remove its toJSON member');
  }
  return json;
}

let randomPool = Buffer.alloc(0);
let randomPoolOffset = 0;

/**
 * A random 128-bit `jti`, base64url. The bytes come from the CSPRNG 4 KiB at a time (as Node's
 * own randomUUID does): one randomBytes(16) call per token cost as much as signing it.
 */
function randomId(): string {
  if (randomPoolOffset + JTI_BYTES > randomPool.length) {
    randomPool = randomFillSync(Buffer.allocUnsafeSlow(RANDOM_POOL_BYTES));
    randomPoolOffset = 0;
  }
  const id = randomPool.toString('base64url', randomPoolOffset, randomPoolOffset + JTI_BYTES);
  randomPoolOffset += JTI_BYTES;
  return id;
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function parseObject(segment: string, part: 'header' | 'payload'): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch (error) {
    throw new MalformedTokenError(`The token ${part} is not base64url-encoded JSON`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MalformedTokenError(`The token ${part} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function parseHeader(segment: string): TokenHeader {
  const header = parseObject(segment, 'header');
  const { alg, kid, typ } = header;
  if (typeof alg !== 'string') throw new MalformedTokenError('The token header has no "alg"');
  for (const member of REFUSED_HEADER_MEMBERS) {
    if (Object.hasOwn(header, member)) throw new UnsupportedHeaderError(`The token header member "${member}" is not accepted`);
  }
  if (typeof kid !== 'string' || kid.length === 0) throw new MalformedTokenError('The token header has no "kid"');
  if (typ !== undefined && typeof typ !== 'string') throw new MalformedTokenError('The token header "typ" must be a string');
  return { alg, kid, typ };
}
