import { type CanActivate, type ExecutionContext, HttpException, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { TokenVerificationError, UnknownKeyError } from '../errors';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { TokenService } from '../tokens/token.service';
import type { VerifiedClaims } from '../tokens/token.types';
import type { RequestWithClaims } from './claims.decorator';
import { Audience, Public } from './metadata.decorators';
import { bearerChallenge, type BearerErrorCode, bearerException, ERROR_DESCRIPTIONS, setResponseHeader } from './www-authenticate';

interface HttpRequestLike extends RequestWithClaims {
  headers: Record<string, string | string[] | undefined>;
}

/** RFC 6750 §2.1: `Bearer` (any case, RFC 7235 §2.1), one or more spaces, one b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const SCHEME = /^Bearer(?: |$)/i;

/**
 * Verifies the Bearer access token of an HTTP request and puts its claims on `request.user`.
 * Works per route (`@UseGuards(JwtGuard)`) or globally (`APP_GUARD`); `@Public()` skips it and
 * `@Audience()` chooses the audience required. Refusals are 401 with an RFC 6750 challenge,
 * never a 500. Subclass it and override the protected hooks to change extraction or responses.
 */
@Injectable()
export class JwtGuard implements CanActivate {
  constructor(
    protected readonly tokens: TokenService,
    protected readonly reflector: Reflector,
    @Inject(JWT_ROTATION_OPTIONS) protected readonly options: ResolvedJwtRotationOptions,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride(Public, targets)) return true;
    const request = context.switchToHttp().getRequest<HttpRequestLike>();
    const token = this.extractToken(request, context);
    if (token === undefined) throw this.onUnauthorized(context);
    const audience = this.reflector.getAllAndOverride(Audience, targets) ?? 'default';
    try {
      this.attach(request, this.tokens.verify(token, { audience }));
      return true;
    } catch (error) {
      // Only a kid this instance has not seen yet leaves the synchronous path: another instance
      // may have rotated. The reload behind it is shared and rate-limited.
      if (!(error instanceof UnknownKeyError)) throw this.refuse(context, error);
      return this.tokens.verifyAsync(token, { audience }).then(
        (claims) => {
          this.attach(request, claims);
          return true;
        },
        (retryError: unknown) => {
          throw this.refuse(context, retryError);
        },
      );
    }
  }

  /**
   * The token from the `Authorization` header; `undefined` when there is no Bearer credential.
   * A Bearer header that is not exactly one token is a malformed request (RFC 6750 §3.1).
   */
  protected extractToken(request: HttpRequestLike, context: ExecutionContext): string | undefined {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !SCHEME.test(header)) return undefined;
    const match = BEARER.exec(header);
    if (!match) throw this.onUnauthorized(context, 'invalid_request', 'The Authorization header must be Bearer and one token');
    return match[1];
  }

  /** Sets the `WWW-Authenticate` challenge and returns the exception to throw. */
  protected onUnauthorized(context: ExecutionContext, error?: BearerErrorCode, description?: string): HttpException {
    setResponseHeader(context.switchToHttp().getResponse(), 'WWW-Authenticate', bearerChallenge(this.options.realm, error, description));
    return bearerException(error, description);
  }

  protected attach(request: HttpRequestLike, claims: VerifiedClaims): void {
    request.user = claims;
  }

  private refuse(context: ExecutionContext, error: unknown): unknown {
    if (!(error instanceof TokenVerificationError)) return error;
    return this.onUnauthorized(context, 'invalid_token', ERROR_DESCRIPTIONS[error.code] ?? 'The access token is invalid');
  }
}
