import { createHmac } from 'node:crypto';
import * as jose from 'jose';
import jwt from 'jsonwebtoken';
import { JwksClient } from 'jwks-rsa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ExampleApp, startExampleApp } from './support/example-app';
import { type ExampleProcess, startExampleProcess } from './support/example-process';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const headerOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as { kid: string; alg: string };

/** The example app on a real port, with a count of JWKS fetches. */
async function listening(
  overrides: Parameters<typeof startExampleApp>[1],
): Promise<ExampleApp & { url: string; jwksFetches: () => number }> {
  let fetches = 0;
  const example = await startExampleApp('memory', overrides, (app) =>
    app.use((req: { url: string }, _res: unknown, next: () => void) => {
      if (req.url.startsWith('/.well-known/jwks.json')) fetches++;
      next();
    }),
  );
  await example.app.listen(0, '127.0.0.1');
  return Object.assign(example, { url: (await example.app.getUrl()).replace('[::1]', '127.0.0.1'), jwksFetches: () => fetches });
}

describe.each(['ES256', 'RS256', 'EdDSA'] as const)('JWKS of an %s issuer', (algorithm) => {
  let issuer: Awaited<ReturnType<typeof listening>>;
  let admin: string;
  const jwksUrl = () => `${issuer.url}/.well-known/jwks.json`;

  beforeAll(async () => {
    issuer = await listening({ algorithm, rotationInterval: '1h' });
    admin = (await issuer.login('alice')).access_token;
  });
  afterAll(() => issuer?.close());

  it('serves the public keys of the current and next keys, with kid, alg and use, and a short max-age', async () => {
    const response = await fetch(jwksUrl());
    expect(response.status).toBe(200);
    const cacheControl = response.headers.get('cache-control')!;
    const maxAge = Number(/max-age=(\d+)/.exec(cacheControl)![1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThan(3600); // shorter than the lead time (one rotation interval, 1 h)
    const { keys } = (await response.json()) as { keys: jose.JWK[] };
    expect(keys.length).toBe(3); // the current key and the two published ahead (KEYS_AHEAD)
    const listed = (await issuer.http().get('/admin/keys').set('Authorization', `Bearer ${admin}`)).body as Array<{
      kid: string;
      status: string;
    }>;
    expect(keys.map((k) => k.kid).sort()).toEqual(listed.map((k) => k.kid).sort());
    for (const key of keys) {
      expect(key).toMatchObject({ alg: algorithm, use: 'sig', kid: expect.any(String) });
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(member);
    }
  });

  it("verifies with jose's createRemoteJWKSet, as another team's service would", async () => {
    const { access_token } = await issuer.login('bob');
    const set = jose.createRemoteJWKSet(new URL(jwksUrl()));
    const { payload } = await jose.jwtVerify(access_token, set, { issuer: 'https://issuer.test', audience: 'https://issuer.test' });
    expect(payload.sub).toBe('bob');
  });

  // jsonwebtoken knows no EdDSA ("Unknown key type ed25519"): a limit of that library, not of the JWKS.
  it.skipIf(algorithm === 'EdDSA')('verifies with jsonwebtoken + jwks-rsa', async () => {
    const { access_token } = await issuer.login('bob');
    const client = new JwksClient({ jwksUri: jwksUrl() });
    const key = await client.getSigningKey(headerOf(access_token).kid);
    const payload = jwt.verify(access_token, key.getPublicKey(), {
      algorithms: [algorithm as jwt.Algorithm],
      issuer: 'https://issuer.test',
    });
    expect((payload as jwt.JwtPayload).sub).toBe('bob');
  });

  it('a verifier that cached the JWKS before a rotation verifies tokens signed after it without refetching', async () => {
    const set = jose.createRemoteJWKSet(new URL(jwksUrl()), { cacheMaxAge: 3_600_000, cooldownDuration: 3_600_000 });
    const before = await issuer.login('bob');
    await jose.jwtVerify(before.access_token, set);
    const fetchesAfterWarmUp = issuer.jwksFetches();

    const rotated = await issuer.http().post('/admin/keys/rotate').set('Authorization', `Bearer ${admin}`).expect(200);
    const after = await issuer.login('bob');
    expect(headerOf(after.access_token).kid).toBe(rotated.body.kid);
    expect(headerOf(after.access_token).kid).not.toBe(headerOf(before.access_token).kid);
    const { payload } = await jose.jwtVerify(after.access_token, set);
    expect(payload.sub).toBe('bob');
    expect(issuer.jwksFetches()).toBe(fetchesAfterWarmUp);
  });

  it('a verify-only service accepts the issuer tokens and follows its rotations', async () => {
    const verifier = await startExampleApp('memory', { jwksUri: jwksUrl() });
    try {
      const first = await issuer.login('alice');
      await verifier.http().get('/me').set('Authorization', `Bearer ${first.access_token}`).expect(200);
      await verifier.http().get('/admin').set('Authorization', `Bearer ${first.access_token}`).expect(200);
      for (let i = 0; i < 2; i++) {
        await issuer.http().post('/admin/keys/rotate').set('Authorization', `Bearer ${admin}`).expect(200);
        await new Promise((r) => setTimeout(r, 1100)); // past the unknown-kid reload gap
        const next = await issuer.login('alice');
        await verifier.http().get('/me').set('Authorization', `Bearer ${next.access_token}`).expect(200);
      }
      await verifier.http().get('/me').set('Authorization', `Bearer ${first.access_token}`).expect(200);
      await verifier.http().post('/auth/login').send({ username: 'alice', password: 'alice-password' }).expect(404);
    } finally {
      await verifier.close();
    }
  });

  it('refuses algorithm confusion, embedded keys and a mismatched alg with 401', async () => {
    const { access_token } = await issuer.login('bob');
    const [h, p, s] = access_token.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const { keys } = (await (await fetch(jwksUrl())).json()) as { keys: jose.JWK[] };
    const publicJwk = keys.find((k) => k.kid === header.kid)!;
    const pem = await jose.exportSPKI((await jose.importJWK(publicJwk, algorithm)) as Parameters<typeof jose.exportSPKI>[0]);
    const hmacInput = `${b64({ ...header, alg: 'HS256' })}.${p}`;
    const attacks = [
      `${hmacInput}.${createHmac('sha256', pem).update(hmacInput).digest('base64url')}`,
      `${b64({ ...header, jwk: publicJwk })}.${p}.${s}`,
      `${b64({ ...header, jku: 'https://evil.test/jwks.json' })}.${p}.${s}`,
      `${b64({ ...header, x5u: 'https://evil.test/cert.pem' })}.${p}.${s}`,
      `${b64({ ...header, alg: algorithm === 'RS256' ? 'PS256' : 'RS256' })}.${p}.${s}`,
    ];
    for (const token of attacks) {
      const response = await issuer.http().get('/me').set('Authorization', `Bearer ${token}`);
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
    }
  });
});

describe('JWKS of an HMAC issuer', () => {
  it('is an empty set', async () => {
    const example = await startExampleApp('memory');
    try {
      const response = await example.http().get('/.well-known/jwks.json').expect(200);
      expect(response.body).toEqual({ keys: [] });
    } finally {
      await example.close();
    }
  });
});

describe('a verify-only example-app process beside an ES256 issuer process', () => {
  let issuer: ExampleProcess;
  let verifier: ExampleProcess;

  beforeAll(async () => {
    const main = inject('exampleMain');
    issuer = await startExampleProcess(main, { JWT_ALGORITHM: 'ES256', JWT_ISSUER: 'https://issuer.test', JWT_ROTATION_INTERVAL: '1h' });
    verifier = await startExampleProcess(main, { JWT_ISSUER: 'https://issuer.test', JWT_JWKS_URI: `${issuer.url}/.well-known/jwks.json` });
  }, 60_000);
  afterAll(async () => {
    await verifier?.stop();
    await issuer?.stop();
  });

  const login = async () =>
    (
      (await (
        await fetch(`${issuer.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'alice', password: 'alice-password' }),
        })
      ).json()) as { access_token: string }
    ).access_token;
  const meOn = async (instance: ExampleProcess, token: string) =>
    (await fetch(`${instance.url}/me`, { headers: { authorization: `Bearer ${token}` } })).status;

  it('accepts the issuer tokens and follows its rotations', async () => {
    const first = await login();
    expect(await meOn(verifier, first)).toBe(200);
    for (let i = 0; i < 2; i++) {
      const rotate = await fetch(`${issuer.url}/admin/keys/rotate`, { method: 'POST', headers: { authorization: `Bearer ${first}` } });
      expect(rotate.status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100)); // past the unknown-kid reload gap
      const next = await login();
      expect(headerOf(next).kid).toBe(((await rotate.json()) as { kid: string }).kid);
      expect(await meOn(verifier, next)).toBe(200);
    }
    expect(await meOn(verifier, first)).toBe(200);
    expect(await meOn(verifier, `${first.slice(0, -2)}AA`)).toBe(401);
  });
});
