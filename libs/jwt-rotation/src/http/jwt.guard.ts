import { type CanActivate, type ExecutionContext, HttpException, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { CookieRequest } from '../cookies/cookie-jar';
import { csrfTokensFor } from '../cookies/csrf-tokens';
import { assertCsrf, isSafeMethod } from '../cookies/same-origin';
import {
  type CredentialRejectionError,
  MalformedAuthorizationError,
  MalformedTokenError,
  TokenMissingError,
  TokenVerificationError,
  UnknownKeyError,
} from '../errors';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions, ResolvedVerificationOptions } from '../jwt-rotation.options';
import { TokenService } from '../tokens/token.service';
import type { VerifiedClaims } from '../tokens/token.types';
import { httpRouteOf, httpTransport, type HttpRequestLike } from '../transports/http.transport';
import type { GraphQLRequestLike } from '../transports/graphql.transport';
import type { JwtTransport, Refusal } from '../transports/jwt-transport';
import type { RpcContextLike } from '../transports/rpc.transport';
import { cookieValue, DEFAULT_TOKEN_SOURCES, type TokenSource } from '../transports/token-source';
import { transportFor } from '../transports/transport-registry';
import type { SocketLike } from '../transports/ws.transport';
import {
  bearerChallenge,
  type BearerErrorCode,
  bearerException,
  ERROR_DESCRIPTIONS,
  setResponseHeader,
} from '../transports/www-authenticate';
import { Audience, Public, TokenFromMetadata } from './metadata.decorators';
import { loggableKid, TokenRejections } from './token-rejections';

/** What `JwtGuard` reads the credential from, by transport: an HTTP request, a GraphQL request, a WebSocket client or an RPC context. */
export type JwtRequest = HttpRequestLike | GraphQLRequestLike | SocketLike | RpcContextLike;

interface RouteMetadata {
  readonly isPublic: boolean;
  readonly audience: string;
  readonly sources: readonly TokenSource[];
  /** The context type this was read for: a handler serves one. */
  readonly type: string;
  /** HTTP with the `Authorization` header as its only source: the stock guard's fast path. */
  readonly bearerOnly: boolean;
}

/** RFC 6750 §2.1: `Bearer` (any case, RFC 7235 §2.1), one or more spaces, one b64token. */
const BEARER = /^Bearer +[A-Za-z0-9\-._~+/]+=*$/i;
const SCHEME = /^Bearer(?: |$)/i;
/** A bare token (cookie, handshake, payload field): one b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

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

/** Sources an HTTP request can hold: the header, cookies and functions (handshake and payload fields are other transports'). */
const readsOnHttp = (source: TokenSource): boolean =>
  source === 'authorization' || typeof source === 'function' || (typeof source === 'object' && 'cookie' in source);

