import type { JWTPayload } from 'jose';
import type { Duration } from '../duration';

/** Which kind of token: access tokens (`typ: at+jwt`, RFC 9068) or refresh tokens (`typ: refresh+jwt`). */
export type TokenKind = 'access' | 'refresh';

/** Claims of a verified token: the registered ones always present, plus your own. */
export type VerifiedClaims<T extends object = JWTPayload> = T &
  Required<Pick<JWTPayload, 'iss' | 'iat' | 'nbf' | 'exp' | 'jti'>> & { aud: string | string[]; sub?: string };

export interface SignOptions {
  /** Short audience name from the `audiences` option. @default 'default' */
  audience?: string;
  /** Lifetime, at most the longest of `accessTokenTtl` and `refreshTokenTtl`. @default accessTokenTtl or refreshTokenTtl */
  expiresIn?: Duration;
  /** The `sub` claim. */
  subject?: string;
  /** The `jti` claim. @default a random 128-bit id */
  jwtid?: string;
  /**
   * The `iat` (and `nbf`) claim, seconds since the epoch; `exp` follows from it. With `jwtid`, signs
   * again a token signed before (a retried refresh gets the same access token). @default now
   */
  issuedAt?: number;
  /** @default 'access' */
  kind?: TokenKind;
  /** `client_id` of an access token (RFC 9068 §2.2): the client that asked for it. @default the module's `clientId` */
  clientId?: string;
}

export interface VerifyOptions {
  /** Short audience name the token must carry. @default 'default' */
  audience?: string;
  /** @default 'access' */
  kind?: TokenKind;
  /** Overrides the module's `maxTokenAge` for this call. */
  maxTokenAge?: Duration;
}

/** The protected header of a token this library accepts. */
export interface TokenHeader {
  alg: string;
  kid: string;
  /** Optional in RFC 7515; this library's own tokens always carry one. */
  typ: string | undefined;
}

/** What `decode()` returns: header and claims, **not verified**. */
export interface DecodedToken {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}
