import express, { type NextFunction, type Request, type Response } from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import * as jose from 'jose';
import { createServer } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, startExampleApp } from './support/example-app';

/** A free loopback port: the issuer URL must be known before the app starts, as in production. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const kidOf = (token: string) => jose.decodeProtectedHeader(token).kid;

/** An Express API protected by express-oauth2-jwt-bearer, configured as its README says. */
function protectedApi(options: Parameters<typeof auth>[0]) {
  const api = express();
  api.use(auth(options));
  api.get('/', (req, res) => void res.json(req.auth?.payload));
  api.use((error: { status?: number; message: string }, _req: Request, res: Response, _next: NextFunction) => {
    void res.status(error.status ?? 500).json({ error: error.message });
  });
  return api;
}

describe('the example app as an issuer that standard verifiers configure themselves from', () => {
  let issuer: ExampleApp;
  let url: string;
  let admin: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    issuer = await startExampleApp('memory', { issuer: url, algorithm: 'ES256', rotationInterval: '1h' });
    await issuer.app.listen(port, '127.0.0.1');
    admin = (await issuer.login('alice')).access_token;
  });
  afterAll(() => issuer?.close());

  it('serves RFC 8414 and OpenID Connect metadata with only what is true of it', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status).toBe(200);
      const metadata = (await response.json()) as Record<string, unknown>;
      expect(metadata).toMatchObject({ issuer: url, jwks_uri: `${url}/.well-known/jwks.json`, response_types_supported: [] });
      for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'registration_endpoint']) {
        expect(metadata).not.toHaveProperty(endpoint);
      }
    }
  });

  it('is consumed by express-oauth2-jwt-bearer given only issuerBaseURL', async () => {
    const { access_token } = await issuer.login('bob');
    const response = await request(protectedApi({ issuerBaseURL: url, audience: url }))
      .get('/')
      .set('Authorization', `Bearer ${access_token}`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toMatchObject({ iss: url, sub: 'bob' });
  });

  it('is consumed by express-oauth2-jwt-bearer in strict mode (RFC 9068: at+jwt, client_id, jti, iat, sub)', async () => {
    const { access_token } = await issuer.login('bob');
    const response = await request(protectedApi({ issuerBaseURL: url, audience: url, strict: true }))
      .get('/')
      .set('Authorization', `Bearer ${access_token}`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toMatchObject({ client_id: url });
  });

  it('never leaves a default jose createRemoteJWKSet refusing a valid token across two back-to-back rotateNow()s', async () => {
    const set = jose.createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`));
    const before = (await issuer.login('bob')).access_token;
    await jose.jwtVerify(before, set, { issuer: url, audience: url });

    const first = await issuer.http().post('/admin/keys/rotate').set('Authorization', `Bearer ${admin}`).expect(200);
    const afterFirst = (await issuer.login('bob')).access_token;
    const second = await issuer.http().post('/admin/keys/rotate').set('Authorization', `Bearer ${admin}`).expect(200);
    const afterSecond = (await issuer.login('bob')).access_token;
    expect(kidOf(afterFirst)).toBe(first.body.kid);
    expect(kidOf(afterSecond)).toBe(second.body.kid);
    expect(new Set([kidOf(before), kidOf(afterFirst), kidOf(afterSecond)]).size).toBe(3);

    // Within jose's 30 s cooldown of its first fetch: every token must verify from what it holds.
    for (const token of [before, afterFirst, afterSecond]) {
      const { payload } = await jose.jwtVerify(token, set, { issuer: url, audience: url });
      expect(payload.sub).toBe('bob');
    }
  });
});
