import type { ClaimsPreset } from '@app/jwt-rotation';
import type * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixtureServer, fixtureKey, type FixtureKey, now, signWith } from './support/fixture-idp';
import { startExampleApp } from './support/example-app';
import { startVerifierApp, type VerifierApp } from './support/verifier-app';

/**
 * Tokens shaped as each provider documents them, signed by the test with its own keys and served
 * from discovery metadata and a JWKS the test runs. Shapes follow:
 * - Auth0: https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles (default and RFC 9068
 *   profiles), https://auth0.com/docs/secure/tokens/id-tokens/id-token-structure; `permissions` from RBAC,
 *   `roles` as a custom claim added by an Action.
 * - Keycloak: an access token of Keycloak 2x (header `typ: JWT`, claim `typ: Bearer`, `realm_access`,
 *   `resource_access`, audience resolved from client roles); its ID token (`typ: ID`); its JWKS with an
 *   `enc` key beside the signing key.
 * - Cognito: https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html
 *   and ...-using-the-id-token.html (no `typ`, `token_use`, `client_id`, custom scopes `<resource-server>/<scope>`).
 * - Entra ID v2: https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference and
 *   id-token-claims-reference (no `jti`, `scp`, `roles`, `uti`); JWKS keys without `alg` (x5c left out:
 *   the verifier reads only kty, n, e).
 */
interface ProviderFixture {
  preset: ClaimsPreset;
  /** Path of the issuer on the fixture server (its URL is the server's origin plus this). */
  issuerPath: string;
  audience: (issuer: string) => string;
  /** The JWKS as the provider publishes it. */
  jwks: (signing: FixtureKey, other: FixtureKey) => jose.JWK[];
  header: Record<string, unknown>;
  access: (issuer: string, grants: boolean) => Record<string, unknown>;
  idHeader: Record<string, unknown>;
  idToken: (issuer: string) => Record<string, unknown>;
  role: string;
  permission: string;
  /** A second access-token form of the same provider (Auth0's RFC 9068 profile). */
  alternative?: { header: Record<string, unknown>; access: (issuer: string) => Record<string, unknown> };
}

const times = () => ({ iat: now(), exp: now() + 600 });
const API = 'https://api.example.com';
const AUTH0_CLIENT = 'AbCdEfGhIjKlMnOpQrStUvWxYz012345';
const ENTRA_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ENTRA_APP = '6e74172b-be56-4843-9ff4-e66a39bb12e3';
const COGNITO_CLIENT = '1example23456789';

