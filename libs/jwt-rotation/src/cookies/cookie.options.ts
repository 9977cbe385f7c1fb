/** Cookies for browser apps: the tokens in httpOnly cookies, and a CSRF token the page sends back. */
export interface SessionCookieOptions {
  /** Cookie of the access token, sent on every request to the app. @default '__Host-access_token' ('access_token' when `secure` is false) */
  accessTokenName?: string;
  /** Cookie of the refresh token, sent only to `refreshPath`. @default '__Secure-refresh_token' ('refresh_token' when `secure` is false) */
  refreshTokenName?: string;
  /** The path under which the app refreshes and logs out; the refresh cookie goes nowhere else. @default '/auth' */
  refreshPath?: string;
  /** The cookie readable by the page that holds the CSRF token. @default '__Host-csrf_token' ('csrf_token' when `secure` is false) */
  csrfCookieName?: string;
  /** The request header the page sends the CSRF token in. @default 'x-csrf-token' */
  csrfHeader?: string;
  /** `SameSite` of every cookie; `'none'` needs `secure`. @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none';
  /**
   * `Secure` on every cookie. Turn it off only for development over `http://` on localhost
   * (Chromium and Firefox already accept `Secure` cookies there); refused when NODE_ENV is production.
   * @default true
   */
  secure?: boolean;
  /** Origins, besides the app's own, allowed to send state-changing cookie requests (e.g. `https://app.example.com`). @default [] */
  trustedOrigins?: string[];
}

export interface ResolvedCookieOptions {
  readonly accessTokenName: string;
  readonly refreshTokenName: string;
  readonly refreshPath: string;
  readonly csrfCookieName: string;
  readonly csrfHeader: string;
  readonly sameSite: 'lax' | 'strict' | 'none';
  readonly secure: boolean;
  readonly trustedOrigins: ReadonlySet<string>;
}

/** RFC 6265 §4.1.1 cookie-name (a token), of a sensible length. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
const PATH = /^\/[\x21-\x3a\x3c-\x7e]{0,255}$/;

/** Resolves and checks `cookies`; every problem is pushed with the option's name and the fix. */
export function resolveCookieOptions(
  value: SessionCookieOptions | undefined,
  problems: string[],
  environment = process.env.NODE_ENV,
): ResolvedCookieOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push("cookies must be an object such as { refreshPath: '/auth' } (or left out: cookies are opt-in)");
    return undefined;
  }
  const secure = value.secure ?? true;
  if (typeof secure !== 'boolean') problems.push('cookies.secure must be true or false');
  if (secure === false && environment === 'production') {
    problems.push('cookies.secure: false is for http://localhost development only; leave it unset in production (NODE_ENV=production)');
  }
  // __Host- needs Secure, Path=/ and no Domain; __Secure- needs Secure. Without Secure, plain names.
  const prefixed = (prefix: string, name: string) => (secure === false ? name : `${prefix}${name}`);
  const resolved = {
    accessTokenName: value.accessTokenName ?? prefixed('__Host-', 'access_token'),
    refreshTokenName: value.refreshTokenName ?? prefixed('__Secure-', 'refresh_token'),
    refreshPath: value.refreshPath ?? '/auth',
    csrfCookieName: value.csrfCookieName ?? prefixed('__Host-', 'csrf_token'),
    csrfHeader: (value.csrfHeader ?? 'x-csrf-token').toLowerCase(),
    sameSite: value.sameSite ?? 'lax',
    secure: secure !== false,
    trustedOrigins: new Set<string>(),
  };
  for (const option of ['accessTokenName', 'refreshTokenName', 'csrfCookieName'] as const) {
    const name: unknown = resolved[option];
    if (typeof name !== 'string' || !COOKIE_NAME.test(name)) {
      problems.push(`cookies.${option} must be a cookie name of 1-64 token characters (RFC 6265), e.g. "access_token"`);
    } else if (/^__(host|secure)-/i.test(name) && !resolved.secure) {
      problems.push(`cookies.${option}: a __Host- or __Secure- name needs cookies.secure; drop the prefix or the secure: false`);
    } else if (/^__host-/i.test(name) && option === 'refreshTokenName') {
      problems.push(
        'cookies.refreshTokenName cannot be __Host-: that prefix needs Path=/, and the refresh cookie is scoped to refreshPath',
      );
    }
  }
  if (new Set([resolved.accessTokenName, resolved.refreshTokenName, resolved.csrfCookieName]).size < 3) {
    problems.push('cookies: accessTokenName, refreshTokenName and csrfCookieName must differ');
  }
  if (typeof resolved.refreshPath !== 'string' || !PATH.test(resolved.refreshPath)) {
    problems.push("cookies.refreshPath must be an absolute path such as '/auth' (no ';' or spaces)");
  }
  if (typeof resolved.csrfHeader !== 'string' || !HEADER_NAME.test(resolved.csrfHeader)) {
    problems.push("cookies.csrfHeader must be a header name such as 'x-csrf-token'");
  }
  if (!['lax', 'strict', 'none'].includes(resolved.sameSite)) problems.push("cookies.sameSite must be 'lax', 'strict' or 'none'");
  if (resolved.sameSite === 'none' && !resolved.secure)
    problems.push("cookies.sameSite: 'none' needs cookies.secure (browsers refuse it otherwise)");
  for (const origin of value.trustedOrigins ?? []) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin) {
      problems.push(
        `cookies.trustedOrigins: "${String(origin).slice(0, 100)}" must be an origin such as "https://app.example.com" (scheme, host, port; no path)`,
      );
    } else resolved.trustedOrigins.add(origin);
  }
  return resolved;
}
