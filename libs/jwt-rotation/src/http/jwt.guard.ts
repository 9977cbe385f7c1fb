import { type CanActivate, type ExecutionContext, HttpException, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { TokenVerificationError, UnknownKeyError } from '../errors';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedVerificationOptions } from '../jwt-rotation.options';
import { TokenService } from '../tokens/token.service';
import type { VerifiedClaims } from '../tokens/token.types';
import type { RequestWithClaims } from './claims.decorator';
import { Audience, Public } from './metadata.decorators';
import { loggableKid, TokenRejections } from './token-rejections';
import { bearerChallenge, type BearerErrorCode, bearerException, ERROR_DESCRIPTIONS, setResponseHeader } from './www-authenticate';

interface HttpRequestLike extends RequestWithClaims {
  headers: Record<string, string | string[] | undefined>;
  method?: string;
  /** Express: the matched route. */
  route?: { path?: string };
  /** Fastify: the matched route. */
  routeOptions?: { url?: string };
}

/** `GET /me`: the route template (never the URL a client sent, which could carry anything). */
function routeOf(context: ExecutionContext, request: HttpRequestLike): string {
  const template = request.route?.path ?? request.routeOptions?.url ?? `${context.getClass().name}.${context.getHandler().name}`;
  return `${request.method ?? ''} ${template}`.trim();
}

interface RouteMetadata {
  readonly isPublic: boolean;
  readonly audience: string;
}

/** RFC 6750 §2.1: `Bearer` (any case, RFC 7235 §2.1), one or more spaces, one b64token. */
const BEARER = /^Bearer +[A-Za-z0-9\-._~+/]+=*$/i;
const SCHEME = /^Bearer(?: |$)/i;

/**
 * The credential of a `Bearer` `Authorization` header, as sent, with its syntax unchecked;
 * `undefined` when there is none. JwtGuard checks the syntax (BEARER) only for a token that fails
 * to verify: the check scans the whole header (about a tenth of a verification), and a token that
 * verifies was signed by this service's key ring, which signs nothing but base64url.
 */
function bearerCredential(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string' || !SCHEME.test(header)) return undefined;
  let start = 'Bearer'.length;
  while (header.charCodeAt(start) === 0x20) start++;
  return header.slice(start);
}

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
    @Inject(JWT_ROTATION_OPTIONS) protected readonly options: ResolvedVerificationOptions,
    protected readonly rejections: TokenRejections,
  ) {
    // Tokens this service's own key ring signed are well formed by construction; a foreign issuer's
    // (a verifier's) are not, nor what an overridden extractToken returns (see bearerCredential).
    this.defersSyntaxCheck = this.extractToken === JwtGuard.prototype.extractToken && options.role === 'issuer';
  }

  /** Whether the Bearer syntax is checked only for a token that fails to verify. */
  private readonly defersSyntaxCheck: boolean;

  /** @Public() and @Audience() of each route (controller, then handler), read on its first request. */
  private readonly routes = new WeakMap<object, WeakMap<object, RouteMetadata>>();

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const route = this.routeMetadata(context);
    if (route.isPublic) return true;
    const request = context.switchToHttp().getRequest<HttpRequestLike>();
    const deferred = this.defersSyntaxCheck;
    const token = deferred ? bearerCredential(request.headers.authorization) : this.extractToken(request, context);
    if (token === undefined) {
      this.rejections.record({ code: 'ERR_TOKEN_MISSING', route: routeOf(context, request), kid: undefined });
      throw this.onUnauthorized(context);
    }
    const { audience } = route;
    try {
      this.attach(request, this.tokens.verify(token, { audience }));
      return true;
    } catch (error) {
      // Only a kid this instance has not seen yet leaves the synchronous path: another instance
      // may have rotated. The reload behind it is shared and rate-limited.
      if (!(error instanceof UnknownKeyError)) throw this.refuse(context, error, token, deferred);
      return this.tokens.verifyAsync(token, { audience }).then(
        (claims) => {
          this.attach(request, claims);
          return true;
        },
        (retryError: unknown) => {
          throw this.refuse(context, retryError, token, deferred);
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
    const token = bearerCredential(header);
    if (token !== undefined && !BEARER.test(header as string)) throw this.malformedRequest(context, request);
    return token;
  }

  /** Sets the `WWW-Authenticate` challenge and returns the exception to throw. */
  protected onUnauthorized(context: ExecutionContext, error?: BearerErrorCode, description?: string): HttpException {
    setResponseHeader(context.switchToHttp().getResponse(), 'WWW-Authenticate', bearerChallenge(this.options.realm, error, description));
    return bearerException(error, description);
  }

  protected attach(request: HttpRequestLike, claims: VerifiedClaims): void {
    request.user = claims;
  }

  /**
   * Route metadata is set by decorators when the class is defined, and Nest itself reads it once
   * per route at startup (guards, pipes, interceptors), so it is read once here too: the two
   * Reflector lookups per request cost more than a tenth of the whole verification.
   */
  private routeMetadata(context: ExecutionContext): RouteMetadata {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byHandler = this.routes.get(controller);
    let route = byHandler?.get(handler);
    if (route === undefined) {
      const targets = [handler, controller];
      route = {
        isPublic: Boolean(this.reflector.getAllAndOverride(Public, targets)),
        audience: this.reflector.getAllAndOverride(Audience, targets) ?? 'default',
      };
      if (typeof handler === 'function' && typeof controller === 'function') {
        if (byHandler === undefined) this.routes.set(controller, (byHandler = new WeakMap()));
        byHandler.set(handler, route);
      }
    }
    return route;
  }

  private malformedRequest(context: ExecutionContext, request: HttpRequestLike): HttpException {
    this.rejections.record({ code: 'ERR_AUTHORIZATION_MALFORMED', route: routeOf(context, request), kid: undefined });
    return this.onUnauthorized(context, 'invalid_request', 'The Authorization header must be Bearer and one token');
  }

  private refuse(context: ExecutionContext, error: unknown, token: string, syntaxUnchecked: boolean): unknown {
    if (!(error instanceof TokenVerificationError)) return error;
    const request = context.switchToHttp().getRequest<HttpRequestLike>();
    if (syntaxUnchecked && !BEARER.test(request.headers.authorization as string)) return this.malformedRequest(context, request);
    this.rejections.record({ code: error.code, route: routeOf(context, request), kid: loggableKid(token) });
    return this.onUnauthorized(context, 'invalid_token', ERROR_DESCRIPTIONS[error.code] ?? 'The access token is invalid');
  }
}
