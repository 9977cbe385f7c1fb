import type { CookieRequest } from './cookie-jar';

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
