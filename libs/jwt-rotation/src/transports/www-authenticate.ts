import { ForbiddenException, HttpException, UnauthorizedException, BadRequestException } from '@nestjs/common';
import type { JwtRotationErrorCode } from '../errors';

/** RFC 6750 §3.1 error codes. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** What the client is told about each refusal: fixed text, never a token, a secret or a claim value. */
export const ERROR_DESCRIPTIONS: Readonly<Partial<Record<JwtRotationErrorCode, string>>> = {
  ERR_JWT_MALFORMED: 'The access token is malformed',
  ERR_JWT_ALGORITHM_NOT_ALLOWED: 'The access token algorithm is not accepted',
  ERR_JWT_HEADER_UNSUPPORTED: 'The access token header is not accepted',
  ERR_JWT_KEY_UNKNOWN: 'The access token was signed with an unknown key',
  ERR_JWT_KEY_REVOKED: 'The access token was signed with a revoked key',
  ERR_JWT_SIGNATURE_INVALID: 'The access token signature is invalid',
  ERR_JWT_EXPIRED: 'The access token expired',
  ERR_JWT_NOT_YET_VALID: 'The access token is not valid yet',
  ERR_JWT_ISSUED_IN_FUTURE: 'The access token was issued in the future',
  ERR_JWT_TOO_OLD: 'The access token is too old',
  ERR_JWT_ISSUER_INVALID: 'The access token issuer is not accepted',
  ERR_JWT_AUDIENCE_INVALID: 'The access token is not valid for this audience',
  ERR_JWT_TYPE_INVALID: 'The token is not an access token',
  ERR_JWT_CLAIM_INVALID: 'The access token has an invalid claim',
  ERR_JWT_REVOKED: 'The access token has been revoked',
};

/** A `WWW-Authenticate: Bearer` challenge (RFC 6750 §3). */
export function bearerChallenge(realm: string, error?: BearerErrorCode, description?: string): string {
  const params = [`realm="${realm}"`];
  if (error) params.push(`error="${error}"`);
  // RFC 6750 §3: error_description is printable ASCII without `"` and `\`.
  if (description) params.push(`error_description="${description.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '')}"`);
  return `Bearer ${params.join(', ')}`;
}

/** The HTTP exception for a Bearer error code: 400, 401 or 403 as RFC 6750 §3.1 assigns them. */
export function bearerException(error: BearerErrorCode | undefined, description?: string): HttpException {
  const body = { statusCode: 0, error: error ?? 'unauthorized', message: description ?? 'Authentication required' };
  switch (error) {
    case 'invalid_request':
      return new BadRequestException({ ...body, statusCode: 400 });
    case 'insufficient_scope':
      return new ForbiddenException({ ...body, statusCode: 403 });
    default:
      return new UnauthorizedException({ ...body, statusCode: 401 });
  }
}

/** Sets a header on an Express or Fastify response. */
export function setResponseHeader(response: unknown, name: string, value: string): void {
  const res = response as { setHeader?: (n: string, v: string) => void; header?: (n: string, v: string) => void };
  if (typeof res.setHeader === 'function' && !('raw' in (res as object))) res.setHeader(name, value);
  else if (typeof res.header === 'function') res.header(name, value);
}