const FIXTURES: ProviderFixture[] = [
  {
    preset: 'auth0',
    issuerPath: '/',
    audience: () => API,
    jwks: (key) => [{ ...key.publicJwk, x5t: 'x5t-of-the-cert' }],
    header: { typ: 'JWT' },
    access: (iss, grants) => ({
      iss,
      sub: 'auth0|6543a1b2c3d4e5f6a7b8c9d0',
      aud: [API, `${iss}userinfo`],
      ...times(),
      scope: 'openid profile email',
      azp: AUTH0_CLIENT,
      permissions: grants ? ['read:articles', 'write:articles'] : ['read:articles'],
      roles: grants ? ['admin'] : ['reader'],
    }),
    idHeader: { typ: 'JWT' },
    idToken: (iss) => ({
      iss,
      sub: 'auth0|6543a1b2c3d4e5f6a7b8c9d0',
      aud: AUTH0_CLIENT,
      ...times(),
      nonce: 'n-0S6_WzA2Mj',
      sid: '0S6_WzA2MjQxN',
      name: 'Carol',
      email: 'carol@example.com',
      roles: ['admin'],
    }),
    role: 'admin',
    permission: 'write:articles',
    alternative: {
      header: { typ: 'at+jwt' },
      access: (iss) => ({
        iss,
        sub: 'auth0|6543a1b2c3d4e5f6a7b8c9d0',
        aud: API,
        ...times(),
        jti: 'c4bb4ad8-e1c7-4a73-8f8b-2c8c16aa2f81',
        client_id: AUTH0_CLIENT,
        scope: 'openid write:articles',
        permissions: ['write:articles'],
        roles: ['admin'],
      }),
    },
  },
  {
    preset: 'keycloak',
    issuerPath: '/realms/acme',
    // The API and the front end share one client, so its ID tokens carry the same aud: only typ: "ID" tells them apart.
    audience: () => 'my-app',
    jwks: (key, other) => [
      { ...key.publicJwk, x5t: 'x5t', 'x5t#S256': 'x5t-s256' },
      { kid: 'enc-key', kty: 'RSA', alg: 'RSA-OAEP', use: 'enc', n: other.publicJwk.n, e: other.publicJwk.e },
    ],
    header: { typ: 'JWT' },
    access: (iss, grants) => ({
      ...times(),
      auth_time: now() - 5,
      jti: 'onrtac:3b3f0c56-4a43-4b7e-9f35-5d0e3f1c2b1a',
      iss,
      aud: ['my-app', 'account'],
      sub: 'f3b9a1e2-7c4d-4e8f-9a0b-1c2d3e4f5a6b',
      typ: 'Bearer',
      azp: 'my-app',
      sid: '8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f',
      acr: '1',
      'allowed-origins': ['https://app.example.com'],
      realm_access: { roles: ['offline_access', 'uma_authorization', 'default-roles-acme'] },
      resource_access: {
        'my-app': { roles: grants ? ['admin'] : ['reader'] },
        account: { roles: ['manage-account', 'view-profile'] },
        // Roles of another client never count.
        'other-app': { roles: ['admin'] },
      },
      scope: grants ? 'openid profile email articles:write' : 'openid profile email',
      email_verified: true,
      preferred_username: 'carol',
    }),
    idHeader: { typ: 'JWT' },
    idToken: (iss) => ({
      ...times(),
      auth_time: now() - 5,
      jti: '6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
      iss,
      aud: 'my-app',
      sub: 'f3b9a1e2-7c4d-4e8f-9a0b-1c2d3e4f5a6b',
      typ: 'ID',
      azp: 'my-app',
      nonce: 'a1b2c3',
      at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
      acr: '1',
      sid: '8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f',
      email_verified: true,
      preferred_username: 'carol',
    }),
    role: 'admin',
    permission: 'articles:write',
  },
  {
    preset: 'cognito',
    issuerPath: '/us-east-1_Example',
    audience: () => COGNITO_CLIENT,
    jwks: (key) => [{ alg: 'RS256', e: key.publicJwk.e, kid: key.kid, kty: 'RSA', n: key.publicJwk.n, use: 'sig' }],
    header: {},
    access: (iss, grants) => ({
      sub: 'aaaaaaaa-bbbb-cccc-dddd-example',
      'cognito:groups': grants ? ['admin'] : ['readers'],
      iss,
      version: 2,
      client_id: COGNITO_CLIENT,
      origin_jti: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      event_id: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      token_use: 'access',
      scope: grants ? 'openid articles/write' : 'openid',
      auth_time: now() - 5,
      ...times(),
      jti: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      username: 'carol',
    }),
    idHeader: {},
    idToken: (iss) => ({
      sub: 'aaaaaaaa-bbbb-cccc-dddd-example',
      'cognito:groups': ['admin'],
      email_verified: true,
      iss,
      'cognito:username': 'carol',
      origin_jti: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      aud: COGNITO_CLIENT,
      event_id: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      token_use: 'id',
      auth_time: now() - 5,
      ...times(),
      jti: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      email: 'carol@example.com',
    }),
    role: 'admin',
    permission: 'articles/write',
  },
  {
    preset: 'entra',
    issuerPath: `/${ENTRA_TENANT}/v2.0`,
    // One app registration for the client and the API: its ID tokens carry the same aud.
    audience: () => ENTRA_APP,
    jwks: (key) => [{ kty: 'RSA', use: 'sig', kid: key.kid, x5t: key.kid, n: key.publicJwk.n, e: key.publicJwk.e }],
    header: { typ: 'JWT' },
    access: (iss, grants) => ({
      aud: ENTRA_APP,
      iss,
      iat: now(),
      nbf: now(),
      exp: now() + 600,
      aio: 'AXQAi/8TAAAA',
      azp: ENTRA_APP,
      azpacr: '0',
      name: 'Carol',
      oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474',
      preferred_username: 'carol@contoso.com',
      rh: '0.ARoAv4j5cvGGr0GRqy180BHbR.',
      ...(grants ? { roles: ['admin'] } : {}),
      scp: grants ? 'Articles.Write User.Read' : 'User.Read',
      sub: 'HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ',
      tid: ENTRA_TENANT,
      uti: 'fqiBqXLPj0eQa82S-IYFAA',
      ver: '2.0',
    }),
    idHeader: { typ: 'JWT' },
    idToken: (iss) => ({
      aud: ENTRA_APP,
      iss,
      iat: now(),
      nbf: now(),
      exp: now() + 600,
      aio: 'AXQAi/8TAAAA',
      name: 'Carol',
      nonce: '123523',
      oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474',
      preferred_username: 'carol@contoso.com',
      rh: '0.ARoAv4j5cvGGr0GRqy180BHbR.',
      sub: 'HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ',
      tid: ENTRA_TENANT,
      uti: 'fqiBqXLPj0eQa82S-IYFAA',
      ver: '2.0',
    }),
    role: 'admin',
    permission: 'Articles.Write',
  },
];

