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
import { throwError } from 'rxjs';
import {
  CsrfRejectedError,
  JwtRotationError,
  KeyDecryptionError,
  MalformedAuthorizationError,
  NoSigningKeyError,
  RefreshConflictError,
  RefreshTokenInvalidError,
  RefreshTokenReusedError,
  StoreUnavailableError,
  TokenMissingError,
  TokenVerificationError,
} from '../errors';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { GraphQLRefusalError } from '../transports/graphql.transport';
import type { Refusal } from '../transports/jwt-transport';
import { optionalPeer } from '../transports/optional-peer';
import { rpcRefusalError } from '../transports/rpc.transport';
import { wsRefusalPayload } from '../transports/ws.transport';
import { bearerChallenge, ERROR_DESCRIPTIONS, setResponseHeader } from '../transports/www-authenticate';

/** Seconds a client is told to wait when the store is down. */
const RETRY_AFTER_SECONDS = '5';

const UNAVAILABLE = 'Signing keys or sessions are unavailable right now; try again shortly';

interface WebSocketsPeer {
  WsException: new (error: object) => unknown;
  BaseWsExceptionFilter: new () => { catch(exception: unknown, host: ArgumentsHost): void };
}

/**
 * Turns the library's errors, thrown from your own handlers (refresh, logout, signing), into each
 * transport's answers. Over HTTP a refresh token that is invalid or reused is a 401, a token that
 * fails verification a 401 with an RFC 6750 challenge, the store being unreachable (or no usable
 * signing key) a 503 with `Retry-After`; GraphQL gets `extensions.code` (`UNAUTHENTICATED`,
 * `SERVICE_UNAVAILABLE`), gateways an `exception` event and microservices an `RpcException`.
 * Anything else goes on to Nest's default handling.
 *
 * `JwtRotationModule` registers it globally itself: no app needs to add it. It stays exported for
 * subclasses and for apps that register it per controller.
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

  override catch(error: JwtRotationError, host: ArgumentsHost): unknown {
    const type = host.getType<string>();
    if (type === 'http') return super.catch(this.toHttpException(error, host), host);
    const refusal = this.refusalOf(error);
    if (refusal === undefined) return this.unhandled(error, host, type);
    if (type === 'graphql') return new GraphQLRefusalError(refusal);
    if (type === 'ws') {
      const ws = optionalPeer<WebSocketsPeer>('@nestjs/websockets');
      return new ws.BaseWsExceptionFilter().catch(new ws.WsException(wsRefusalPayload(refusal)), host);
    }
    if (type === 'rpc') return throwError(() => rpcRefusalError(host, refusal));
    return this.unhandled(error, host, type);
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
    if (isUnavailable(error)) {
      setResponseHeader(response, 'Retry-After', RETRY_AFTER_SECONDS);
      return new ServiceUnavailableException({
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        error: 'Service Unavailable',
        message: UNAVAILABLE,
      });
    }
    return error;
  }

  /** The refusal of a library error outside HTTP; `undefined` for one that is not the client's doing nor an outage. */
  private refusalOf(error: JwtRotationError): Refusal | undefined {
    const realm = this.options?.realm ?? 'api';
    if (error instanceof RefreshTokenInvalidError || error instanceof RefreshTokenReusedError || error instanceof TokenMissingError) {
      return { bearerError: undefined, code: error.code, description: error.message, realm };
    }
    if (error instanceof TokenVerificationError || error instanceof MalformedAuthorizationError) {
      return {
        bearerError: 'invalid_token',
        code: error.code,
        description: ERROR_DESCRIPTIONS[error.code] ?? 'The access token is invalid',
        realm,
      };
    }
    return undefined;
  }

  /** An outage or a configuration error outside HTTP: the transport's generic error, without details. */
  private unhandled(error: JwtRotationError, host: ArgumentsHost, type: string): unknown {
    const message = isUnavailable(error) ? UNAVAILABLE : 'Internal error';
    const code = isUnavailable(error) ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_SERVER_ERROR';
    if (type === 'graphql') return Object.assign(new Error(message), { extensions: { code, reason: error.code } });
    if (type === 'ws') {
      const ws = optionalPeer<WebSocketsPeer>('@nestjs/websockets');
      return new ws.BaseWsExceptionFilter().catch(new ws.WsException({ status: 'error', code, reason: error.code, message }), host);
    }
    // gRPC UNAVAILABLE (14) / INTERNAL (13); other transports the same shape as a refusal.
    const grpc = typeof (host.switchToRpc().getContext() as { getMap?: unknown })?.getMap === 'function';
    return throwError(() =>
      grpc ? { code: isUnavailable(error) ? 14 : 13, message } : { status: 'error', code, reason: error.code, message },
    );
  }
}

/** A refresh conflict consumed nothing: retrying the same refresh token is the fix, as for an outage. */
function isUnavailable(error: JwtRotationError): boolean {
  return (
    error instanceof StoreUnavailableError ||
    error instanceof NoSigningKeyError ||
    error instanceof KeyDecryptionError ||
    error instanceof RefreshConflictError
  );
}
