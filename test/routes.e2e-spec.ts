import * as jose from 'jose';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, startExampleApp, STORES } from './support/example-app';
import {
  allPropertyNames,
  b64json,
  bearer,
  forgeHs256,
  headerOf,
  KEY_MATERIAL_FIELDS,
  expectInvalidTokenChallenge,
  parseChallenge,
  payloadOf,
  RFC6750_DESCRIPTION,
} from './support/http';

const ISSUER = 'https://issuer.test';
const REALM = `realm="${ISSUER}"`;

interface KeyListEntry {
  kid: string;
  alg: string;
  status: string;
  createdAt: string;
  activatesAt: string;
  retiresAt: string;
  expiresAt: string;
}

describe.each(STORES)('example app routes on the %s store', (store) => {
  let example: ExampleApp;
  let alice: { access_token: string; refresh_token: string };
  let bob: { access_token: string; refresh_token: string };
  let aliceApi: { access_token: string; refresh_token: string };

  beforeAll(async () => {
    example = await startExampleApp(store);
    [alice, bob, aliceApi] = await Promise.all([example.login('alice'), example.login('bob'), example.login('alice', 'api')]);
  });
  afterAll(() => example?.close());

  const get = (path: string, token?: string) => {
    const req = example.http().get(path);
    return token === undefined ? req : req.set('Authorization', bearer(token));
  };

  /** Asserts an RFC 6750 `invalid_token` refusal and returns its error_description. */
  const expectInvalidToken = (response: { status: number; headers: Record<string, string> }): string =>
    expectInvalidTokenChallenge(response, ISSUER);

  describe('POST /auth/login', () => {
    it('returns an access and a refresh token for the right password', async () => {
      const response = await example.http().post('/auth/login').send({ username: 'alice', password: 'alice-password' }).expect(200);
      expect(response.body).toMatchObject({
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 900,
      });
      const { access_token, refresh_token } = response.body as { access_token: string; refresh_token: string };
      expect(access_token).not.toBe(refresh_token);
      expect(headerOf(access_token)).toMatchObject({ alg: 'HS256', typ: 'at+jwt', kid: expect.any(String) });
      // Refresh tokens are opaque (four segments, signed with no published key): no JWT parser takes one.
      expect(refresh_token).toMatch(/^rt\.[A-Za-z0-9_-]{22}\.0\.[A-Za-z0-9_-]{43}$/);
      const claims = payloadOf(access_token);
      expect(claims).toMatchObject({ sub: 'alice', iss: ISSUER, aud: ISSUER });
      expect(claims.exp! - claims.iat!).toBe(900);
    });

    it('issues a token for the api audience when asked', async () => {
      expect(payloadOf(aliceApi.access_token).aud).toBe(`${ISSUER}/api`);
    });

    it.each([
      ['a wrong password', { username: 'alice', password: 'bob-password' }],
      ['an unknown user', { username: 'mallory', password: 'mallory-password' }],
    ])('refuses %s with 401', async (_, body) => {
      const response = await example.http().post('/auth/login').send(body).expect(401);
      expect(response.body).not.toHaveProperty('access_token');
    });

    it.each([
      ['an empty body', {}],
      ['no password', { username: 'alice' }],
      ['no username', { password: 'alice-password' }],
      ['an extra field', { username: 'alice', password: 'alice-password', roles: ['admin'] }],
      ['a numeric username', { username: 42, password: 'alice-password' }],
      ['an array password', { username: 'alice', password: ['alice-password'] }],
      ['an empty username', { username: '', password: 'alice-password' }],
      ['an unknown audience', { username: 'alice', password: 'alice-password', audience: 'billing' }],
      ['a malformed audience', { username: 'alice', password: 'alice-password', audience: 'not an audience' }],
      ['a numeric audience', { username: 'alice', password: 'alice-password', audience: 1 }],
    ])('refuses %s with 400', async (_, body) => {
      const response = await example.http().post('/auth/login').send(body).expect(400);
      expect(response.body).not.toHaveProperty('access_token');
    });
  });

  describe('GET /me', () => {
    it("returns the caller's verified claims", async () => {
      const response = await get('/me', alice.access_token).expect(200);
      expect(response.body).toMatchObject({
        sub: 'alice',
        roles: ['admin'],
        permissions: ['articles:write'],
        iss: ISSUER,
        aud: ISSUER,
        jti: expect.any(String),
        iat: expect.any(Number),
        nbf: expect.any(Number),
        exp: expect.any(Number),
      });
      // Exactly the claims of the token that was sent, nothing made up on the way.
      expect(response.body).toEqual(payloadOf(alice.access_token));
      expect(response.body.jti).toBe(payloadOf(alice.access_token).jti);
      const bobMe = await get('/me', bob.access_token).expect(200);
      expect(bobMe.body).toMatchObject({ sub: 'bob', roles: ['user'], permissions: [] });
    });

    it('answers 401 with a bare Bearer challenge (no error) when no token is sent', async () => {
      const response = await get('/me').expect(401);
      expect(response.headers['www-authenticate']).toBe(`Bearer ${REALM}`);
      const challenge = parseChallenge(response.headers['www-authenticate']);
      expect(challenge.params).toEqual({ realm: ISSUER });
    });

    it('treats another auth scheme as no token', async () => {
      const response = await example.http().get('/me').set('Authorization', 'Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=').expect(401);
      expect(parseChallenge(response.headers['www-authenticate']).params).toEqual({ realm: ISSUER });
    });

    it('answers 401 invalid_token with a description for a bad token', async () => {
      const tampered = `${alice.access_token.slice(0, -4)}AAAA`;
      const description = expectInvalidToken(await get('/me', tampered));
      expect(description.length).toBeGreaterThan(0);
    });

    it('refuses a refresh token used as an access token with 401 invalid_token', async () => {
      const description = expectInvalidToken(await get('/me', alice.refresh_token));
      expect(description).toBe('The access token is malformed');
    });

    it('refuses an api-audience token (wrong audience) with 401 invalid_token', async () => {
      const description = expectInvalidToken(await get('/me', aliceApi.access_token));
      expect(description).toBe('The access token is not valid for this audience');
    });

    it('accepts the scheme in any case', async () => {
      await example.http().get('/me').set('Authorization', `bearer ${alice.access_token}`).expect(200);
    });
  });

  describe('GET /admin', () => {
    it('lets alice (admin) in', async () => {
      const response = await get('/admin', alice.access_token).expect(200);
      expect(response.body).toEqual({ admin: 'alice' });
    });

    it('refuses bob with 403 insufficient_scope', async () => {
      const response = await get('/admin', bob.access_token).expect(403);
      const challenge = parseChallenge(response.headers['www-authenticate']);
      expect(challenge.params).toMatchObject({ realm: ISSUER, error: 'insufficient_scope' });
      expect(challenge.params.error_description).toMatch(RFC6750_DESCRIPTION);
    });

    it('refuses a caller without a token with 401', async () => {
      await get('/admin').expect(401);
    });
  });

  describe('POST /articles', () => {
    it('lets alice (articles:write) create an article', async () => {
      const response = await example
        .http()
        .post('/articles')
        .set('Authorization', bearer(alice.access_token))
        .send({ title: 'Key rotation' })
        .expect(201);
      expect(response.body).toEqual({ title: 'Key rotation', author: 'alice' });
    });

    it('refuses bob with 403 insufficient_scope', async () => {
      const response = await example
        .http()
        .post('/articles')
        .set('Authorization', bearer(bob.access_token))
        .send({ title: 'Key rotation' })
        .expect(403);
      expect(response.headers['www-authenticate']).toContain('error="insufficient_scope"');
    });

    it('validates the body for alice', async () => {
      await example.http().post('/articles').set('Authorization', bearer(alice.access_token)).send({ title: 7 }).expect(400);
    });
  });

  describe('GET /api/ping (audience "api")', () => {
    it('lets a token issued for the api audience in', async () => {
      const response = await get('/api/ping', aliceApi.access_token).expect(200);
      expect(response.body).toEqual({ pong: true, sub: 'alice' });
    });

    it('refuses a default-audience token with 401 invalid_token', async () => {
      const description = expectInvalidToken(await get('/api/ping', alice.access_token));
      expect(description).toBe('The access token is not valid for this audience');
    });

    it('refuses a caller without a token with 401', async () => {
      await get('/api/ping').expect(401);
    });
  });

  describe('GET /health', () => {
    it('answers 200 without a token', async () => {
      const response = await get('/health').expect(200);
      // The terminus answer: the key ring's indicator is up (test/health.e2e-spec.ts covers down).
      expect(response.body).toMatchObject({ status: 'ok', info: { jwt: { status: 'up' } } });
      expect(response.headers['www-authenticate']).toBeUndefined();
    });

    it('answers 200 even with a garbage token (public route)', async () => {
      await get('/health', 'garbage').expect(200);
    });
  });

  describe('GET /admin/keys', () => {
    it('lists key metadata, one current and two next, and no key material', async () => {
      const response = await get('/admin/keys', alice.access_token).expect(200);
      const keys = response.body as KeyListEntry[];
      expect(keys).toHaveLength(3);
      for (const key of keys) {
        expect(Object.keys(key).sort()).toEqual(['activatesAt', 'alg', 'createdAt', 'expiresAt', 'kid', 'retiresAt', 'status']);
        expect(key.kid).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(key.alg).toBe('HS256');
        for (const field of ['createdAt', 'activatesAt', 'retiresAt', 'expiresAt'] as const) {
          expect(Number.isNaN(Date.parse(key[field]))).toBe(false);
        }
        expect(Date.parse(key.activatesAt)).toBeLessThan(Date.parse(key.retiresAt));
        expect(Date.parse(key.retiresAt)).toBeLessThan(Date.parse(key.expiresAt));
      }
      const names = allPropertyNames(keys);
      for (const field of KEY_MATERIAL_FIELDS) expect(names.has(field)).toBe(false);
      expect(keys.map((k) => k.status).sort()).toEqual(['current', 'next', 'next']);
      const current = keys.find((k) => k.status === 'current')!;
      const next = keys.find((k) => k.status === 'next')!;
      expect(current.kid).not.toBe(next.kid);
      expect(headerOf(alice.access_token).kid).toBe(current.kid);
      // The next key is published ahead and takes over when the current one retires.
      expect(next.activatesAt).toBe(current.retiresAt);
    });

    it('refuses bob with 403', async () => {
      const response = await get('/admin/keys', bob.access_token).expect(403);
      expect(response.headers['www-authenticate']).toContain('error="insufficient_scope"');
    });
  });

  describe('garbage tokens never cause a 5xx', () => {
    const garbage: Array<[string, () => Promise<string> | string]> = [
      ['an empty-segment token', () => '..'],
      ['two segments', () => 'a.b'],
      ['random base64', () => randomBytes(48).toString('base64')],
      ['three random base64url segments', () => [16, 64, 32].map((n) => randomBytes(n).toString('base64url')).join('.')],
      [
        'an unsigned (alg none) token',
        () =>
          new jose.UnsecuredJWT({ sub: 'alice', roles: ['admin'] }).setIssuer(ISSUER).setAudience(ISSUER).setExpirationTime('1h').encode(),
      ],
      [
        'alg none with kid, typ and a signature',
        () => `${b64json({ alg: 'none', kid: headerOf(alice.access_token).kid, typ: 'at+jwt' })}.${b64json({ sub: 'alice' })}.c2ln`,
      ],
      ['a header that is not JSON', () => `${Buffer.from('{"alg":').toString('base64url')}.${b64json({})}.c2ln`],
      ['a header that is a JSON array', () => `${b64json(['HS256'])}.${b64json({})}.c2ln`],
      ['a header without kid', () => `${b64json({ alg: 'HS256', typ: 'at+jwt' })}.${b64json({ sub: 'alice' })}.c2ln`],
      [
        'a header with an unknown kid',
        () => forgeHs256({ alg: 'HS256', typ: 'at+jwt', kid: 'no-such-kid' }, { sub: 'alice', iss: ISSUER, aud: ISSUER }),
      ],
      [
        'a known kid with a forged signature',
        () =>
          forgeHs256(
            { alg: 'HS256', typ: 'at+jwt', kid: headerOf(alice.access_token).kid! },
            { sub: 'alice', roles: ['admin'], iss: ISSUER, aud: ISSUER },
          ),
      ],
      [
        'a known kid with another algorithm',
        () =>
          new jose.SignJWT({ sub: 'alice' })
            .setProtectedHeader({ alg: 'HS512', typ: 'at+jwt', kid: headerOf(alice.access_token).kid! })
            .sign(new Uint8Array(64)),
      ],
      [
        'a header carrying its own jwk',
        () =>
          forgeHs256(
            { alg: 'HS256', typ: 'at+jwt', kid: headerOf(alice.access_token).kid!, jwk: { kty: 'oct', k: 'AAAA' } as unknown as jose.JWK },
            { sub: 'alice' },
          ),
      ],
      ['a kid named __proto__', () => forgeHs256({ alg: 'HS256', typ: 'at+jwt', kid: '__proto__' }, { sub: 'alice' })],
      ['a token longer than maxTokenLength', () => `${alice.access_token.split('.')[0]}.${'A'.repeat(9000)}.c2ln`],
      [
        'a payload swapped into a valid token',
        () => {
          const [h, , s] = alice.access_token.split('.');
          return `${h}.${b64json({ ...payloadOf(alice.access_token), roles: ['admin', 'root'] })}.${s}`;
        },
      ],
    ];

    it.each(garbage)('refuses %s with 401 invalid_token', async (_, make) => {
      const token = await make();
      const response = await get('/me', token);
      expectInvalidToken(response);
      expect(JSON.stringify(response.body)).not.toContain(token);
    });

    it('refuses a garbage token on a role-guarded route with 401, not 403', async () => {
      expectInvalidToken(await get('/admin/keys', 'a.b.c'));
    });

    // An empty credential is not a bad token but a malformed request: JwtGuard answers
    // 400 invalid_request for it, as RFC 6750 §3.1 assigns. Still never a 5xx.
    it.each([
      ['an empty token (a Bearer header without a token)', 'Bearer'],
      ['an empty token followed by spaces', 'Bearer   '],
      ['a Bearer header with two tokens', 'Bearer a.b.c d.e.f'],
      ['a token with characters outside b64token', 'Bearer a.b.c!'],
    ])('refuses %s as a malformed request (400 invalid_request, RFC 6750 §3.1)', async (_, header) => {
      const response = await example.http().get('/me').set('Authorization', header);
      expect(response.status).toBe(400);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="https:\/\/issuer\.test", error="invalid_request"/);
    });

    // Regression test: at 3c3848e JwtGuard.extractToken (http/jwt.guard.ts) passed the description
    // 'The Authorization header must be "Bearer <token>"' to bearerChallenge (http/www-authenticate.ts),
    // which quoted it unescaped: the inner `"` ended the quoted-string early and broke the header,
    // and RFC 6750 §3 forbids `"` in error_description altogether.
    it('gives the invalid_request challenge a well-formed error_description (RFC 6750 §3)', async () => {
      const response = await example.http().get('/me').set('Authorization', 'Bearer');
      const challenge = parseChallenge(response.headers['www-authenticate']);
      expect(challenge.params.error).toBe('invalid_request');
      expect(challenge.params.error_description).toMatch(RFC6750_DESCRIPTION);
    });
  });

  describe('key administration', () => {
    let admin: ExampleApp;
    beforeAll(async () => {
      admin = await startExampleApp(store);
    });
    afterAll(() => admin?.close());

    const listKeys = async (token: string) =>
      (await admin.http().get('/admin/keys').set('Authorization', bearer(token)).expect(200)).body as KeyListEntry[];

    it('POST /admin/keys/rotate: signs with a new kid, and tokens signed before still verify', async () => {
      const before = await admin.login('alice');
      const oldKid = headerOf(before.access_token).kid;
      const nextKid = (await listKeys(before.access_token)).find((k) => k.status === 'next')!.kid;

      const response = await admin.http().post('/admin/keys/rotate').set('Authorization', bearer(before.access_token)).expect(200);
      expect(response.body).toEqual({ kid: expect.any(String) });
      const newKid = (response.body as { kid: string }).kid;
      expect(newKid).not.toBe(oldKid);
      // The published next key is promoted, so every verifier already holds it.
      expect(newKid).toBe(nextKid);

      const me = await admin.http().get('/me').set('Authorization', bearer(before.access_token)).expect(200);
      expect(me.body.sub).toBe('alice');

      const after = await admin.login('alice');
      expect(headerOf(after.access_token).kid).toBe(newKid);
      await admin.http().get('/me').set('Authorization', bearer(after.access_token)).expect(200);

      const keys = await listKeys(after.access_token);
      expect(keys.find((k) => k.kid === oldKid)?.status).toBe('retired');
      expect(keys.find((k) => k.kid === newKid)?.status).toBe('current');
      expect(keys.filter((k) => k.status === 'next')).toHaveLength(2);
    });

    it('POST /admin/keys/rotate refuses bob with 403', async () => {
      const { access_token } = await admin.login('bob');
      await admin.http().post('/admin/keys/rotate').set('Authorization', bearer(access_token)).expect(403);
    });

    it('DELETE /admin/keys/:kid revokes a key: its tokens get 401, others still pass', async () => {
      const oldToken = (await admin.login('alice')).access_token;
      const oldKid = headerOf(oldToken).kid!;
      await admin.http().post('/admin/keys/rotate').set('Authorization', bearer(oldToken)).expect(200);
      const fresh = (await admin.login('alice')).access_token;
      expect(headerOf(fresh).kid).not.toBe(oldKid);

      await admin
        .http()
        .delete(`/admin/keys/${encodeURIComponent(oldKid)}`)
        .set('Authorization', bearer(fresh))
        .expect(204);

      const refused = await admin.http().get('/me').set('Authorization', bearer(oldToken));
      expect(expectInvalidToken(refused)).toBe('The access token was signed with a revoked key');
      await admin.http().get('/me').set('Authorization', bearer(fresh)).expect(200);
      expect((await listKeys(fresh)).find((k) => k.kid === oldKid)?.status).toBe('revoked');
    });

    it('DELETE /admin/keys/:kid of the current key: its tokens get 401 and new tokens use another key', async () => {
      const token = (await admin.login('alice')).access_token;
      const kid = headerOf(token).kid!;
      await admin
        .http()
        .delete(`/admin/keys/${encodeURIComponent(kid)}`)
        .set('Authorization', bearer(token))
        .expect(204);
      expectInvalidToken(await admin.http().get('/me').set('Authorization', bearer(token)));

      const fresh = (await admin.login('alice')).access_token;
      expect(headerOf(fresh).kid).not.toBe(kid);
      await admin.http().get('/me').set('Authorization', bearer(fresh)).expect(200);
      const keys = await listKeys(fresh);
      expect(keys.find((k) => k.kid === kid)?.status).toBe('revoked');
      expect(keys.find((k) => k.kid === headerOf(fresh).kid)?.status).toBe('current');
      expect(keys.filter((k) => k.status === 'next')).toHaveLength(2);
    });

    it('DELETE /admin/keys/:kid answers 404 for an unknown kid', async () => {
      const { access_token } = await admin.login('alice');
      await admin.http().delete('/admin/keys/no-such-kid').set('Authorization', bearer(access_token)).expect(404);
      await admin.http().delete('/admin/keys/__proto__').set('Authorization', bearer(access_token)).expect(404);
    });

    it('DELETE /admin/keys/:kid refuses bob with 403 and revokes nothing', async () => {
      const [bobToken, aliceToken] = [(await admin.login('bob')).access_token, (await admin.login('alice')).access_token];
      const kid = headerOf(aliceToken).kid!;
      const response = await admin
        .http()
        .delete(`/admin/keys/${encodeURIComponent(kid)}`)
        .set('Authorization', bearer(bobToken))
        .expect(403);
      expect(response.headers['www-authenticate']).toContain('error="insufficient_scope"');
      await admin.http().get('/me').set('Authorization', bearer(aliceToken)).expect(200);
    });
  });
});
