import { Logger } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FixtureServer, fixtureKey, type FixtureKey, now, signWith } from './support/fixture-idp';
import { CapturingLogger, startVerifierApp, type VerifierApp } from './support/verifier-app';

const AUDIENCE = 'https://api.example.com';

/** Polls until `check` holds (a timer-driven JWKS refresh), failing after `ms`. */
async function eventually(check: () => Promise<boolean> | boolean, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const accessToken = (key: FixtureKey, iss: string, extra: Record<string, unknown> = {}) =>
  signWith(key, { typ: 'at+jwt' }, { iss, aud: AUDIENCE, sub: 'carol', iat: now(), exp: now() + 300, jti: `j-${Math.random()}`, ...extra });

describe('a verifier whose issuer misbehaves (issue 11 item 7)', () => {
  let server: FixtureServer;
  let key: FixtureKey;
  let verifier: VerifierApp | undefined;
  let logs: CapturingLogger;
  const issuer = () => `${server.origin}/tenant`;

  beforeAll(async () => {
    key = await fixtureKey('ES256', 'k1');
  });
  beforeAll(async () => {
    server = await FixtureServer.start();
  });
  afterAll(() => server?.close());
  afterEach(async () => {
    await verifier?.close();
    verifier = undefined;
    Logger.overrideLogger(['log', 'error', 'warn']);
  });
  const start = (overrides: Record<string, unknown> = {}) => {
    logs = new CapturingLogger();
    return startVerifierApp(
      { issuers: [{ issuer: issuer(), jwksUri: `${server.origin}/jwks`, audience: AUDIENCE, refreshInterval: '1s', ...overrides }] },
      {},
      logs,
    );
  };

  it('keeps the keys it holds when the JWKS comes back well formed but empty, and says so in the log', async () => {
    server.set('/jwks', { body: { keys: [key.publicJwk] } });
    verifier = await start();
    const token = await accessToken(key, issuer());
    expect((await verifier.me(token)).status).toBe(200);

    server.set('/jwks', { body: { keys: [] } });
    const fetches = server.hits.get('/jwks') ?? 0;
    await eventually(() => (server.hits.get('/jwks') ?? 0) >= fetches + 2);
    expect((await verifier.me(token)).status).toBe(200);
    expect(logs.lines.some((line) => line.includes('no usable key') && line.includes('keeping the 1 key(s) held'))).toBe(true);
    expect(verifier.keys.status()[0]).toMatchObject({ status: 'stale', keys: 1 });
  });

  it('drops held keys once the JWKS has misbehaved for longer than maxStaleness', async () => {
    server.set('/jwks', { body: { keys: [key.publicJwk] } });
    verifier = await start({ maxStaleness: '2s' });
    const token = await accessToken(key, issuer());
    expect((await verifier.me(token)).status).toBe(200);

    server.set('/jwks', { status: 500, body: { error: 'down' } });
    await eventually(async () => (await verifier!.me(token)).status === 401);
    expect(verifier.keys.status()[0]).toMatchObject({ status: 'unavailable', keys: 0 });
    expect(logs.lines.some((line) => line.includes('longer than maxStaleness'))).toBe(true);
  });

  it('starts while the JWKS is unreachable, refuses tokens with 401 and says so in its health, then accepts them once keys arrive', async () => {
    server.set('/jwks', { status: 503, body: {} });
    verifier = await start();
    const token = await accessToken(key, issuer());
    const refused = await verifier.http().get('/me').set('Authorization', `Bearer ${token}`);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toContain('error="invalid_token"');
    expect((await verifier.http().get('/health')).body).toMatchObject([
      { status: 'unavailable', keys: 0, problem: expect.stringContaining('503') },
    ]);

    server.set('/jwks', { body: { keys: [key.publicJwk] } });
    await eventually(async () => (await verifier!.me(token)).status === 200);
    expect((await verifier.http().get('/health')).body).toMatchObject([{ status: 'ok', keys: 1 }]);
  });

  it('escapes and truncates the kid of a refused JWK in its log line', async () => {
    const hostileKid = `evil\n[Nest] 1 - ERROR forged line \u001b[31m"${'x'.repeat(500)}`;
    const broken = { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: hostileKid, alg: 'ES256', use: 'sig' };
    server.set('/jwks', { body: { keys: [key.publicJwk, broken] } });
    verifier = await start();
    const line = logs.lines.find((l) => l.includes('skipped'));
    expect(line).toBeDefined();
    expect(line).not.toContain('\n');
    expect(line).not.toContain('\u001b');
    expect(line).not.toContain('x'.repeat(60));
    expect(line).toContain('evil\\u000a[Nest]');
    expect(line!.length).toBeLessThan(300);
  });

  it('refuses a JWKS larger than jwksMaxBytes or with more than jwksMaxKeys keys, keeping what it holds', async () => {
    server.set('/jwks', { body: { keys: [key.publicJwk] } });
    logs = new CapturingLogger();
    verifier = await startVerifierApp(
      {
        issuers: [{ issuer: issuer(), jwksUri: `${server.origin}/jwks`, audience: AUDIENCE, refreshInterval: '1s' }],
        jwksMaxBytes: 4096,
        jwksMaxKeys: 3,
      },
      {},
      logs,
    );
    const token = await accessToken(key, issuer());
    server.set('/jwks', { body: { keys: [key.publicJwk], padding: 'p'.repeat(10_000) } });
    await eventually(() => logs.lines.some((l) => l.includes('larger than jwksMaxBytes')));
    server.set('/jwks', { body: { keys: [key.publicJwk, key.publicJwk, key.publicJwk, key.publicJwk] } });
    await eventually(() => logs.lines.some((l) => l.includes('more than jwksMaxKeys')));
    expect((await verifier.me(token)).status).toBe(200);
  });
});

describe('a verifier of several issuers', () => {
  let servers: FixtureServer[];
  let verifier: VerifierApp;
  let keyA: FixtureKey;
  let keyB: FixtureKey;
  const issuerA = () => `${servers[0].origin}/a`;
  const issuerB = () => `${servers[1].origin}/b`;

  beforeAll(async () => {
    servers = [await FixtureServer.start(), await FixtureServer.start()];
    // The same kid at both issuers, different keys: only `iss` tells which set a token may use.
    keyA = await fixtureKey('ES256', 'shared-kid');
    keyB = await fixtureKey('ES256', 'shared-kid');
    servers[0].set('/a/.well-known/openid-configuration', { body: { issuer: issuerA(), jwks_uri: `${servers[0].origin}/a/jwks` } });
    servers[0].set('/a/jwks', { body: { keys: [keyA.publicJwk] } });
    // Issuer B is found by RFC 8414 in its path-insertion form.
    servers[1].set('/.well-known/oauth-authorization-server/b', { body: { issuer: issuerB(), jwks_uri: `${servers[1].origin}/b/keys` } });
    servers[1].set('/b/keys', { body: { keys: [keyB.publicJwk] } });
    Logger.overrideLogger(false);
    verifier = await startVerifierApp({
      issuers: [
        { issuer: issuerA(), audience: AUDIENCE },
        { issuer: issuerB(), audience: AUDIENCE },
      ],
    });
  });
  afterAll(async () => {
    await verifier?.close();
    for (const server of servers ?? []) await server.close();
    Logger.overrideLogger(['log', 'error', 'warn']);
  });

  it('accepts each issuer’s tokens, found by discovery', async () => {
    expect((await verifier.me(await accessToken(keyA, issuerA()))).status).toBe(200);
    expect((await verifier.me(await accessToken(keyB, issuerB()))).status).toBe(200);
  });

  it('never verifies a token claiming one issuer with a key of another, even under the same kid', async () => {
    expect((await verifier.me(await accessToken(keyA, issuerB()))).status).toBe(401);
    expect((await verifier.me(await accessToken(keyB, issuerA()))).status).toBe(401);
  });

  it('refuses a token of an issuer it does not trust, and one without iss', async () => {
    expect((await verifier.me(await accessToken(keyA, 'https://elsewhere.test'))).status).toBe(401);
    expect((await verifier.me(await accessToken(keyA, undefined as unknown as string))).status).toBe(401);
  });

  it('refuses a token for another audience', async () => {
    expect((await verifier.me(await accessToken(keyA, issuerA(), { aud: 'https://other.example.com' }))).status).toBe(401);
  });

  it('compares typ as RFC 7515 §4.1.9 says: any case, application/ optional; JWT or none is not an access token here', async () => {
    const claims = { iss: issuerA(), aud: AUDIENCE, sub: 'carol', iat: now(), exp: now() + 300 };
    for (const typ of ['application/at+jwt', 'AT+JWT', 'Application/At+Jwt']) {
      expect((await verifier.me(await signWith(keyA, { typ }, claims))).status).toBe(200);
    }
    for (const header of [{ typ: 'JWT' }, {}, { typ: 'application/jwt' }, { typ: 'at+jwt+x' }]) {
      expect((await verifier.me(await signWith(keyA, header, claims))).status).toBe(401);
    }
  });
});

describe('discovery', () => {
  let server: FixtureServer;
  let key: FixtureKey;
  let verifier: VerifierApp | undefined;
  beforeAll(async () => {
    server = await FixtureServer.start();
    key = await fixtureKey('RS256', 'r1');
    Logger.overrideLogger(false);
  });
  afterAll(async () => {
    await server?.close();
    Logger.overrideLogger(['log', 'error', 'warn']);
  });
  afterEach(async () => {
    await verifier?.close();
    verifier = undefined;
  });

  it('finds the JWKS by RFC 8414 in its path-append form', async () => {
    const issuer = `${server.origin}/append`;
    server.set('/append/.well-known/oauth-authorization-server', { body: { issuer, jwks_uri: `${server.origin}/append/jwks` } });
    server.set('/append/jwks', { body: { keys: [key.publicJwk] } });
    verifier = await startVerifierApp({ issuers: [{ issuer, audience: AUDIENCE }] });
    expect((await verifier.me(await accessToken(key, issuer))).status).toBe(200);
  });

  it('refuses metadata that names another issuer', async () => {
    const issuer = `${server.origin}/liar`;
    server.set('/liar/.well-known/openid-configuration', { body: { issuer: 'https://evil.test', jwks_uri: `${server.origin}/liar/jwks` } });
    server.set('/liar/jwks', { body: { keys: [key.publicJwk] } });
    verifier = await startVerifierApp({ issuers: [{ issuer, audience: AUDIENCE }] });
    expect((await verifier.me(await accessToken(key, issuer))).status).toBe(401);
    expect(verifier.keys.status()[0]).toMatchObject({ status: 'unavailable', problem: expect.stringContaining('another issuer') });
    expect(server.hits.get('/liar/jwks')).toBeUndefined();
  });
});

describe('JWKS keys without alg', () => {
  let server: FixtureServer;
  let key: FixtureKey;
  let verifier: VerifierApp | undefined;
  let logs: CapturingLogger;
  beforeAll(async () => {
    server = await FixtureServer.start();
    key = await fixtureKey('RS256', 'no-alg');
    const { alg: _, ...withoutAlg } = key.publicJwk;
    server.set('/jwks', { body: { keys: [withoutAlg] } });
  });
  afterAll(() => server?.close());
  afterEach(async () => {
    await verifier?.close();
    verifier = undefined;
    Logger.overrideLogger(['log', 'error', 'warn']);
  });
  const start = (algorithms: Array<'RS256' | 'PS256'>) => {
    logs = new CapturingLogger();
    return startVerifierApp(
      { issuers: [{ issuer: server.origin, jwksUri: `${server.origin}/jwks`, audience: AUDIENCE, algorithms }] },
      {},
      logs,
    );
  };

  it('pins a key to the one accepted algorithm its key type fits', async () => {
    verifier = await start(['RS256']);
    expect((await verifier.me(await accessToken(key, server.origin))).status).toBe(200);
  });

  it('skips it with a log line, and warns that the set has no usable key, when several accepted algorithms fit', async () => {
    verifier = await start(['RS256', 'PS256']);
    expect((await verifier.me(await accessToken(key, server.origin))).status).toBe(401);
    expect(logs.lines.some((l) => l.includes('"no-alg" skipped') && l.includes('RS256, PS256'))).toBe(true);
    expect(logs.lines.some((l) => l.includes('no usable key'))).toBe(true);
  });
});