describe.each(FIXTURES)('tokens of $preset', (fixture) => {
  let server: FixtureServer;
  let key: FixtureKey;
  let verifier: VerifierApp;
  let issuer: string;
  const bearer = (token: string) => `Bearer ${token}`;

  beforeAll(async () => {
    server = await FixtureServer.start();
    key = await fixtureKey('RS256', `${fixture.preset}-key-1`);
    const other = await fixtureKey('RS256', 'other');
    issuer = `${server.origin}${fixture.issuerPath}`;
    const base = fixture.issuerPath.replace(/\/$/, '');
    server.set(`${base}/.well-known/openid-configuration`, {
      body: {
        issuer,
        jwks_uri: `${server.origin}${base}/keys`,
        authorization_endpoint: `${issuer}/authorize`,
        id_token_signing_alg_values_supported: ['RS256'],
      },
    });
    server.set(`${base}/keys`, { body: { keys: fixture.jwks(key, other) } });
    verifier = await startVerifierApp(
      { issuers: [{ issuer, preset: fixture.preset, audience: fixture.audience(issuer) }] },
      { role: fixture.role, permission: fixture.permission },
    );
  });
  afterAll(async () => {
    await verifier?.close();
    await server?.close();
  });

  it('accepts its access token and exposes the claims', async () => {
    const token = await signWith(key, fixture.header, fixture.access(issuer, true));
    const { status, body } = await verifier.me(token);
    expect(status).toBe(200);
    expect(body).toMatchObject({ iss: issuer, sub: fixture.access(issuer, true).sub });
  });

  it('refuses its ID token', async () => {
    const token = await signWith(key, fixture.idHeader, fixture.idToken(issuer));
    expect((await verifier.me(token)).status).toBe(401);
  });

  it(`lets @Roles('${fixture.role}') in only when the provider's claims grant it`, async () => {
    const granted = await signWith(key, fixture.header, fixture.access(issuer, true));
    const denied = await signWith(key, fixture.header, fixture.access(issuer, false));
    await verifier.http().get('/admin').set('Authorization', bearer(granted)).expect(200);
    const refused = await verifier.http().get('/admin').set('Authorization', bearer(denied)).expect(403);
    expect(refused.headers['www-authenticate']).toContain('insufficient_scope');
  });

  it(`lets @Permissions('${fixture.permission}') in only when the provider's claims grant it`, async () => {
    const granted = await signWith(key, fixture.header, fixture.access(issuer, true));
    const denied = await signWith(key, fixture.header, fixture.access(issuer, false));
    await verifier.http().post('/articles').set('Authorization', bearer(granted)).expect(201);
    await verifier.http().post('/articles').set('Authorization', bearer(denied)).expect(403);
  });

  it('refuses its access token for another audience, and one signed by a key it does not publish', async () => {
    const claims = fixture.access(issuer, true);
    const elsewhere = {
      ...claims,
      ...(fixture.preset === 'cognito' ? { client_id: 'another-client' } : { aud: 'https://other.example.com' }),
    };
    expect((await verifier.me(await signWith(key, fixture.header, elsewhere))).status).toBe(401);
    const stranger = await fixtureKey('RS256', key.kid);
    expect((await verifier.me(await signWith(stranger, fixture.header, claims))).status).toBe(401);
  });

  it.runIf(fixture.alternative)('accepts its other access-token profile', async () => {
    const token = await signWith(key, fixture.alternative!.header, fixture.alternative!.access(issuer));
    expect((await verifier.me(token)).status).toBe(200);
    await verifier.http().post('/articles').set('Authorization', bearer(token)).expect(201);
  });
});

