import type { ExecutionContext } from '@nestjs/common';
import type { VerifiedClaims } from '../tokens/token.types';
import type { HttpRequestLike } from './http.transport';
import { httpTransport } from './http.transport';
import { type JwtTransport, type Refusal, refusalKind } from './jwt-transport';
import { optionalPeer } from './optional-peer';

interface GraphQLPeer {
  GqlExecutionContext: { create(context: ExecutionContext): { getContext<T>(): T } };
}

/** A GraphQL request: the HTTP request the operation came in (`context: ({ req }) => ({ req })`). */
export type GraphQLRequestLike = HttpRequestLike;

/**
 * The error a refused resolver throws: Apollo (and graphql-js) copy `extensions` of the original
 * error into the response's `errors[]`, so `@nestjs/graphql` and `graphql` are not needed to build it.
 * Only the refused field is `null`; the other fields of the operation resolve as usual.
 */
export class GraphQLRefusalError extends Error {
  readonly extensions: { readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN'; readonly reason: Refusal['code'] };

  constructor(refusal: Refusal) {
    super(refusal.description);
    this.name = 'GraphQLRefusalError';
    this.extensions = { code: refusalKind(refusal), reason: refusal.code };
  }
}

/** GraphQL through `GqlExecutionContext` (`@nestjs/graphql`, an optional peer, loaded on the first GraphQL request). */
export const graphqlTransport: JwtTransport<GraphQLRequestLike> = {
  request(context) {
    const gql = optionalPeer<GraphQLPeer>('@nestjs/graphql').GqlExecutionContext.create(context).getContext<{ req?: GraphQLRequestLike }>();
    // Without an HTTP request (a subscription over WebSocket) the context itself carries the claims.
    const request = gql?.req ?? (gql as GraphQLRequestLike | undefined);
    if (typeof request !== 'object' || request === null) return { headers: {} };
    if (typeof request.headers !== 'object' || request.headers === null) return Object.assign(request, { headers: {} });
    return request;
  },
  read: (request, source, context) => httpTransport.read(request, source, context),
  attach(request: GraphQLRequestLike, claims: VerifiedClaims) {
    request.user = claims;
  },
  claims: (request) => request.user,
  refuse: (_context, refusal) => new GraphQLRefusalError(refusal),
};
