import type { ResolvedCookieOptions } from './cookie.options';

/** What Express (`res.cookie`, built in) and Fastify (`reply.setCookie`, from @fastify/cookie) offer. */
interface CookieResponse {
  cookie?: (name: string, value: string, options: Record<string, unknown>) => unknown;
  clearCookie?: (name: string, options: Record<string, unknown>) => unknown;
  setCookie?: (name: string, value: string, options: Record<string, unknown>) => unknown;
}

export interface CookieRequest {
  cookies?: Record<string, string | undefined>;
  headers: Record<string, string | string[] | undefined>;
  method?: string;
  protocol?: string;
}

export const COOKIE_PARSER_MISSING =
  'Session cookies need a cookie parser: on Express, app.use(cookieParser()) (npm install cookie-parser); ' +
  'on Fastify, await app.register(fastifyCookie) (npm install @fastify/cookie)';

/** One cookie to set: its value, its path, whether the page may read it, and its lifetime in seconds. */
export interface CookieSpec {
  readonly name: string;
  readonly value: string;
  readonly path: string;
  readonly httpOnly: boolean;
  readonly maxAgeSeconds: number;
}

/** Sets cookies on an Express or Fastify response through the platform's own API, attributes from the options. */
export function setCookie(response: unknown, spec: CookieSpec, options: ResolvedCookieOptions): void {
  const res = response as CookieResponse;
  const attributes = { path: spec.path, httpOnly: spec.httpOnly, secure: options.secure, sameSite: options.sameSite };
  if (typeof res.setCookie === 'function') {
    // Fastify's maxAge is in seconds.
    res.setCookie(spec.name, spec.value, { ...attributes, maxAge: spec.maxAgeSeconds });
  } else if (typeof res.cookie === 'function') {
    // Express's maxAge is in milliseconds.
    res.cookie(spec.name, spec.value, { ...attributes, maxAge: spec.maxAgeSeconds * 1000 });
  } else {
    throw new TypeError(COOKIE_PARSER_MISSING);
  }
}

/** Expires a cookie now (same name and path as when it was set). */
export function clearCookie(response: unknown, name: string, path: string, httpOnly: boolean, options: ResolvedCookieOptions): void {
  setCookie(response, { name, value: '', path, httpOnly, maxAgeSeconds: 0 }, options);
}

/** A cookie of the request, parsed by the app's cookie parser; a TypeError naming the parser when there is none. */
export function readCookie(request: CookieRequest, name: string): string | undefined {
  if (request.cookies === undefined) throw new TypeError(COOKIE_PARSER_MISSING);
  const value = request.cookies[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * Whether the app registered a cookie parser: cookie-parser among Express's middleware, or
 * @fastify/cookie's request decorator on Fastify. Another platform is taken on trust.
 */
export function hasCookieParser(platform: string, instance: unknown): boolean {
  if (platform === 'express') {
    const app = instance as { router?: { stack?: Array<{ name?: string }> }; _router?: { stack?: Array<{ name?: string }> } };
    const stack = app.router?.stack ?? app._router?.stack ?? [];
    return stack.some((layer) => layer.name === 'cookieParser');
  }
  if (platform === 'fastify') {
    const fastify = instance as { hasRequestDecorator?: (name: string) => boolean };
    return fastify.hasRequestDecorator?.('cookies') ?? false;
  }
  return true;
}