/**
 * Verifies the access token of a request and attaches its claims, in every Nest transport: HTTP
 * (Express and Fastify, claims on `request.user`), GraphQL, WebSocket gateways and microservices
 * (gRPC, TCP...). Works per route (`@UseGuards(JwtGuard)`) or globally (`APP_GUARD`); `@Public()`
 * skips it, `@Audience()` chooses the audience required and `@TokenFrom()` where the token is read.
 * Refusals are each transport's own (401/403 with an RFC 6750 challenge, GraphQL `extensions.code`,
 * `WsException`, gRPC status), never a 500. Subclass it and override the protected hooks
 * (`getRequest`, `extractToken`, `onRejected`, `onUnauthorized`) to change extraction or responses.
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
    // (a verifier's) are not, nor what an overridden extractToken or getRequest returns (see bearerCredential).
    this.defersSyntaxCheck =
      this.extractToken === JwtGuard.prototype.extractToken &&
      this.getRequest === JwtGuard.prototype.getRequest &&
      options.role === 'issuer';
  }

  /** Whether the Bearer syntax is checked only for a token that fails to verify. */
  private readonly defersSyntaxCheck: boolean;

  /** @Public(), @Audience() and @TokenFrom() of each route (controller, then handler), read on its first request. */
  private readonly routes = new WeakMap<object, WeakMap<object, RouteMetadata>>();

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const route = this.routeMetadata(context);
    if (route.isPublic) return true;
    const deferred = route.bearerOnly && this.defersSyntaxCheck;
    // The fast path is HTTP with the stock getRequest: no transport lookup per request.
    const request = deferred ? context.switchToHttp().getRequest<HttpRequestLike>() : this.getRequest(context);
    let token: string | undefined;
    if (deferred) token = bearerCredential((request as HttpRequestLike).headers.authorization);
    else {
      try {
        token = this.extractToken(request, context);
      } catch (error) {
        throw this.refuse(context, error, undefined, false);
      }
    }
    if (token === undefined) throw this.refuse(context, new TokenMissingError('No access token'), undefined, false);
    const { audience } = route;
    try {
      const claims = this.tokens.verify(token, { audience });
      if (!deferred) this.checkCookieCsrf(context, request, token, claims);
      this.attach(request, claims, deferred ? undefined : context);
      return true;
    } catch (error) {
      // Only a kid this instance has not seen yet leaves the synchronous path: another instance
      // may have rotated. The reload behind it is shared and rate-limited.
      if (!(error instanceof UnknownKeyError)) throw this.refuse(context, error, token, deferred);
      return this.tokens.verifyAsync(token, { audience }).then(
        (claims) => {
          this.checkCookieCsrf(context, request, token, claims);
          this.attach(request, claims, context);
          return true;
        },
        (retryError: unknown) => {
          throw this.refuse(context, retryError, token, deferred);
        },
      );
    }
  }

  /** The object the credential is read from and the claims attached to: the HTTP request, the GraphQL request, the socket, the RPC context. */
  protected getRequest(context: ExecutionContext): JwtRequest {
    return context.getType() === 'http' ? context.switchToHttp().getRequest<HttpRequestLike>() : transportFor(context).request(context);
  }

  /**
   * The token from the route's sources (`@TokenFrom()`, else the `tokenFrom` option; by default the
   * `Authorization` header, then socket.io's `auth.token`); `undefined` when none holds one. A
   * Bearer header that is not exactly one token is a malformed request (RFC 6750 §3.1): throw
   * {@link MalformedAuthorizationError} (or any `TokenVerificationError`) to refuse.
   */
  protected extractToken(request: JwtRequest, context: ExecutionContext): string | undefined {
    const transport = transportFor(context);
    for (const source of this.routeMetadata(context).sources) {
      if (typeof source === 'function') {
        const token = source(context);
        if (typeof token === 'string' && token !== '') return bareToken(token);
        continue;
      }
      const value = transport.read(request, source, context);
      if (value === undefined || value === '') continue;
      if (source !== 'authorization') return bareToken(value);
      const token = bearerCredential(value);
      if (token === undefined) continue;
      if (!BEARER.test(value)) throw new MalformedAuthorizationError('The Authorization header must be Bearer and one token');
      return token;
    }
    return undefined;
  }

  /**
   * The exception to throw for a refused credential, in the transport's own terms. `error` is the
   * typed reason: {@link TokenMissingError}, {@link MalformedAuthorizationError} or a
   * `TokenVerificationError` subclass (expired, revoked, wrong audience...).
   */
  protected onRejected(context: ExecutionContext, error: CredentialRejectionError): unknown {
    const bearerError: BearerErrorCode | undefined =
      error instanceof TokenMissingError ? undefined : error instanceof MalformedAuthorizationError ? 'invalid_request' : 'invalid_token';
    const description =
      bearerError === 'invalid_request'
        ? 'The Authorization header must be Bearer and one token'
        : bearerError === 'invalid_token'
          ? (ERROR_DESCRIPTIONS[error.code] ?? 'The access token is invalid')
          : 'Authentication required';
    const transport = transportFor(context);
    if (transport === (httpTransport as JwtTransport)) return this.onUnauthorized(context, bearerError, bearerError && description);
    const refusal: Refusal = { bearerError, code: error.code, description, realm: this.options.realm };
    return transport.refuse(context, refusal);
  }

  /** HTTP: sets the `WWW-Authenticate` challenge and returns the exception to throw. */
  protected onUnauthorized(context: ExecutionContext, error?: BearerErrorCode, description?: string): HttpException {
    setResponseHeader(context.switchToHttp().getResponse(), 'WWW-Authenticate', bearerChallenge(this.options.realm, error, description));
    return bearerException(error, description);
  }

  /** Puts the claims where the transport keeps them; `context` is left out on the HTTP fast path (`request.user`). */
  protected attach(request: JwtRequest, claims: VerifiedClaims, context?: ExecutionContext): void {
    if (context === undefined || context.getType() === 'http') (request as HttpRequestLike).user = claims;
    else transportFor(context).attach(request, claims);
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
    const type = context.getType<string>();
    if (route === undefined || route.type !== type) {
      const targets = [handler, controller];
      const sources = this.reflector.getAllAndOverride(TokenFromMetadata, targets) ?? this.options.tokenFrom ?? DEFAULT_TOKEN_SOURCES;
      const httpSources = sources.filter(readsOnHttp);
      route = {
        isPublic: Boolean(this.reflector.getAllAndOverride(Public, targets)),
        audience: this.reflector.getAllAndOverride(Audience, targets) ?? 'default',
        sources,
        type,
        bearerOnly: type === 'http' && httpSources.length === 1 && httpSources[0] === 'authorization',
      };
      if (typeof handler === 'function' && typeof controller === 'function') {
        if (byHandler === undefined) this.routes.set(controller, (byHandler = new WeakMap()));
        byHandler.set(handler, route);
      }
    }
    return route;
  }

  /**
   * A browser sends cookies by itself, to any page's requests: a state-changing HTTP request whose
   * token came from the session cookie must also carry the session's CSRF token and come from the
   * app's origin (see SessionCookies). A Bearer token needs no such check.
   */
  private checkCookieCsrf(context: ExecutionContext, request: JwtRequest, token: string, claims: VerifiedClaims): void {
    const cookies = this.options.role === 'issuer' ? (this.options as ResolvedJwtRotationOptions).cookies : undefined;
    if (cookies === undefined || context.getType() !== 'http') return;
    const http = request as HttpRequestLike & CookieRequest;
    if (isSafeMethod(http.method)) return;
    const fromCookie = http.cookies?.[cookies.accessTokenName] ?? cookieValue(http.headers.cookie, cookies.accessTokenName);
    if (fromCookie !== token) return;
    assertCsrf(http, (claims as { sid?: string }).sid, cookies, csrfTokensFor(this.options as ResolvedJwtRotationOptions));
  }

  /** The exception for an error met on the way, or the error itself when it is not a credential's fault. */
  private refuse(context: ExecutionContext, error: unknown, token: string | undefined, syntaxUnchecked: boolean): unknown {
    let rejection: CredentialRejectionError;
    if (error instanceof TokenVerificationError || error instanceof TokenMissingError || error instanceof MalformedAuthorizationError) {
      rejection = error;
    } else return error;
    if (syntaxUnchecked && !BEARER.test((this.getRequest(context) as HttpRequestLike).headers.authorization as string)) {
      rejection = new MalformedAuthorizationError('The Authorization header must be Bearer and one token');
    }
    const kid = rejection instanceof TokenVerificationError && token !== undefined ? loggableKid(token) : undefined;
    this.rejections.record({ code: rejection.code, route: this.routeOf(context), kid });
    return this.onRejected(context, rejection);
  }

  /** `GET /me` for HTTP, `graphql Resolver.field` / `ws Gateway.handler` / `rpc Controller.handler` elsewhere. */
  private routeOf(context: ExecutionContext): string {
    const type = context.getType<string>();
    if (type === 'http') return httpRouteOf(context, context.switchToHttp().getRequest<HttpRequestLike>());
    return `${type} ${context.getClass().name}.${context.getHandler().name}`;
  }
}

/** A token from a source other than the header must be one b64token too; anything else is malformed before any parsing. */
function bareToken(token: string): string {
  if (!B64TOKEN.test(token)) throw new MalformedTokenError('The access token is not one b64token');
  return token;
}
