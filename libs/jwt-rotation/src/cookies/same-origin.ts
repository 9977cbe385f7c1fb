import { CsrfRejectedError } from '../errors';
import type { ResolvedCookieOptions } from './cookie.options';
import { type CookieRequest, readCookie } from './cookie-jar';
import type { CsrfTokens } from './csrf-tokens';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** GET, HEAD and OPTIONS change nothing, so they are never checked for CSRF. */
export function isSafeMethod(method: string | undefined): boolean {
  return SAFE_METHODS.has((method ?? 'GET').toUpperCase());
}

function header(request: CookieRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Whether a state-changing request comes from the app's own pages (OWASP: verify the origin with
 * standard headers). `Origin`, when the browser sends it, must be the app's own origin or a trusted
 * one; without it, `Sec-Fetch-Site` must say same-origin. A request with neither (a non-browser
 * client, an old browser) passes this check and still needs the CSRF token.
 */
export function isSameOriginRequest(request: CookieRequest, trustedOrigins: ReadonlySet<string>): boolean {
  const origin = header(request, 'origin');
  if (origin !== undefined) {
    if (trustedOrigins.has(origin)) return true;
    const host = header(request, 'host');
    const protocol = request.protocol ?? 'http';
    return host !== undefined && origin === `${protocol}://${host}`;
  }
  const site = header(request, 'sec-fetch-site');
  return site === undefined || site === 'same-origin';
}

/**
 * Refuses (CsrfRejectedError, a 403) a state-changing request of session `sid` authenticated by a
 * cookie that comes from another origin, or whose CSRF header does not match the CSRF cookie and the
 * session. Safe methods always pass.
 */
export function assertCsrf(request: CookieRequest, sid: string | undefined, cookies: ResolvedCookieOptions, csrf: CsrfTokens): void {
  if (isSafeMethod(request.method)) return;
  if (!isSameOriginRequest(request, cookies.trustedOrigins)) {
    throw new CsrfRejectedError('Cross-origin request refused: cookie-authenticated requests must come from the app itself');
  }
  const presented = request.headers[cookies.csrfHeader];
  const cookie = request.cookies === undefined ? undefined : readCookie(request, cookies.csrfCookieName);
  if (typeof sid !== 'string' || typeof presented !== 'string' || presented !== cookie || !csrf.verify(sid, presented)) {
    throw new CsrfRejectedError(`Missing or invalid CSRF token: send the csrf_token in the ${cookies.csrfHeader} header`);
  }
}
