import { TokenService } from '@app/jwt-rotation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, startExampleApp } from './support/example-app';
import { bearer, forgeHs256, sleepUntil } from './support/http';

interface GraphQLResponse {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string; reason?: string; stacktrace?: unknown } }>;
}

/** GraphQL over HTTP with Apollo, on the example app: the same guards and claims as its REST routes. */
describe('GraphQL (Apollo) on the example app', () => {
  let example: ExampleApp;
  let alice: string;
  let bob: string;

  const gql = async (query: string, token?: string): Promise<GraphQLResponse> => {
    const req = example.http().post('/graphql').set('Content-Type', 'application/json');
    if (token !== undefined) req.set('Authorization', bearer(token));
    const response = await req.send({ query });
    // Refusals are GraphQL errors, never an HTTP 500.
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body as GraphQLResponse;
  };
  const codes = (body: GraphQLResponse) => (body.errors ?? []).map((e) => [e.path?.join('.'), e.extensions?.code, e.extensions?.reason]);

  beforeAll(async () => {
    example = await startExampleApp('memory', { clockTolerance: '0s' });
    alice = (await example.login('alice')).access_token;
    bob = (await example.login('bob')).access_token;
  });
  afterAll(() => example?.close());

  it('resolves me with @Claims() for a valid token, and the public health field', async () => {
    const body = await gql('query { me { sub roles } health }', alice);
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ me: { sub: 'alice', roles: ['admin'] }, health: 'ok' });
  });

  it('answers health without any token', async () => {
    expect((await gql('query { health }')).data).toEqual({ health: 'ok' });
  });

  it.each([
    ['missing', async () => undefined, 'ERR_TOKEN_MISSING'],
    ['garbage', async () => 'not-a-jwt', 'ERR_JWT_MALFORMED'],
    [
      'forged',
      async () =>
        forgeHs256(
          { alg: 'HS256', typ: 'at+jwt', kid: 'nope' },
          { sub: 'mallory', iss: 'https://issuer.test', aud: 'https://issuer.test' },
        ),
      'ERR_JWT_KEY_UNKNOWN',
    ],
    ['wrong-audience', async () => (await example.login('alice', 'api')).access_token, 'ERR_JWT_AUDIENCE_INVALID'],
  ])('refuses a %s token on me with UNAUTHENTICATED, and still resolves health', async (_, token, reason) => {
    const body = await gql('query { me { sub } health }', await token());
    expect(codes(body)).toEqual([['me', 'UNAUTHENTICATED', reason]]);
    expect(body.data).toEqual(null);
    // `me` is non-null, so its error nulls the whole data; a nullable neighbour keeps its value:
    const split = await gql('query { health }', await token());
    expect(split.data).toEqual({ health: 'ok' });
    expect(JSON.stringify(body)).not.toContain('Internal server error');
  });

  it('refuses an expired token with UNAUTHENTICATED ERR_JWT_EXPIRED', async () => {
    const tokens = example.app.get(TokenService);
    const token = await tokens.signAsync({ roles: ['admin'] }, { subject: 'alice', expiresIn: 1 });
    // clockTolerance is 0 in this app: one second past exp is expired.
    await sleepUntil((tokens.decode(token).payload.exp as number) * 1000 + 1100);
    const body = await gql('query { me { sub } }', token);
    expect(codes(body)).toEqual([['me', 'UNAUTHENTICATED', 'ERR_JWT_EXPIRED']]);
  });

  it('runs createArticle for a token with articles:write and @Claims("sub") as author', async () => {
    const body = await gql('mutation { createArticle(title: "Hello") { title author } }', alice);
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ createArticle: { title: 'Hello', author: 'alice' } });
  });

  it('refuses createArticle without articles:write with FORBIDDEN, and without a token with UNAUTHENTICATED', async () => {
    expect(codes(await gql('mutation { createArticle(title: "x") { title } }', bob))).toEqual([
      ['createArticle', 'FORBIDDEN', 'ERR_INSUFFICIENT_SCOPE'],
    ]);
    expect(codes(await gql('mutation { createArticle(title: "x") { title } }'))).toEqual([
      ['createArticle', 'UNAUTHENTICATED', 'ERR_TOKEN_MISSING'],
    ]);
  });

  it('guards a field resolver: adminNote for alice, FORBIDDEN for bob with the rest of me intact', async () => {
    expect((await gql('query { me { sub adminNote } }', alice)).data).toEqual({ me: { sub: 'alice', adminNote: 'alice is an admin' } });
    const body = await gql('query { me { sub roles adminNote } health }', bob);
    expect(codes(body)).toEqual([['me.adminNote', 'FORBIDDEN', 'ERR_INSUFFICIENT_SCOPE']]);
    expect(body.data).toEqual({ me: { sub: 'bob', roles: ['user'], adminNote: null }, health: 'ok' });
  });
});
