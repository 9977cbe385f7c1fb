import type { ExecutionContext } from '@nestjs/common';

/**
 * Where a guard looks for the access token; the first source that holds one wins.
 * - `'authorization'`: the `Authorization: Bearer` header (HTTP, GraphQL over HTTP, a WebSocket
 *   handshake's headers), gRPC metadata `authorization`, or the `authorization` entry of a
 *   microservice packet's metadata (`ClientProxy#setOnDispatchHook`).
 * - `'handshake'`: socket.io's `auth.token` (`io(url, { auth: { token } })`).
 * - `{ cookie: 'name' }`: the named cookie of an HTTP request or WebSocket handshake.
 * - `{ field: 'name' }`: a field of the message payload (TCP, NATS, Redis, RabbitMQ, WebSocket messages).
 * - a function of the execution context, returning the bare token.
 *
 * The URL query string is never a source: it ends up in logs, history and `Referer` headers.
 */
export type TokenSource = BuiltInTokenSource | TokenSourceFunction;
export type BuiltInTokenSource = 'authorization' | 'handshake' | { readonly cookie: string } | { readonly field: string };
export type TokenSourceFunction = (context: ExecutionContext) => string | undefined;

/** `Authorization` header or metadata first, then socket.io's `auth.token`. */
export const DEFAULT_TOKEN_SOURCES: readonly TokenSource[] = Object.freeze(['authorization', 'handshake'] as const);

const NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;

/** Problems with a list of token sources, by option name (`tokenFrom`, or `@TokenFrom()` on a route). */
export function tokenSourceProblems(sources: unknown, where: string): string[] {
  if (!Array.isArray(sources) || sources.length === 0) {
    return [`${where} must be a non-empty array of token sources, e.g. ['authorization', { cookie: 'access_token' }]`];
  }
  const problems: string[] = [];
  sources.forEach((source: unknown, index) => {
    if (source === 'authorization' || source === 'handshake' || typeof source === 'function') return;
    const entry = source as { cookie?: unknown; field?: unknown; query?: unknown } | null;
    const keys = typeof entry === 'object' && entry !== null ? Object.keys(entry) : [];
    if (
      keys.length === 1 &&
      (keys[0] === 'cookie' || keys[0] === 'field') &&
      typeof entry![keys[0]] === 'string' &&
      NAME.test(entry![keys[0]] as string)
    ) {
      return;
    }
    if (keys.includes('query') || source === 'query') {
      problems.push(
        `${where}[${index}]: the URL query string is never a token source (it is logged and leaks through Referer); send the token in a header, a cookie or the handshake`,
      );
      return;
    }
    problems.push(
      `${where}[${index}] must be 'authorization', 'handshake', { cookie: '<name>' }, { field: '<name>' } or a function (context) => token`,
    );
  });
  return problems;
}

/** The value of one cookie in a `Cookie` header, or `undefined`. */
export function cookieValue(header: unknown, name: string): string | undefined {
  if (typeof header !== 'string') return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    const value = pair.slice(eq + 1).trim();
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}

/** A field of a message payload when it is a string. */
export function payloadField(data: unknown, name: string): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const value = (data as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

const TRANSPORT_MEMBERS = ['request', 'read', 'attach', 'claims', 'refuse'] as const;

/** Problems with the `transports` option: each entry must implement every member of `JwtTransport`. */
export function transportProblems(transports: unknown): string[] {
  if (transports === undefined) return [];
  if (typeof transports !== 'object' || transports === null || Array.isArray(transports)) {
    return ['transports must be an object mapping context types to transports, e.g. { kafka: myKafkaTransport }'];
  }
  return Object.entries(transports).flatMap(([type, transport]) => {
    const missing = TRANSPORT_MEMBERS.filter((member) => typeof (transport as Record<string, unknown> | null)?.[member] !== 'function');
    return missing.length === 0 ? [] : [`transports.${type} must implement JwtTransport: ${missing.join(', ')} missing`];
  });
}
