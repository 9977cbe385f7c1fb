import type { ExecutionContext } from '@nestjs/common';
import type { VerifiedClaims } from '../tokens/token.types';
import type { JwtTransport, Refusal } from './jwt-transport';
import { cookieValue } from './token-source';
import { bearerChallenge, bearerException, setResponseHeader } from './www-authenticate';

/** An Express or Fastify request as the guards see it; verified claims go to `user` (the convention Passport set). */
export interface HttpRequestLike {
  headers: Record<string, string | string[] | undefined>;
  user?: VerifiedClaims;
  method?: string;
  /** cookie-parser's or @fastify/cookie's parsed cookies, when installed. */
  cookies?: Record<string, string | undefined>;
  /** Express: the matched route. */
  route?: { path?: string };
  /** Fastify: the matched route. */
  routeOptions?: { url?: string };
}

/** HTTP (Express and Fastify): 401/403 with an RFC 6750 `WWW-Authenticate` challenge, 400 for a malformed header. */
export const httpTransport: JwtTransport<HttpRequestLike> = {
  request: (context) => context.switchToHttp().getRequest<HttpRequestLike>(),
  read(request, source) {
    if (source === 'authorization') {
      const header = request.headers.authorization;
      return typeof header === 'string' ? header : undefined;
    }
    if (typeof source === 'object' && 'cookie' in source)
      return request.cookies?.[source.cookie] ?? cookieValue(request.headers.cookie, source.cookie);
    return undefined;
  },
  attach(request, claims) {
    request.user = claims;
  },
  claims: (request) => request.user,
  refuse: (context, refusal) => httpRefusal(context.switchToHttp().getResponse(), refusal),
};

/** Sets the challenge on the response and returns the exception to throw. */
export function httpRefusal(response: unknown, refusal: Refusal): unknown {
  const description = refusal.bearerError === undefined ? undefined : refusal.description;
  setResponseHeader(response, 'WWW-Authenticate', bearerChallenge(refusal.realm, refusal.bearerError, description));
  return bearerException(refusal.bearerError, description);
}

/** `GET /me` for a log line: the route's template, never the URL a client sent. */
export function httpRouteOf(context: ExecutionContext, request: HttpRequestLike): string {
  const template = request.route?.path ?? request.routeOptions?.url ?? `${context.getClass().name}.${context.getHandler().name}`;
  return `${request.method ?? ''} ${template}`.trim();
}
