import type { ExecutionContext } from '@nestjs/common';
import type { JwtRotationErrorCode } from '../errors';
import type { VerifiedClaims } from '../tokens/token.types';
import type { BearerErrorCode } from './www-authenticate';
import type { BuiltInTokenSource } from './token-source';

/** What a guard tells the client when it refuses: fixed text, never a token, a secret or a claim value. */
export interface Refusal {
  /**
   * The RFC 6750 error, which also decides the kind of refusal: none (no credential) or
   * `invalid_token` is unauthenticated, `invalid_request` a malformed credential, `insufficient_scope`
   * forbidden.
   */
  readonly bearerError: BearerErrorCode | undefined;
  /** Stable code of the reason: the library error's, or `ERR_INSUFFICIENT_SCOPE` for a missing role or permission. */
  readonly code: JwtRotationErrorCode | 'ERR_INSUFFICIENT_SCOPE';
  readonly description: string;
  /** `realm` of the HTTP challenge (option `realm`). */
  readonly realm: string;
}

/**
 * How requests of one Nest context type (`context.getType()`) carry their credential and their
 * verified claims, and how that transport refuses one. The library has one for `http`, `graphql`,
 * `ws` and `rpc`; register your own for another context type with the `transports` option.
 */
export interface JwtTransport<TRequest extends object = object> {
  /** The object the credential is read from and the verified claims are attached to. */
  request(context: ExecutionContext): TRequest;
  /**
   * The raw value a token source names on this request, or `undefined` when this transport has no
   * such place. For `'authorization'`, the whole header value (`Bearer <token>`).
   */
  read(request: TRequest, source: BuiltInTokenSource, context: ExecutionContext): string | undefined;
  attach(request: TRequest, claims: VerifiedClaims): void;
  claims(request: TRequest): VerifiedClaims | undefined;
  /** The exception to throw for a refusal, in this transport's own terms. */
  refuse(context: ExecutionContext, refusal: Refusal): unknown;
}

/** The two answers every non-HTTP transport uses, after Apollo's conventions: the kind of refusal, whatever its reason. */
export type RefusalKind = 'UNAUTHENTICATED' | 'FORBIDDEN';

export function refusalKind(refusal: Refusal): RefusalKind {
  return refusal.bearerError === 'insufficient_scope' ? 'FORBIDDEN' : 'UNAUTHENTICATED';
}