describe('the example app trusting Keycloak by discovery (JWT_TRUST_ISSUER, JWT_TRUST_PRESET, JWT_TRUST_AUDIENCE)', () => {
  const keycloak = FIXTURES.find((f) => f.preset === 'keycloak')!;
  let server: FixtureServer;
  let key: FixtureKey;
  let issuer: string;
  let example: Awaited<ReturnType<typeof startExampleApp>>;

  beforeAll(async () => {
    server = await FixtureServer.start();
    key = await fixtureKey('RS256', 'kc-1');
    issuer = `${server.origin}/realms/acme`;
    server.set('/realms/acme/.well-known/openid-configuration', { body: { issuer, jwks_uri: `${issuer}/protocol/openid-connect/certs` } });
    server.set('/realms/acme/protocol/openid-connect/certs', { body: { keys: keycloak.jwks(key, await fixtureKey('RS256', 'enc')) } });
    example = await startExampleApp('memory', { trustIssuer: issuer, trustPreset: 'keycloak', trustAudience: 'my-app' });
  });
  afterAll(async () => {
    await example?.close();
    await server?.close();
  });

  it('GET /me answers the verified claims; GET /admin and POST /articles read roles and scope where Keycloak puts them', async () => {
    const granted = await signWith(key, keycloak.header, keycloak.access(issuer, true));
    const denied = await signWith(key, keycloak.header, keycloak.access(issuer, false));
    const me = await example.http().get('/me').set('Authorization', `Bearer ${granted}`).expect(200);
    expect(me.body).toMatchObject({ iss: issuer, preferred_username: 'carol', typ: 'Bearer' });
    await example.http().get('/admin').set('Authorization', `Bearer ${granted}`).expect(200);
    await example.http().get('/admin').set('Authorization', `Bearer ${denied}`).expect(403);
    await example.http().post('/articles').set('Authorization', `Bearer ${granted}`).send({ title: 'Hello' }).expect(201);
    await example.http().post('/articles').set('Authorization', `Bearer ${denied}`).send({ title: 'Hello' }).expect(403);
    await example
      .http()
      .get('/me')
      .set('Authorization', `Bearer ${await signWith(key, keycloak.idHeader, keycloak.idToken(issuer))}`)
      .expect(401);
    await example.http().post('/auth/login').send({ username: 'alice', password: 'alice-password' }).expect(404);
  });

  it('says in its health where the issuer keys stand', async () => {
    const health = await example.http().get('/health').expect(200);
    expect(health.body).toMatchObject({ status: 'ok', issuers: [{ issuer, status: 'ok', keys: 1 }] });
  });
});
