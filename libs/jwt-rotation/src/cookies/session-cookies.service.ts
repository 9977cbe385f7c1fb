import { Inject, Injectable, type OnApplicationBootstrap, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ConfigurationError, RefreshTokenInvalidError, RefreshTokenReusedError } from '../errors';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { SessionService } from '../sessions/session.service';
import type { SessionContext, TokenPair } from '../sessions/session.types';
import type { ResolvedCookieOptions } from './cookie.options';
import { clearCookie, COOKIE_PARSER_MISSING, type CookieRequest, hasCookieParser, readCookie, setCookie } from './cookie-jar';
import { csrfTokensFor, type CsrfTokens } from './csrf-tokens';
import { assertCsrf } from './same-origin';

/** What a cookie login or refresh answers: no token, only what the page needs. */
export interface CookieSessionResponse {
  /** Seconds until the access token (and its cookie) expires. */
  expires_in: number;
  /** Send it back in the CSRF header (default `x-csrf-token`) on every state-changing request. */
  csrf_token: string;
}

/**
 * Sessions for browser apps: the access and refresh tokens travel in httpOnly cookies the page's
 * JavaScript cannot read, and every state-changing request authenticated by them must come from the
 * app's own origin with the session's CSRF token in a header (OWASP's signed double submit). Use it
 * beside {@link SessionService}, which it calls for the sessions themselves. Needs the `cookies`
 * option of JwtRotationModule and a cookie parser (cookie-parser or @fastify/cookie).
 */
@Injectable()
export class SessionCookies implements OnApplicationBootstrap {
  private readonly resolved: ResolvedCookieOptions | undefined;
  private readonly csrf: CsrfTokens;
  private readonly refreshTtlMs: number;

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) options: ResolvedJwtRotationOptions,
    private readonly sessions: SessionService,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    this.resolved = options.cookies;
    this.refreshTtlMs = options.refreshTokenTtlMs;
    this.csrf = csrfTokensFor(options);
  }

  /** With cookies on, an app without a cookie parser stops at startup, told which one to register. */
  onApplicationBootstrap(): void {
    const adapter = this.adapterHost?.httpAdapter;
    if (!this.resolved || !adapter) return;
    if (!hasCookieParser(adapter.getType(), adapter.getInstance())) throw new ConfigurationError([COOKIE_PARSER_MISSING]);
  }

  private get cookies(): ResolvedCookieOptions {
    if (!this.resolved) {
      throw new ConfigurationError([
        'SessionCookies needs the cookies option of JwtRotationModule, e.g. cookies: { refreshPath: "/auth" }',
      ]);
    }
    return this.resolved;
  }

  /** Opens a session and sets its cookies: what `SessionService.issue()` takes, the pair kept out of the body. */
  async login(
    response: unknown,
    subject: string,
    claims?: Record<string, unknown>,
    options?: Parameters<SessionService['issue']>[2],
  ): Promise<CookieSessionResponse> {
    return this.write(response, await this.sessions.issue(subject, claims, options));
  }

  /** Trades the refresh cookie for new cookies. The request must pass the CSRF check for the refresh token's session. */
  async refresh(request: CookieRequest, response: unknown, context?: SessionContext): Promise<CookieSessionResponse> {
    const refreshToken = this.refreshTokenOf(request);
    this.assertCsrf(request, this.sessionIdOf(refreshToken));
    try {
      return this.write(response, await this.sessions.refresh(refreshToken, context));
    } catch (error) {
      // A dead refresh cookie is of no use to the browser: clear it with the answer.
      if (error instanceof RefreshTokenInvalidError || error instanceof RefreshTokenReusedError) {
        this.clear(response);
      }
      throw error;
    }
  }

  /** Ends the session of the refresh cookie (CSRF-checked) and clears every cookie. */
  async logout(request: CookieRequest, response: unknown): Promise<void> {
    const refreshToken = this.refreshTokenOf(request);
    const sid = this.sessionIdOf(refreshToken);
    this.assertCsrf(request, sid);
    // The refresh token's MAC, checked by sessionIdOf, proves the session is the caller's.
    await this.sessions.revokeSession(sid);
    this.clear(response);
  }

  /** Expires the access, refresh and CSRF cookies. */
  clear(response: unknown): void {
    clearCookie(response, this.cookies.accessTokenName, '/', true, this.cookies);
    clearCookie(response, this.cookies.refreshTokenName, this.cookies.refreshPath, true, this.cookies);
    clearCookie(response, this.cookies.csrfCookieName, '/', false, this.cookies);
  }

  /** The access token of the access cookie, if any. */
  accessTokenOf(request: CookieRequest): string | undefined {
    return readCookie(request, this.cookies.accessTokenName);
  }

  /**
   * Refuses (CsrfRejectedError, a 403) a state-changing request of session `sid` that comes from
   * another origin, or whose CSRF header does not match the CSRF cookie and the session. Safe
   * methods always pass.
   */
  assertCsrf(request: CookieRequest, sid: string): void {
    assertCsrf(request, sid, this.cookies, this.csrf);
  }

  private write(response: unknown, pair: TokenPair): CookieSessionResponse {
    const sid = this.sessionIdOf(pair.refresh_token);
    // As long as the session can go unrefreshed: the refresh token lifetime.
    const refreshSeconds = Math.max(1, Math.floor(this.refreshTtlMs / 1000));
    const csrf_token = this.csrf.mint(sid);
    const base = { httpOnly: true };
    setCookie(
      response,
      { ...base, name: this.cookies.accessTokenName, value: pair.access_token, path: '/', maxAgeSeconds: pair.expires_in },
      this.cookies,
    );
    setCookie(
      response,
      {
        ...base,
        name: this.cookies.refreshTokenName,
        value: pair.refresh_token,
        path: this.cookies.refreshPath,
        maxAgeSeconds: refreshSeconds,
      },
      this.cookies,
    );
    // The page reads this one (double submit); it is worth nothing without the session's cookies.
    setCookie(
      response,
      { name: this.cookies.csrfCookieName, value: csrf_token, path: '/', httpOnly: false, maxAgeSeconds: refreshSeconds },
      this.cookies,
    );
    return { expires_in: pair.expires_in, csrf_token };
  }

  private refreshTokenOf(request: CookieRequest): string {
    const token = readCookie(request, this.cookies.refreshTokenName);
    if (token === undefined) throw new RefreshTokenInvalidError('No refresh cookie: log in again');
    return token;
  }

  /** The session a refresh cookie names; its MAC is checked, so no one picks another session's CSRF check. */
  private sessionIdOf(refreshToken: string): string {
    const sid = this.sessions.sessionOf(refreshToken);
    if (sid === undefined) throw new RefreshTokenInvalidError('The refresh cookie is not a valid refresh token');
    return sid;
  }
}
