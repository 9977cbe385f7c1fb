/**
 * Stable codes for every failure the library reports. Match on `code`, never on the message.
 */
export type JwtRotationErrorCode =
  | 'ERR_JWT_MALFORMED'
  | 'ERR_JWT_ALGORITHM_NOT_ALLOWED'
  | 'ERR_JWT_HEADER_UNSUPPORTED'
  | 'ERR_JWT_KEY_UNKNOWN'
  | 'ERR_JWT_KEY_REVOKED'
  | 'ERR_JWT_SIGNATURE_INVALID'
  | 'ERR_JWT_EXPIRED'
  | 'ERR_JWT_NOT_YET_VALID'
  | 'ERR_JWT_ISSUED_IN_FUTURE'
  | 'ERR_JWT_TOO_OLD'
  | 'ERR_JWT_ISSUER_INVALID'
  | 'ERR_JWT_AUDIENCE_INVALID'
  | 'ERR_JWT_TYPE_INVALID'
  | 'ERR_JWT_CLAIM_INVALID'
  | 'ERR_JWT_REVOKED'
  | 'ERR_REFRESH_TOKEN_INVALID'
  | 'ERR_REFRESH_TOKEN_REUSED'
  | 'ERR_CSRF_REJECTED'
  | 'ERR_REFRESH_CONFLICT'
  | 'ERR_NO_SIGNING_KEY'
  | 'ERR_KEY_DECRYPTION_FAILED'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_CONFIG_INVALID'
  | 'ERR_TOKEN_MISSING'
  | 'ERR_AUTHORIZATION_MALFORMED';

/** Base class of every error the library throws on purpose (misuse of the API is a `TypeError`). */
export abstract class JwtRotationError extends Error {
  abstract readonly code: JwtRotationErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A token that fails verification. Every subclass maps to a 401 at the HTTP boundary. */
export abstract class TokenVerificationError extends JwtRotationError {}

export class MalformedTokenError extends TokenVerificationError {
  readonly code = 'ERR_JWT_MALFORMED' as const;
}
export class AlgorithmNotAllowedError extends TokenVerificationError {
  readonly code = 'ERR_JWT_ALGORITHM_NOT_ALLOWED' as const;
}
export class UnsupportedHeaderError extends TokenVerificationError {
  readonly code = 'ERR_JWT_HEADER_UNSUPPORTED' as const;
}
export class UnknownKeyError extends TokenVerificationError {
  readonly code = 'ERR_JWT_KEY_UNKNOWN' as const;
}
export class RevokedKeyError extends TokenVerificationError {
  readonly code = 'ERR_JWT_KEY_REVOKED' as const;
}
export class InvalidSignatureError extends TokenVerificationError {
  readonly code = 'ERR_JWT_SIGNATURE_INVALID' as const;
}
export class TokenExpiredError extends TokenVerificationError {
  readonly code = 'ERR_JWT_EXPIRED' as const;
}
export class TokenNotYetValidError extends TokenVerificationError {
  readonly code = 'ERR_JWT_NOT_YET_VALID' as const;
}
export class TokenIssuedInFutureError extends TokenVerificationError {
  readonly code = 'ERR_JWT_ISSUED_IN_FUTURE' as const;
}
export class TokenTooOldError extends TokenVerificationError {
  readonly code = 'ERR_JWT_TOO_OLD' as const;
}
export class InvalidIssuerError extends TokenVerificationError {
  readonly code = 'ERR_JWT_ISSUER_INVALID' as const;
}
export class InvalidAudienceError extends TokenVerificationError {
  readonly code = 'ERR_JWT_AUDIENCE_INVALID' as const;
}
export class InvalidTokenTypeError extends TokenVerificationError {
  readonly code = 'ERR_JWT_TYPE_INVALID' as const;
}
export class InvalidClaimError extends TokenVerificationError {
  readonly code = 'ERR_JWT_CLAIM_INVALID' as const;
}

/** The token's session, subject or `jti` was revoked (logout, log out everywhere, reuse detection). */
export class TokenRevokedError extends TokenVerificationError {
  readonly code = 'ERR_JWT_REVOKED' as const;
}

/** A request that carries no access token where the route's token sources look. */
export class TokenMissingError extends JwtRotationError {
  readonly code = 'ERR_TOKEN_MISSING' as const;
}
/** An `Authorization` header (or gRPC/packet metadata) that is not `Bearer` and exactly one token (RFC 6750 §3.1 `invalid_request`). */
export class MalformedAuthorizationError extends JwtRotationError {
  readonly code = 'ERR_AUTHORIZATION_MALFORMED' as const;
}
/** Every reason a guard refuses a credential: no token, a malformed header, or a token that fails verification. */
export type CredentialRejectionError = TokenMissingError | MalformedAuthorizationError | TokenVerificationError;

/** A refresh token that does not verify, belongs to no live session, or has outlived its session. */
export class RefreshTokenInvalidError extends JwtRotationError {
  readonly code = 'ERR_REFRESH_TOKEN_INVALID' as const;
}
/** A refresh token presented again after it was rotated: treated as theft, the whole session is revoked. */
export class RefreshTokenReusedError extends JwtRotationError {
  readonly code = 'ERR_REFRESH_TOKEN_REUSED' as const;
}
/**
 * Concurrent refreshes of one session kept changing it while this one tried to commit: nothing was
 * consumed, retry with the same refresh token. A 503 with `Retry-After` at the HTTP boundary.
 */
export class RefreshConflictError extends JwtRotationError {
  readonly code = 'ERR_REFRESH_CONFLICT' as const;
}

/**
 * A state-changing request authenticated by a session cookie came without a valid CSRF token, or
 * from another origin. Maps to a 403.
 */
export class CsrfRejectedError extends JwtRotationError {
  readonly code = 'ERR_CSRF_REJECTED' as const;
}

/** Signing was asked for before any key could be loaded (the store was never reachable). */
export class NoSigningKeyError extends JwtRotationError {
  readonly code = 'ERR_NO_SIGNING_KEY' as const;
}
/** A key record in the store could not be decrypted: a wrong `keyEncryptionSecret` or a tampered record. */
export class KeyDecryptionError extends JwtRotationError {
  readonly code = 'ERR_KEY_DECRYPTION_FAILED' as const;
}
/** The store (cache) did not answer, or answered with an error. */
export class StoreUnavailableError extends JwtRotationError {
  readonly code = 'ERR_STORE_UNAVAILABLE' as const;
}
/** The module configuration is invalid; thrown at startup, before the app listens. */
export class ConfigurationError extends JwtRotationError {
  readonly code = 'ERR_CONFIG_INVALID' as const;

  constructor(readonly problems: readonly string[]) {
    super(`JwtRotationModule configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
