import { Inject, Injectable, type INestApplicationContext } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { JwtRotationErrorCode } from '../errors';
import { ACCESS_TOKEN_TYPE, JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { KeyRing, type RingKey } from '../keys/key-ring';
import { TokenService } from '../tokens/token.service';
import type { SignOptions } from '../tokens/token.types';

/** Claims of a minted token: `sub` becomes the subject, every other member is copied as a claim. */
export type TestClaims = { sub?: string } & Record<string, unknown>;

/** Options of a minted token: the sign options except `subject` (from `claims.sub`) and `kind` (from the method). */
export type MintOptions = Omit<SignOptions, 'subject' | 'kind'>;

/**
 * The invalid tokens {@link JwtTestTokens.mintInvalidToken} makes, and the `code` of the error
 * `TokenService.verify` (and so `JwtGuard`, as a 401 `invalid_token`) refuses each with.
 */
export const INVALID_TOKEN_CODES = {
  /** Signed by the ring, `exp` in the past beyond the clock tolerance. */
  expired: 'ERR_JWT_EXPIRED',
  /** Signed by the ring, `nbf` in the future beyond the clock tolerance. */
  'not-yet-valid': 'ERR_JWT_NOT_YET_VALID',
  /** The current `kid` and valid claims, but a signature no key made. */
  forged: 'ERR_JWT_SIGNATURE_INVALID',
  /** Signed by the ring for an audience the app does not have. */
  'wrong-audience': 'ERR_JWT_AUDIENCE_INVALID',
  /** Signed by the ring with another `iss`. */
  'wrong-issuer': 'ERR_JWT_ISSUER_INVALID',
  /** A valid refresh token presented where an access token is expected. */
  'refresh-token': 'ERR_JWT_TYPE_INVALID',
  /** Signed, but naming a `kid` the ring does not hold. */
  'unknown-key': 'ERR_JWT_KEY_UNKNOWN',
  /** `alg: none` (RFC 8725 §3.1). */
  'alg-none': 'ERR_JWT_ALGORITHM_NOT_ALLOWED',
} as const satisfies Record<string, JwtRotationErrorCode>;

/** What kind of invalid token to make; see {@link INVALID_TOKEN_CODES}. */
export type InvalidTokenReason = keyof typeof INVALID_TOKEN_CODES;

/** Every {@link InvalidTokenReason}, for table-driven negative tests. */
export const INVALID_TOKEN_REASONS = Object.keys(INVALID_TOKEN_CODES) as InvalidTokenReason[];

/** One minute past the clock tolerance: far enough that no tolerance lets the token through. */
const BEYOND_TOLERANCE_SEC = 60;

/**
 * Mints real tokens with the app's own key ring, for tests: valid access and refresh tokens, the
 * `Authorization` header of a user, and invalid tokens of every kind the guard refuses.
 * Provided by {@link JwtRotationTestingModule}; for an app built with `JwtRotationModule` itself,
 * use {@link JwtTestTokens.from}.
 * @example
 * ```ts
 * const tokens = app.get(JwtTestTokens);
 * await request(app.getHttpServer()).get('/me').set(tokens.authorization({ sub: 'alice', roles: ['admin'] })).expect(200);
 * ```
 */
@Injectable()
export class JwtTestTokens {
  constructor(
    private readonly tokens: TokenService,
    private readonly ring: KeyRing,
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
  ) {}

  /** The minting helper of any initialised app or testing module that holds a `JwtRotationModule` issuer. */
  static from(app: INestApplicationContext): JwtTestTokens {
    const get = <T>(token: (abstract new (...args: never[]) => T) | symbol | string): T => app.get<T>(token as never, { strict: false });
    return new JwtTestTokens(get(TokenService), get(KeyRing), get<ResolvedJwtRotationOptions>(JWT_ROTATION_OPTIONS));
  }

  /** A valid access token (`typ: at+jwt`) carrying `claims`, as `TokenService.sign` makes it. */
  mintAccessToken(claims: TestClaims = {}, options: MintOptions = {}): string {
    const { sub, ...rest } = claims;
    return this.tokens.sign(rest, { ...options, subject: sub, kind: 'access' });
  }

  /**
   * A valid refresh token (`typ: refresh+jwt`). It verifies, but no session stands behind it:
   * to test refresh itself, log in through your app or call `SessionService.issue()`.
   */
  mintRefreshToken(claims: TestClaims = {}, options: MintOptions = {}): string {
    const { sub, ...rest } = claims;
    return this.tokens.sign(rest, { ...options, subject: sub, kind: 'refresh' });
  }

  /** `{ authorization: 'Bearer <access token>' }`, for supertest's `.set(...)`. */
  authorization(claims: TestClaims = {}, options: MintOptions = {}): { authorization: string } {
    return { authorization: `Bearer ${this.mintAccessToken(claims, options)}` };
  }

  /**
   * An access token that verification must refuse, for negative tests; `INVALID_TOKEN_CODES[reason]`
   * is the code it is refused with.
   */
  mintInvalidToken(reason: InvalidTokenReason, claims: TestClaims = {}, options: Pick<MintOptions, 'audience'> = {}): string {
    if (!Object.hasOwn(INVALID_TOKEN_CODES, reason)) {
      throw new TypeError(`mintInvalidToken(): unknown reason; use one of ${INVALID_TOKEN_REASONS.join(', ')}`);
    }
    if (reason === 'refresh-token') return this.mintRefreshToken(claims, options);
    const signer = this.signer();
    const now = Math.floor(Date.now() / 1000);
    const lifetime = Math.ceil(this.options.accessTokenTtlMs / 1000);
    const tolerance = Math.ceil(this.options.clockToleranceMs / 1000);
    const { sub, ...rest } = claims;
    const payload: Record<string, unknown> = {
      ...rest,
      iss: reason === 'wrong-issuer' ? 'https://wrong-issuer.invalid' : this.options.issuer,
      aud: reason === 'wrong-audience' ? 'https://wrong-audience.invalid' : this.audience(options.audience),
      iat: now,
      nbf: now,
      exp: now + lifetime,
      jti: randomBytes(16).toString('base64url'),
      ...(sub === undefined ? {} : { sub }),
    };
    if (reason === 'expired') {
      payload.iat = payload.nbf = now - lifetime - tolerance - BEYOND_TOLERANCE_SEC;
      payload.exp = (payload.iat as number) + lifetime;
    }
    if (reason === 'not-yet-valid') payload.nbf = now + tolerance + BEYOND_TOLERANCE_SEC;
    const header = {
      alg: reason === 'alg-none' ? 'none' : signer.entry.alg,
      kid: reason === 'unknown-key' ? randomBytes(16).toString('base64url') : signer.entry.kid,
      typ: ACCESS_TOKEN_TYPE,
    };
    const input = `${encode(header)}.${encode(payload)}`;
    const signature = signer.key.sign(input);
    if (reason === 'forged' || reason === 'alg-none') {
      return `${input}.${randomBytes(Buffer.from(signature, 'base64url').length).toString('base64url')}`;
    }
    return `${input}.${signature}`;
  }

  private signer(): RingKey {
    const signer = this.ring.signer(Date.now(), this.options.algorithm);
    if (!signer) throw new Error('JwtTestTokens: no signing key is loaded; mint after the app or testing module has been initialised');
    return signer;
  }

  private audience(name = 'default'): string {
    if (!Object.hasOwn(this.options.audiences, name)) {
      throw new TypeError(`Unknown audience "${name}": add it to the audiences option of the testing module`);
    }
    return this.options.audiences[name];
  }
}

function encode(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
