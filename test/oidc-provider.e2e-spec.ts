import { Logger } from '@nestjs/common';
import * as jose from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVerifierApp, type VerifierApp } from './support/verifier-app';

const API = 'https://api.example.com';
const OTHER_API = 'https://other.example.com';
const CLIENT = { client_id: 'reporting-service', client_secret: 'a-client-secret-that-is-long-enough' };

/** The parts of oidc-provider this test uses (the package ships no types). */
interface OidcProvider {
  callback(): (request: unknown, response: unknown) => void;
}
type ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;

/**
 * panva's oidc-provider as a foreign identity provider, issuing RFC 9068 JWT access tokens through
 * client credentials: resource indicators (RFC 8707) choose the audience, and
 * `getResourceServerInfo` returns `accessTokenFormat: 'jwt'` for our APIs.
 */
describe('tokens of oidc-provider (RFC 9068 access tokens, client credentials)', () => {
  let server: Server;
  let issuer: string;
  let verifier: VerifierApp;

  async function clientCredentials(resource: string, scope: string): Promise<string> {
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${CLIENT.client_id}:${CLIENT.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }),
    });
    const body = (await response.json()) as { access_token?: string };
    expect(response.status, JSON.stringify(body)).toBe(200);
    return body.access_token!;
  }

  beforeAll(async () => {
    const { default: Provider, errors } = (await import('oidc-provider')) as unknown as {
      default: ProviderClass;
      errors: { InvalidTarget: new () => Error };
    };
    const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const signingKey = { ...(await jose.exportJWK(privateKey)), kid: 'idp-es256', alg: 'ES256', use: 'sig' };
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const provider = new Provider(issuer, {
      clients: [
        { ...CLIENT, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], id_token_signed_response_alg: 'ES256' },
      ],
      jwks: { keys: [signingKey] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => API,
          getResourceServerInfo: (_ctx: unknown, resource: string) => {
            if (resource !== API && resource !== OTHER_API) throw new errors.InvalidTarget();
            return { audience: resource, scope: 'articles:read articles:write', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
          },
        },
      },
    });
    server.on('request', provider.callback());
    Logger.overrideLogger(false);
    verifier = await startVerifierApp({ issuers: [{ issuer, preset: 'rfc9068', audience: API }] });
  });
  afterAll(async () => {
    await verifier?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    Logger.overrideLogger(['log', 'error', 'warn']);
  });

  it('issues at+jwt tokens, which the verifier accepts and @Claims() exposes', async () => {
    const token = await clientCredentials(API, 'articles:write');
    expect(jose.decodeProtectedHeader(token).typ).toBe('at+jwt');
    const { status, body } = await verifier.me(token);
    expect(status).toBe(200);
    expect(body).toMatchObject({ iss: issuer, aud: API, client_id: CLIENT.client_id, scope: 'articles:write', jti: expect.any(String) });
  });

  it('@Permissions() checks the scope', async () => {
    await verifier
      .http()
      .post('/articles')
      .set('Authorization', `Bearer ${await clientCredentials(API, 'articles:write')}`)
      .expect(201);
    const readOnly = await verifier
      .http()
      .post('/articles')
      .set('Authorization', `Bearer ${await clientCredentials(API, 'articles:read')}`)
      .expect(403);
    expect(readOnly.headers['www-authenticate']).toContain('error="insufficient_scope"');
  });

  it('refuses a token issued for another audience', async () => {
    const token = await clientCredentials(OTHER_API, 'articles:write');
    expect(jose.decodeJwt(token).aud).toBe(OTHER_API);
    const response = await verifier.http().get('/me').set('Authorization', `Bearer ${token}`);
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
  });
});
