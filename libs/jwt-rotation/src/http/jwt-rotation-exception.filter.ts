import {
  type ArgumentsHost,
  Catch,
  ForbiddenException,
  HttpStatus,
  Inject,
  Optional,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import {
  CsrfRejectedError,
  JwtRotationError,
  KeyDecryptionError,
  NoSigningKeyError,
  RefreshConflictError,
  RefreshTokenInvalidError,
  RefreshTokenReusedError,
  StoreUnavailableError,
  TokenVerificationError,
} from '../errors';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { bearerChallenge, ERROR_DESCRIPTIONS, setResponseHeader } from './www-authenticate';

/** Seconds a client is told to wait when the store is down. */
const RETRY_AFTER_SECONDS = '5';

/**
 * Turns the library's errors, thrown from your own handlers (refresh, logout, signing), into HTTP
 * answers: a refresh token that is invalid or reused is a 401, a token that fails verification a
 * 401 with an RFC 6750 challenge, the store being unreachable (or no usable signing key) a 503 with
 * `Retry-After`. Anything
 * else goes on to Nest's default handling.
 * @example
 * ```ts
 * providers: [{ provide: APP_FILTER, useClass: JwtRotationExceptionFilter }]
 * ```
 */
@Catch(JwtRotationError)
export class JwtRotationExceptionFilter extends BaseExceptionFilter {
  constructor(@Optional() @Inject(JWT_ROTATION_OPTIONS) private readonly options?: ResolvedJwtRotationOptions) {
    super();
  }

  override catch(error: JwtRotationError, host: ArgumentsHost): void {
    super.catch(this.toHttpException(error, host), host);
  }

  protected toHttpException(error: JwtRotationError, host: ArgumentsHost): unknown {
    const response = host.switchToHttp().getResponse<unknown>();
    if (error instanceof RefreshTokenInvalidError || error instanceof RefreshTokenReusedError) {
      return new UnauthorizedException({ statusCode: HttpStatus.UNAUTHORIZED, error: 'invalid_grant', message: error.message });
    }
    if (error instanceof CsrfRejectedError) {
      return new ForbiddenException({ statusCode: HttpStatus.FORBIDDEN, error: 'csrf_rejected', message: error.message });
    }
    if (error instanceof TokenVerificationError) {
      const description = ERROR_DESCRIPTIONS[error.code] ?? 'The access token is invalid';
      setResponseHeader(response, 'WWW-Authenticate', bearerChallenge(this.options?.realm ?? 'api', 'invalid_token', description));
      return new UnauthorizedException({ statusCode: HttpStatus.UNAUTHORIZED, error: 'invalid_token', message: description });
    }
    // A refresh conflict consumed nothing: retrying the same refresh token is the fix, as for an outage.
    if (
      error instanceof StoreUnavailableError ||
      error instanceof NoSigningKeyError ||
      error instanceof KeyDecryptionError ||
      error instanceof RefreshConflictError
    ) {
      setResponseHeader(response, 'Retry-After', RETRY_AFTER_SECONDS);
      return new ServiceUnavailableException({
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        error: 'Service Unavailable',
        message: 'Signing keys or sessions are unavailable right now; try again shortly',
      });
    }
    return error;
  }
}
