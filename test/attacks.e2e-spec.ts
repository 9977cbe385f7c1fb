import { createClient } from '@redis/client';
import * as jose from 'jose';
import { createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { type JwtRotationErrorCode, MalformedTokenError, TokenVerificationError } from '../libs/jwt-rotation/src/errors';
import { ERROR_DESCRIPTIONS } from '../libs/jwt-rotation/src/http/www-authenticate';
import { type JwtAlgorithm, SUPPORTED_ALGORITHMS } from '../libs/jwt-rotation/src/keys/algorithms';
import { KeyRing } from '../libs/jwt-rotation/src/keys/key-ring';
import { RevocationView } from '../libs/jwt-rotation/src/sessions/revocation-view';
import { ROTATION_STORE, type RotationStore } from '../libs/jwt-rotation/src/store/rotation-store';
import { TokenService } from '../libs/jwt-rotation/src/tokens/token.service';
import type { AppConfig } from '../src/app.config';
import {
  b64url,
  BASE64URL,
  bitFlips,
  compact,
  deletionsAndInsertions,
  KeepAliveClient,
  listen,
  mapLimit,
  type Mutation,
  randomB64,
  rawGet,
  rawRequest,
  type RawResponse,
  replacements,
  sample,
  serverSigner,
  spyOnStore,
  type StoreSpy,
  withMember,
  withRawValue,
} from './support/attack';
import { type ExampleApp, startExampleApp, type StoreKind, STORES } from './support/example-app';
import { bearer, expectInvalidTokenChallenge, headerOf, parseChallenge, RFC6750_DESCRIPTION } from './support/http';

/**
 * Hostile input against the example app, over HTTP. Every refusal is checked exactly (status,
 * RFC 6750 challenge, and the reason through its error_description), and every test runs between
 * two snapshots of the server's state (key list, alice's sessions, the in-memory ring and
 * revocation view, and on Redis the keys under the app's prefix) that must be equal, after which
 * a valid token must still work. Refused tokens carry alice's admin claims and are also sent to
 * POST /admin/keys/rotate, so a token accepted by mistake would show up as a changed key list.
 */

const ISSUER = 'https://issuer.test';
const MB = 1024 * 1024;

type RedisClient = ReturnType<typeof createClient>;

interface Target {
  store: StoreKind;
  example: ExampleApp;
  /** alice's access token: admin role, articles:write. */
  admin: string;
  port: number;
  client: KeepAliveClient;
  redis?: RedisClient;
}

interface ServerState {
  keys: unknown;
  sessions: unknown;
  ring: string[];
  revocations: number;
  storeKeys?: string[];
}

async function openTarget(store: StoreKind, overrides: Partial<AppConfig> = {}): Promise<Target> {
  const example = await startExampleApp(store, overrides);
  const { access_token } = await example.login('alice');
  const port = await listen(example.app);
  const target: Target = { store, example, admin: access_token, port, client: new KeepAliveClient(port, 32) };
  if (store === 'redis') {
    target.redis = createClient({ url: inject('redisUrl') });
    await target.redis.connect();
  }
  return target;
}

async function closeTarget(target: Target | undefined): Promise<void> {
  target?.client.close();
  await target?.redis?.quit();
  await target?.example.close();
}

async function snapshot(t: Target): Promise<ServerState> {
  const authorization = bearer(t.admin);
  const [keys, sessions] = await Promise.all([
    t.client.request('GET', '/admin/keys', { authorization }),
    t.client.request('GET', '/auth/sessions', { authorization }),
  ]);
  expect(keys.status).toBe(200);
  expect(sessions.status).toBe(200);
  return {
    keys: JSON.parse(keys.text) as unknown,
    sessions: JSON.parse(sessions.text) as unknown,
    ring: t.example.app
      .get(KeyRing)
      .all()
      .map((k) => k.entry.kid)
      .sort(),
    revocations: t.example.app.get(RevocationView).size,
    ...(t.redis ? { storeKeys: (await t.redis.keys(`${t.example.config.keyPrefix}:*`)).sort() } : {}),
  };
}

/** Snapshots the server before each test and checks, after it, that nothing changed and a valid token still works. */
function keepsServerState(target: () => Target): void {
  let before: ServerState;
  beforeEach(async () => {
    before = await snapshot(target());
  });
  afterEach(async () => {
    const t = target();
    expect(await snapshot(t), 'server state after the attack').toEqual(before);
    const me = await t.client.request('GET', '/me', { authorization: bearer(t.admin) });
    expect(me.status, 'a valid token after the attack').toBe(200);
    expect(JSON.parse(me.text).sub).toBe('alice');
  });
}

type Answer = Pick<RawResponse, 'status' | 'headers' | 'text'>;

/** 401 with an RFC 6750 `invalid_token` challenge; with `code`, the error_description of that refusal reason. */
function expectInvalidToken(response: Answer, code?: JwtRotationErrorCode, token?: string): void {
  const description = expectInvalidTokenChallenge(response, ISSUER);
  if (code) expect(description).toBe(ERROR_DESCRIPTIONS[code]);
  expect(JSON.parse(response.text)).toMatchObject({ statusCode: 401, error: 'invalid_token' });
  // Never echoed back (short strings could occur in the fixed texts by chance).
  if (token !== undefined && token.length >= 16) expect(response.text).not.toContain(token);
}

/** 400 with an RFC 6750 `invalid_request` challenge: the request itself is malformed (§3.1). */
function expectInvalidRequest(response: Answer): void {
  expect(response.status).toBe(400);
  const challenge = parseChallenge(response.headers['www-authenticate']);
  expect(challenge.params).toMatchObject({ realm: ISSUER, error: 'invalid_request' });
  expect(challenge.params.error_description).toMatch(RFC6750_DESCRIPTION);
}

/** 401 with a bare challenge: no Bearer credential was presented, so there is no error code (RFC 6750 §3.1). */
function expectNoCredential(response: Answer): void {
  expect(response.status).toBe(401);
  expect(parseChallenge(response.headers['www-authenticate']).params).toEqual({ realm: ISSUER });
}

const nowSec = (): number => Math.floor(Date.now() / 1000);

/** alice's claims, fresh: what the server itself would sign for her. */
function aliceClaims(): Record<string, unknown> {
  const now = nowSec();
  return {
    sub: 'alice',
    roles: ['admin'],
    permissions: ['articles:write'],
    iss: ISSUER,
    aud: ISSUER,
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: randomB64(16),
  };
}

const accessHeader = (kid: string): Record<string, unknown> => ({ alg: 'HS256', kid, typ: 'at+jwt' });

/** Sends the token to GET /me and to the admin-only, state-changing POST /admin/keys/rotate: both must refuse it the same way. */
async function expectRefused(t: Target, token: string, code?: JwtRotationErrorCode): Promise<void> {
  const me = await t.example.http().get('/me').set('Authorization', bearer(token));
  expectInvalidToken(me, code, token);
  const rotate = await t.example.http().post('/admin/keys/rotate').set('Authorization', bearer(token));
  expectInvalidToken(rotate, code, token);
}

/** Same for an Authorization header value the guard must refuse as a malformed request. */
async function expectMalformedRequest(t: Target, authorization: string): Promise<void> {
  expectInvalidRequest(await t.example.http().get('/me').set('Authorization', authorization));
  expectInvalidRequest(await t.example.http().post('/admin/keys/rotate').set('Authorization', authorization));
}

/** A heap-usage reading after a full GC when V8 lets us force one, else a raw reading. */
function heapUsed(): { bytes: number; collected: boolean } {
  let gc: (() => void) | undefined;
  try {
    setFlagsFromString('--expose_gc');
    gc = runInNewContext('gc') as () => void;
  } catch {
    gc = undefined;
  }
  if (typeof gc === 'function') gc();
  return { bytes: process.memoryUsage().heapUsed, collected: typeof gc === 'function' };
}

describe('attacks on the example app (in-memory store)', () => {
  let t: Target;
  beforeAll(async () => {
    t = await openTarget('memory');
  });
  afterAll(() => closeTarget(t));
  keepsServerState(() => t);

  const signed = (header: Record<string, unknown> | string, payload: Record<string, unknown> | string): string =>
    compact(
      typeof header === 'string' ? header : JSON.stringify(header),
      typeof payload === 'string' ? payload : JSON.stringify(payload),
      serverSigner(t.example.app).sign,
    );
  const forged = (header: Record<string, unknown> | string, payload: Record<string, unknown> | string): string =>
    compact(
      typeof header === 'string' ? header : JSON.stringify(header),
      typeof payload === 'string' ? payload : JSON.stringify(payload),
      () => randomB64(32),
    );
  const currentKid = (): string => serverSigner(t.example.app).kid;

  it('control: a token built here and signed with the current key is accepted (so the refusals below are not an artefact)', async () => {
    const token = signed(accessHeader(currentKid()), aliceClaims());
    const response = await t.example.http().get('/me').set('Authorization', bearer(token)).expect(200);
    expect(response.body).toMatchObject({ sub: 'alice', roles: ['admin'] });
    expect(headerOf(t.admin).kid).toBe(currentKid());
  });

  describe('token structure', () => {
    const [h, p, s] = [0, 1, 2].map((i) => () => t.admin.split('.')[i]);

    it.each<[string, () => string]>([
      ['one segment', () => 'abc'],
      ['one segment: a valid token without its dots', () => t.admin.replaceAll('.', '')],
      ['two segments', () => 'abc.def'],
      ['two segments: header and payload of a valid token', () => `${h()}.${p()}`],
      ['four segments', () => 'a.b.c.d'],
      ['four segments: a valid token and its signature again', () => `${t.admin}.${s()}`],
      ['a valid token followed by a dot', () => `${t.admin}.`],
      ['only dots', () => '...'],
      ['a valid token with an empty signature', () => `${h()}.${p()}.`],
      ['a valid token with an empty header', () => `.${p()}.${s()}`],
      ['a valid token with an empty payload', () => `${h()}..${s()}`],
      ['a header with characters outside the base64url alphabet (~)', () => `eyJ~~~~.${p()}.${s()}`],
      ['a header of an impossible base64url length (4n+1)', () => `eyJhb.${p()}.${s()}`],
      ['a header that is base64url of text, not JSON', () => `${b64url('not json at all')}.${p()}.${s()}`],
      ['a header that is truncated JSON', () => `${b64url('{"alg":"HS256","kid":')}.${p()}.${s()}`],
      ['a header that is JavaScript, not JSON', () => `${b64url(`{alg:'HS256',kid:'${currentKid()}',typ:'at+jwt'}`)}.${p()}.${s()}`],
      ['a header that is a JSON array', () => forged(JSON.stringify([accessHeader(currentKid())]), aliceClaims())],
      ['a header that is a JSON number', () => forged('256', aliceClaims())],
      ['a header that is a JSON string', () => forged('"HS256"', aliceClaims())],
      ['a header that is JSON null', () => forged('null', aliceClaims())],
      ['a header that is JSON true', () => forged('true', aliceClaims())],
      [
        'a header with a byte order mark before the JSON',
        () => forged(`\ufeff${JSON.stringify(accessHeader(currentKid()))}`, aliceClaims()),
      ],
      ['a header whose bytes are not UTF-8', () => `${b64url(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]))}.${p()}.${s()}`],
    ])('refuses %s with 401 invalid_token (malformed)', async (_, make) => {
      await expectRefused(t, make(), 'ERR_JWT_MALFORMED');
    });

    // The payload is only parsed once the signature has verified, so these are signed with the
    // server's own key to reach the parser at all.
    it.each<[string, string]>([
      ['text, not JSON', 'not json at all'],
      ['truncated JSON', '{"sub":"alice","exp":'],
      ['a JSON array', '[{"sub":"alice"}]'],
      ['a JSON number', '1e400'],
      ['a JSON string', '"alice"'],
      ['JSON null', 'null'],
      ['an empty JSON text', ''],
    ])('refuses a payload that is %s, even signed with the current key, with 401 (malformed)', async (_, payload) => {
      await expectRefused(t, signed(accessHeader(currentKid()), payload), 'ERR_JWT_MALFORMED');
    });

    describe('duplicate members (RFC 7515 §5.2 / RFC 7519 §4: reject, or use the lexically last one)', () => {
      it('refuses a forged token whose header repeats alg with "none" last', async () => {
        await expectRefused(
          t,
          forged(withMember(JSON.stringify(accessHeader(currentKid())), 'alg', '"none"', 'last'), aliceClaims()),
          'ERR_JWT_ALGORITHM_NOT_ALLOWED',
        );
      });

      it('refuses a header repeating alg with "none" last even with a valid signature of the current key', async () => {
        await expectRefused(
          t,
          signed(withMember(JSON.stringify(accessHeader(currentKid())), 'alg', '"none"', 'last'), aliceClaims()),
          'ERR_JWT_ALGORITHM_NOT_ALLOWED',
        );
      });

      it('refuses a signed header repeating kid with an unknown kid last', async () => {
        await expectRefused(
          t,
          signed(withMember(JSON.stringify(accessHeader(currentKid())), 'kid', '"no-such-kid"', 'last'), aliceClaims()),
          'ERR_JWT_KEY_UNKNOWN',
        );
      });

      it('refuses a signed payload repeating aud with a foreign audience last', async () => {
        await expectRefused(
          t,
          signed(accessHeader(currentKid()), withMember(JSON.stringify(aliceClaims()), 'aud', '"https://evil.test"', 'last')),
          'ERR_JWT_AUDIENCE_INVALID',
        );
      });

      it('refuses a signed payload repeating exp with an expired one last', async () => {
        await expectRefused(
          t,
          signed(accessHeader(currentKid()), withMember(JSON.stringify(aliceClaims()), 'exp', String(nowSec() - 3600), 'last')),
          'ERR_JWT_EXPIRED',
        );
      });

      it('refuses a forged payload with duplicates (the signature is checked first)', async () => {
        await expectRefused(
          t,
          forged(accessHeader(currentKid()), withMember(JSON.stringify(aliceClaims()), 'sub', '"bob"', 'first')),
          'ERR_JWT_SIGNATURE_INVALID',
        );
      });

      // Documented behaviour, not an attack (only the key holder can sign these): JSON.parse keeps
      // the last member, and every check and the claims handed to the route read that one parse,
      // so no two parts of the server can disagree about a token.
      it('for a token signed with the current key, acts on the lexically last members everywhere (200 on GET /me only)', async () => {
        const header = withMember(JSON.stringify(accessHeader(currentKid())), 'alg', '"none"', 'first');
        const payload = withMember(JSON.stringify(aliceClaims()), 'sub', '"mallory"', 'first');
        const response = await t.example
          .http()
          .get('/me')
          .set('Authorization', bearer(signed(header, payload)));
        expect(response.status).toBe(200);
        expect(response.body.sub).toBe('alice');
      });
    });

    describe('deeply nested JSON', () => {
      const deep = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);

      // 10,000 levels make a 27 KB token: past maxTokenLength (8192), which refuses it before any
      // parsing, and past Node's 16 KB limit on the request head (http.maxHeaderSize), so the HTTP
      // server itself answers 431 before the app sees the request. Either answer is a refusal.
      it('refuses a payload nested 10,000 levels deep quickly, with 431 or 401, never a 5xx', async () => {
        const token = signed(accessHeader(currentKid()), withRawValue(aliceClaims(), 'x', deep(10_000)));
        expect(token.length).toBeGreaterThan(16 * 1024);
        const started = performance.now();
        const response = await t.example.http().get('/me').set('Authorization', bearer(token));
        expect(performance.now() - started).toBeLessThan(1000);
        expect([401, 431]).toContain(response.status);
        if (response.status === 401) expectInvalidToken(response, 'ERR_JWT_MALFORMED', token);
      });

      it('TokenService.verify refuses the same 10,000-level token by its length, in well under a second', () => {
        const token = signed(accessHeader(currentKid()), withRawValue(aliceClaims(), 'x', deep(10_000)));
        const started = performance.now();
        expect(() => t.example.app.get(TokenService).verify(token)).toThrow(MalformedTokenError);
        expect(performance.now() - started).toBeLessThan(1000);
      });

      // Within maxTokenLength: ~2,700 levels, which the parser does reach.
      it('refuses a 2,700-level array as the whole payload, signed with the current key (malformed)', async () => {
        const token = signed(accessHeader(currentKid()), deep(2700));
        expect(token.length).toBeLessThanOrEqual(8192);
        await expectRefused(t, token, 'ERR_JWT_MALFORMED');
      });

      it('refuses a 2,700-level array as sub, signed with the current key (invalid claim)', async () => {
        const token = signed(accessHeader(currentKid()), withRawValue(aliceClaims(), 'sub', deep(2700)));
        expect(token.length).toBeLessThanOrEqual(8192);
        await expectRefused(t, token, 'ERR_JWT_CLAIM_INVALID');
      });

      it('refuses a 2,700-level array as the whole header (malformed)', async () => {
        await expectRefused(t, forged(deep(2700), aliceClaims()), 'ERR_JWT_MALFORMED');
      });

      it('refuses a forged token whose header holds an 800-level nested object (parsed, then the signature fails)', async () => {
        const nested = '{"a":'.repeat(800) + '1' + '}'.repeat(800);
        const token = forged(withMember(JSON.stringify(accessHeader(currentKid())), 'x', nested, 'last'), aliceClaims());
        expect(token.length).toBeLessThanOrEqual(8192);
        await expectRefused(t, token, 'ERR_JWT_SIGNATURE_INVALID');
      });
    });

    describe('oversized tokens', () => {
      const ofLength = (length: number): string => {
        const prefix = `${h()}.`;
        const suffix = `.${s()}`;
        return prefix + 'A'.repeat(length - prefix.length - suffix.length) + suffix;
      };

      it.each([8193, 15_000])(
        'refuses a %i-character token (over maxTokenLength, under the HTTP header limit) with 401 (malformed)',
        async (length) => {
          const token = ofLength(length);
          expect(token.length).toBe(length);
          await expectRefused(t, token, 'ERR_JWT_MALFORMED');
        },
      );

      // Node's HTTP server refuses a request head over 16 KB (http.maxHeaderSize) with 431 Request
      // Header Fields Too Large before the app runs; were the limit raised, the library's
      // maxTokenLength check would answer 401. Both are refusals; a 5xx or a slow answer is not.
      // (Node closes the connection after the 431; should that reset reach the client while it is
      // still sending the 1 MB head, it sees ECONNRESET/EPIPE instead: refused all the same.)
      it.each([
        ['100 KB', 100 * 1024],
        ['1 MB', MB],
      ])('answers a %s token within a second with 431 or 401, never a 5xx', async (_, length) => {
        const token = ofLength(length);
        for (const send of [
          () => t.example.http().get('/me').set('Authorization', bearer(token)),
          () => t.example.http().post('/admin/keys/rotate').set('Authorization', bearer(token)),
        ]) {
          const started = performance.now();
          const response = await send().catch((error: NodeJS.ErrnoException) => {
            expect(error.code).toMatch(/^(ECONNRESET|EPIPE)$/);
            return undefined;
          });
          expect(performance.now() - started).toBeLessThan(1000);
          if (response === undefined) continue;
          expect([401, 431]).toContain(response.status);
          if (response.status === 401) expectInvalidToken(response, 'ERR_JWT_MALFORMED', token);
        }
      });

      it.each([
        ['100 KB', 100 * 1024],
        ['1 MB', MB],
      ])('TokenService.verify refuses a %s token by its length before parsing, in well under a second', (_, length) => {
        const token = ofLength(length);
        const started = performance.now();
        expect(() => t.example.app.get(TokenService).verify(token)).toThrow(MalformedTokenError);
        expect(performance.now() - started).toBeLessThan(1000);
      });
    });

    describe('non-ASCII and control characters', () => {
      // Control characters never reach the app: Node's HTTP parser (llhttp) refuses a header
      // value holding one with a bare 400 Bad Request and closes the connection.
      it.each<[string, number[]]>([
        ['NUL', [0x00]],
        ['SOH (0x01)', [0x01]],
        ['ESC (0x1b)', [0x1b]],
        ['US (0x1f)', [0x1f]],
        ['DEL (0x7f)', [0x7f]],
        ['a lone CR', [0x0d]],
      ])('a token holding %s is refused by the HTTP parser with 400', async (_, bytes) => {
        const [head, tail] = [t.admin.slice(0, 40), t.admin.slice(40)];
        const response = await rawRequest(
          t.port,
          rawGet('/me', Buffer.concat([Buffer.from(`Bearer ${head}`), Buffer.from(bytes), Buffer.from(tail)])),
        );
        expect(response.status).toBe(400);
        expect(response.headers['www-authenticate']).toBeUndefined();
      });

      // These reach the guard (a header value is read as Latin-1), which answers the request
      // as malformed: they are outside the b64token grammar of RFC 6750 §2.1.
      const inserted = (bytes: Buffer) => (token: string) =>
        Buffer.concat([Buffer.from(`Bearer ${token.slice(0, 40)}`), bytes, Buffer.from(token.slice(40))]);
      it.each<[string, (token: string) => Buffer]>([
        ['a TAB', inserted(Buffer.from('\t'))],
        ['Latin-1 é (one byte 0xe9)', inserted(Buffer.from([0xe9]))],
        ['UTF-8 é', inserted(Buffer.from('é', 'utf8'))],
        ['UTF-8 emoji', inserted(Buffer.from('😀', 'utf8'))],
        ['UTF-8 right-to-left override (U+202E)', inserted(Buffer.from('\u202e', 'utf8'))],
        ['UTF-8 byte order mark', inserted(Buffer.from('\ufeff', 'utf8'))],
        ['UTF-8 fullwidth dots (U+FF0E) in place of the dots', (token) => Buffer.from(`Bearer ${token.replaceAll('.', '\uff0e')}`, 'utf8')],
      ])('a token holding %s is refused with 400 invalid_request', async (_, authorization) => {
        for (const path of ['/me', '/admin/keys']) {
          expectInvalidRequest(await rawRequest(t.port, rawGet(path, authorization(t.admin))));
        }
      });

      it.each<[string, string]>([
        ['a non-ASCII kid', 'ключ'],
        ['a right-to-left override in the kid', '\u202e' + 'dik'],
        ['a lone surrogate as kid', '\ud800'],
        ['a kid of control characters', '\u0001\u001b[31m\u0007'],
      ])('refuses a header with %s (valid base64url of valid JSON) with 401 (unknown key)', async (_, kid) => {
        await expectRefused(t, forged(accessHeader(kid), aliceClaims()), 'ERR_JWT_KEY_UNKNOWN');
      });

      it('refuses the empty token ("Bearer " and nothing else) as a malformed request (400)', async () => {
        await expectMalformedRequest(t, 'Bearer ');
      });
    });
  });

  describe('protected header', () => {
    const headerCases: Array<[string, (kid: string) => Record<string, unknown>, JwtRotationErrorCode]> = [
      ['alg none', (kid) => ({ alg: 'none', kid, typ: 'at+jwt' }), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['alg None', (kid) => ({ alg: 'None', kid, typ: 'at+jwt' }), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['alg NONE', (kid) => ({ alg: 'NONE', kid, typ: 'at+jwt' }), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['alg nOnE', (kid) => ({ alg: 'nOnE', kid, typ: 'at+jwt' }), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      [
        'alg hs256 (alg is case-sensitive, RFC 7515 §4.1.1)',
        (kid) => ({ alg: 'hs256', kid, typ: 'at+jwt' }),
        'ERR_JWT_ALGORITHM_NOT_ALLOWED',
      ],
      ['alg "HS256 " with a trailing space', (kid) => ({ alg: 'HS256 ', kid, typ: 'at+jwt' }), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['alg HS384', (kid) => ({ alg: 'HS384', kid, typ: 'at+jwt' }), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['alg HS512', (kid) => ({ alg: 'HS512', kid, typ: 'at+jwt' }), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['alg RS256', (kid) => ({ alg: 'RS256', kid, typ: 'at+jwt' }), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['alg ES256', (kid) => ({ alg: 'ES256', kid, typ: 'at+jwt' }), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['alg PS256', (kid) => ({ alg: 'PS256', kid, typ: 'at+jwt' }), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['alg EdDSA', (kid) => ({ alg: 'EdDSA', kid, typ: 'at+jwt' }), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['no alg', (kid) => ({ kid, typ: 'at+jwt' }), 'ERR_JWT_MALFORMED'],
      ['alg null', (kid) => ({ alg: null, kid, typ: 'at+jwt' }), 'ERR_JWT_MALFORMED'],
      ['alg as a number', (kid) => ({ alg: 256, kid, typ: 'at+jwt' }), 'ERR_JWT_MALFORMED'],
      ['alg as an array', (kid) => ({ alg: ['HS256'], kid, typ: 'at+jwt' }), 'ERR_JWT_MALFORMED'],
      ['an embedded jwk', (kid) => ({ ...accessHeader(kid), jwk: { kty: 'oct', k: randomB64(32) } }), 'ERR_JWT_HEADER_UNSUPPORTED'],
      ['jku', (kid) => ({ ...accessHeader(kid), jku: 'https://evil.test/jwks.json' }), 'ERR_JWT_HEADER_UNSUPPORTED'],
      ['x5u', (kid) => ({ ...accessHeader(kid), x5u: 'https://evil.test/cert.pem' }), 'ERR_JWT_HEADER_UNSUPPORTED'],
      ['x5c', (kid) => ({ ...accessHeader(kid), x5c: [randomB64(64)] }), 'ERR_JWT_HEADER_UNSUPPORTED'],
      [
        'crit with an unknown extension',
        (kid) => ({ ...accessHeader(kid), crit: ['urn:example:unknown'], 'urn:example:unknown': true }),
        'ERR_JWT_HEADER_UNSUPPORTED',
      ],
      [
        'crit naming a registered member (RFC 7515 §4.1.11 forbids it)',
        (kid) => ({ ...accessHeader(kid), crit: ['exp'] }),
        'ERR_JWT_HEADER_UNSUPPORTED',
      ],
      ['an empty crit list', (kid) => ({ ...accessHeader(kid), crit: [] }), 'ERR_JWT_HEADER_UNSUPPORTED'],
      [
        'b64: false (RFC 7797 unencoded payload)',
        (kid) => ({ ...accessHeader(kid), b64: false, crit: ['b64'] }),
        'ERR_JWT_HEADER_UNSUPPORTED',
      ],
      ['zip: DEF', (kid) => ({ ...accessHeader(kid), zip: 'DEF' }), 'ERR_JWT_HEADER_UNSUPPORTED'],
      ['no kid', () => ({ alg: 'HS256', typ: 'at+jwt' }), 'ERR_JWT_MALFORMED'],
      ['an empty kid', () => ({ alg: 'HS256', kid: '', typ: 'at+jwt' }), 'ERR_JWT_MALFORMED'],
      ['kid null', () => ({ alg: 'HS256', kid: null, typ: 'at+jwt' }), 'ERR_JWT_MALFORMED'],
      ['kid as a number', () => ({ alg: 'HS256', kid: 1, typ: 'at+jwt' }), 'ERR_JWT_MALFORMED'],
      ['kid as an array holding the current kid', (kid) => ({ alg: 'HS256', kid: [kid], typ: 'at+jwt' }), 'ERR_JWT_MALFORMED'],
      ['kid as an object', (kid) => ({ alg: 'HS256', kid: { toString: kid }, typ: 'at+jwt' }), 'ERR_JWT_MALFORMED'],
      ['no typ', (kid) => ({ alg: 'HS256', kid }), 'ERR_JWT_MALFORMED'],
      ['typ as a number', (kid) => ({ alg: 'HS256', kid, typ: 1 }), 'ERR_JWT_MALFORMED'],
    ];

    // Each header twice: with a random signature, and with a valid signature of the server's
    // current key (the header alone must make the token fail, whatever the signature).
    it.each(
      headerCases.flatMap(([name, header, code]) => [
        [name, 'a random signature', header, code, false] as const,
        [name, 'a valid signature of the current key', header, code, true] as const,
      ]),
    )('refuses %s with %s: 401 invalid_token', async (_, __, header, code, withServerKey) => {
      const make = withServerKey ? signed : forged;
      await expectRefused(t, make(header(currentKid()), aliceClaims()), code);
    });

    it('refuses an unsecured JWS (alg none, empty signature) as malformed', async () => {
      const token = new jose.UnsecuredJWT(aliceClaims()).encode();
      expect(token.endsWith('.')).toBe(true);
      await expectRefused(
        t,
        token.replace(/^[^.]*/, b64url(JSON.stringify({ alg: 'none', kid: currentKid(), typ: 'at+jwt' }))),
        'ERR_JWT_MALFORMED',
      );
    });

    describe('tokens signed with key material of the attacker', () => {
      let rsa: jose.GenerateKeyPairResult;
      let ec: jose.GenerateKeyPairResult;
      let rsaPublicPem: string;
      beforeAll(async () => {
        [rsa, ec] = await Promise.all([
          jose.generateKeyPair('RS256', { extractable: true }),
          jose.generateKeyPair('ES256', { extractable: true }),
        ]);
        rsaPublicPem = await jose.exportSPKI(rsa.publicKey);
      });

      const sign = (header: jose.JWTHeaderParameters, key: Parameters<jose.SignJWT['sign']>[0]): Promise<string> =>
        new jose.SignJWT(aliceClaims()).setProtectedHeader(header).sign(key);
      const hmac = (header: Record<string, unknown>, secret: string | Uint8Array): string =>
        compact(JSON.stringify(header), JSON.stringify(aliceClaims()), (input) =>
          createHmac('sha256', secret).update(input).digest('base64url'),
        );
      const attackerSecret = new Uint8Array(64).fill(0x41);

      it.each<[string, () => Promise<string> | string, JwtRotationErrorCode]>([
        [
          'HS512 with its own secret, naming the current kid',
          () => sign({ alg: 'HS512', kid: currentKid(), typ: 'at+jwt' }, attackerSecret),
          'ERR_JWT_ALGORITHM_NOT_ALLOWED',
        ],
        [
          'RS256 with its own RSA key',
          () => sign({ alg: 'RS256', kid: currentKid(), typ: 'at+jwt' }, rsa.privateKey),
          'ERR_JWT_ALGORITHM_NOT_ALLOWED',
        ],
        [
          'ES256 with its own EC key',
          () => sign({ alg: 'ES256', kid: currentKid(), typ: 'at+jwt' }, ec.privateKey),
          'ERR_JWT_ALGORITHM_NOT_ALLOWED',
        ],
        [
          'RS256 carrying its own public key as an embedded jwk (CVE-2018-0114 style)',
          async () => sign({ alg: 'RS256', kid: currentKid(), typ: 'at+jwt', jwk: await jose.exportJWK(rsa.publicKey) }, rsa.privateKey),
          'ERR_JWT_HEADER_UNSUPPORTED',
        ],
        [
          'HS256 carrying its own secret as an embedded oct jwk',
          () => hmac({ ...accessHeader(currentKid()), jwk: { kty: 'oct', k: b64url(attackerSecret) } }, attackerSecret),
          'ERR_JWT_HEADER_UNSUPPORTED',
        ],
        [
          'HS256 pointing jku at its own key set',
          () => hmac({ ...accessHeader(currentKid()), jku: 'https://evil.test/.well-known/jwks.json' }, attackerSecret),
          'ERR_JWT_HEADER_UNSUPPORTED',
        ],
        [
          'HS256 pointing x5u at its own certificate',
          () => hmac({ ...accessHeader(currentKid()), x5u: 'https://evil.test/cert.pem' }, attackerSecret),
          'ERR_JWT_HEADER_UNSUPPORTED',
        ],
        // The classic RS256/HS256 confusion: HMAC keyed with public key text. An HMAC ring has no
        // public key, so any PEM text is just a wrong secret (the RS256 ring below tries the
        // server's own public key).
        [
          'HS256 keyed with an RSA public key PEM as the HMAC secret',
          () => hmac(accessHeader(currentKid()), rsaPublicPem),
          'ERR_JWT_SIGNATURE_INVALID',
        ],
        [
          'RS256 in the header, HMAC-SHA256 keyed with an RSA public key PEM',
          () => hmac({ alg: 'RS256', kid: currentKid(), typ: 'at+jwt' }, rsaPublicPem),
          'ERR_JWT_ALGORITHM_NOT_ALLOWED',
        ],
        ['HS256 keyed with the empty secret', () => hmac(accessHeader(currentKid()), ''), 'ERR_JWT_SIGNATURE_INVALID'],
        ['HS256 keyed with the kid itself', () => hmac(accessHeader(currentKid()), currentKid()), 'ERR_JWT_SIGNATURE_INVALID'],
        ['HS256 keyed with the issuer', () => hmac(accessHeader(currentKid()), ISSUER), 'ERR_JWT_SIGNATURE_INVALID'],
      ])('refuses %s with 401 invalid_token', async (_, make, code) => {
        await expectRefused(t, await make(), code);
      });
    });
  });

  describe('claims of tokens signed with the current key', () => {
    const withClaims = (changes: Record<string, unknown>, removed: string[] = []): string => {
      const claims = { ...aliceClaims(), ...changes };
      for (const name of removed) delete claims[name];
      return JSON.stringify(claims);
    };
    const withRaw = (name: string, raw: string): string => withRawValue(aliceClaims(), name, raw);
    const ahead = (seconds: number) => nowSec() + seconds;

    it.each<[string, () => string, JwtRotationErrorCode]>([
      ['expired an hour ago', () => withClaims({ exp: ahead(-3600), iat: ahead(-4000), nbf: ahead(-4000) }), 'ERR_JWT_EXPIRED'],
      [
        'expired 31 s ago (just past the 30 s tolerance)',
        () => withClaims({ exp: ahead(-31), iat: ahead(-600), nbf: ahead(-600) }),
        'ERR_JWT_EXPIRED',
      ],
      ['not valid for another hour (nbf)', () => withClaims({ nbf: ahead(3600) }), 'ERR_JWT_NOT_YET_VALID'],
      ['not valid for another 35 s (nbf just past the 30 s tolerance)', () => withClaims({ nbf: ahead(35) }), 'ERR_JWT_NOT_YET_VALID'],
      ['issued an hour in the future (iat)', () => withClaims({ iat: ahead(3600) }), 'ERR_JWT_ISSUED_IN_FUTURE'],
      ['issued 35 s in the future (iat just past the 30 s tolerance)', () => withClaims({ iat: ahead(35) }), 'ERR_JWT_ISSUED_IN_FUTURE'],
      ['a foreign issuer', () => withClaims({ iss: 'https://evil.test' }), 'ERR_JWT_ISSUER_INVALID'],
      ['no issuer', () => withClaims({}, ['iss']), 'ERR_JWT_ISSUER_INVALID'],
      ['the issuer with a trailing slash', () => withClaims({ iss: `${ISSUER}/` }), 'ERR_JWT_ISSUER_INVALID'],
      ['the issuer inside an array', () => withClaims({ iss: [ISSUER] }), 'ERR_JWT_ISSUER_INVALID'],
      ['issuer null', () => withClaims({ iss: null }), 'ERR_JWT_ISSUER_INVALID'],
      ['a foreign audience', () => withClaims({ aud: 'https://evil.test' }), 'ERR_JWT_AUDIENCE_INVALID'],
      ['no audience', () => withClaims({}, ['aud']), 'ERR_JWT_AUDIENCE_INVALID'],
      ['an empty audience list', () => withClaims({ aud: [] }), 'ERR_JWT_AUDIENCE_INVALID'],
      ['a list of foreign audiences', () => withClaims({ aud: ['https://evil.test', `${ISSUER}.evil.test`] }), 'ERR_JWT_AUDIENCE_INVALID'],
      ['the api audience on a default-audience route', () => withClaims({ aud: `${ISSUER}/api` }), 'ERR_JWT_AUDIENCE_INVALID'],
      ['an audience that only starts with the right one', () => withClaims({ aud: `${ISSUER}.evil.test` }), 'ERR_JWT_AUDIENCE_INVALID'],
      ['the audience nested one array deeper', () => withClaims({ aud: [[ISSUER]] }), 'ERR_JWT_AUDIENCE_INVALID'],
      ['the audience as an object', () => withClaims({ aud: { 0: ISSUER, length: 1 } }), 'ERR_JWT_AUDIENCE_INVALID'],
      ['exp as a string', () => withClaims({ exp: String(ahead(600)) }), 'ERR_JWT_CLAIM_INVALID'],
      ['iat as a string', () => withClaims({ iat: String(nowSec()) }), 'ERR_JWT_CLAIM_INVALID'],
      ['nbf as a string', () => withClaims({ nbf: String(nowSec()) }), 'ERR_JWT_CLAIM_INVALID'],
      ['exp as an ISO date', () => withClaims({ exp: new Date(Date.now() + 600_000).toISOString() }), 'ERR_JWT_CLAIM_INVALID'],
      ['exp null', () => withClaims({ exp: null }), 'ERR_JWT_CLAIM_INVALID'],
      ['exp true', () => withClaims({ exp: true }), 'ERR_JWT_CLAIM_INVALID'],
      ['exp inside an array', () => withClaims({ exp: [ahead(600)] }), 'ERR_JWT_CLAIM_INVALID'],
      ['no exp', () => withClaims({}, ['exp']), 'ERR_JWT_CLAIM_INVALID'],
      ['no iat', () => withClaims({}, ['iat']), 'ERR_JWT_CLAIM_INVALID'],
      ['exp 1e400 (JSON.parse makes it Infinity)', () => withRaw('exp', '1e400'), 'ERR_JWT_CLAIM_INVALID'],
      ['exp -1e400 (-Infinity)', () => withRaw('exp', '-1e400'), 'ERR_JWT_CLAIM_INVALID'],
      ['iat 1e400 (Infinity)', () => withRaw('iat', '1e400'), 'ERR_JWT_CLAIM_INVALID'],
      ['nbf 1e400 (Infinity)', () => withRaw('nbf', '1e400'), 'ERR_JWT_CLAIM_INVALID'],
      ['iat -1e400 (-Infinity)', () => withRaw('iat', '-1e400'), 'ERR_JWT_CLAIM_INVALID'],
      ['iat 1e308', () => withRaw('iat', '1e308'), 'ERR_JWT_ISSUED_IN_FUTURE'],
      ['nbf 1e308', () => withRaw('nbf', '1e308'), 'ERR_JWT_NOT_YET_VALID'],
      ['exp -1', () => withClaims({ exp: -1 }), 'ERR_JWT_EXPIRED'],
      ['exp 0', () => withClaims({ exp: 0 }), 'ERR_JWT_EXPIRED'],
      ['exp -1e308', () => withRaw('exp', '-1e308'), 'ERR_JWT_EXPIRED'],
      ['exp 5e-324 (the smallest positive double)', () => withRaw('exp', '5e-324'), 'ERR_JWT_EXPIRED'],
      ['sub as a number', () => withClaims({ sub: 42 }), 'ERR_JWT_CLAIM_INVALID'],
      ['sub as an object', () => withClaims({ sub: { toString: 'alice' } }), 'ERR_JWT_CLAIM_INVALID'],
      ['no jti', () => withClaims({}, ['jti']), 'ERR_JWT_CLAIM_INVALID'],
      ['jti as a number', () => withClaims({ jti: 7 }), 'ERR_JWT_CLAIM_INVALID'],
    ])('refuses a token %s with 401 invalid_token', async (_, payload, code) => {
      await expectRefused(t, signed(accessHeader(currentKid()), payload()), code);
    });

    it.each<[string, unknown]>([
      ['typ JWT', 'JWT'],
      ['typ jwt', 'jwt'],
      ['typ refresh+jwt (a refresh token header on access claims)', 'refresh+jwt'],
      ['an empty typ', ''],
    ])('refuses a token with %s with 401 invalid_token (not an access token)', async (_, typ) => {
      await expectRefused(t, signed({ alg: 'HS256', kid: currentKid(), typ }, aliceClaims()), 'ERR_JWT_TYPE_INVALID');
    });

    // RFC 7519 puts no upper bound on exp, but no token this issuer signs lives longer than its
    // longest token lifetime: a longer one could only be forged with the key, and would outlive it.
    it('refuses exp 1e308 even on a token signed with the current key: longer than any lifetime the issuer signs', async () => {
      await expectRefused(t, signed(accessHeader(currentKid()), withRaw('exp', '1e308')), 'ERR_JWT_CLAIM_INVALID');
    });

    it('does not let a __proto__ or constructor member of the payload grant a role (403, and Object.prototype untouched)', async () => {
      const claims = { ...aliceClaims(), sub: 'bob' } as Record<string, unknown>;
      delete claims.roles;
      const payload = withMember(
        withMember(JSON.stringify(claims), '__proto__', '{"roles":["admin"]}', 'last'),
        'constructor',
        '{"prototype":{"roles":["admin"]}}',
        'last',
      );
      const token = signed(accessHeader(currentKid()), payload);
      const me = await t.example.http().get('/me').set('Authorization', bearer(token)).expect(200);
      expect(me.body.sub).toBe('bob');
      const response = await t.example.http().post('/admin/keys/rotate').set('Authorization', bearer(token));
      expect(response.status).toBe(403);
      expect(parseChallenge(response.headers['www-authenticate']).params.error).toBe('insufficient_scope');
      expect(({} as Record<string, unknown>).roles).toBeUndefined();
    });
  });

  describe('signatures', () => {
    let bobSignature = '';
    beforeAll(async () => {
      bobSignature = (await t.example.login('bob')).access_token.split('.')[2];
    });

    it('no single-character change of a valid token, in any segment, is accepted over HTTP (~3,000 mutations)', async () => {
      const token = t.admin;
      // 2,000 bit flips and 1,000 other substitutions, drawn (with a fixed seed) from every
      // position of every segment.
      const flips = bitFlips(token);
      const seen = new Set(flips.map((m) => m.token));
      const others = replacements(token).filter((m) => !seen.has(m.token));
      const mutations = [...sample(flips, 2000, 0xf11b), ...sample(others, 1000, 0x5eed)];
      expect(mutations.length).toBe(3000);
      const perSegment = [0, 1, 2].map((segment) => mutations.filter((m) => m.segment === segment).length);
      expect(Math.min(...perSegment)).toBeGreaterThan(200);

      const statuses = new Map<number, number>();
      const wrong: string[] = [];
      await mapLimit(mutations, 32, async (mutation) => {
        const response = await t.client.request('POST', '/admin/keys/rotate', { authorization: bearer(mutation.token) });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const error = response.status === 401 ? parseChallenge(response.headers['www-authenticate']).params.error : undefined;
        if (error !== 'invalid_token' && wrong.length < 10) wrong.push(`${mutation.how} at ${mutation.index}: ${response.status}`);
      });
      console.log(
        `[signatures] ${mutations.length} HTTP mutations (header/payload/signature: ${perSegment.join('/')}):`,
        Object.fromEntries(statuses),
      );
      expect(wrong).toEqual([]);
      expect(Object.fromEntries(statuses)).toEqual({ 401: mutations.length });
    });

    it('TokenService.verify throws a TokenVerificationError for every one of >20,000 single-character changes', () => {
      const tokens = t.example.app.get(TokenService);
      const token = t.admin;
      expect(tokens.verify(token).sub).toBe('alice');
      // Every bit flip, every base64url substitution, every deletion and insertion, and
      // substitutions by characters outside the alphabet (ASCII and Latin-1 only: see the
      // known bug about characters beyond U+00FF below).
      const mutations = [
        ...bitFlips(token),
        ...replacements(token),
        ...deletionsAndInsertions(token),
        ...replacements(token, '.=+/~ \t\0"\\\u007f\u0080\u00a0\u00e9\u00ff'),
      ];
      expect(mutations.length).toBeGreaterThan(20_000);
      const accepted: string[] = [];
      const wrongError: string[] = [];
      for (const mutation of mutations) {
        try {
          tokens.verify(mutation.token);
          accepted.push(`${mutation.how} at ${mutation.index}`);
        } catch (error) {
          if (!(error instanceof TokenVerificationError)) wrongError.push(`${mutation.how} at ${mutation.index}: ${String(error)}`);
        }
      }
      console.log(`[signatures] ${mutations.length} mutations straight to TokenService.verify, ${accepted.length} accepted`);
      expect(accepted).toEqual([]);
      expect(wrongError).toEqual([]);
    });

    it('refuses a non-canonical encoding of the right signature (same bytes, other padding bits)', async () => {
      const [h, p, s] = t.admin.split('.');
      // 32 bytes take 43 characters; the low 2 bits of the last one are padding.
      const last = BASE64URL.indexOf(s.at(-1)!);
      const variant = s.slice(0, -1) + BASE64URL[last ^ 1];
      expect(Buffer.from(variant, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
      await expectRefused(t, `${h}.${p}.${variant}`, 'ERR_JWT_SIGNATURE_INVALID');
    });

    it.each<[string, (h: string, p: string, s: string) => string]>([
      ["bob's valid signature on alice's header and payload", (h, p) => `${h}.${p}.${bobSignature}`],
      ['the signature without its last character', (h, p, s) => `${h}.${p}.${s.slice(0, -1)}`],
      ['the signature with one more character', (h, p, s) => `${h}.${p}.${s}A`],
      ['the signature in standard base64 with padding', (h, p, s) => `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`],
      ['the signature doubled', (h, p, s) => `${h}.${p}.${s}${s}`],
      ['the signature bytes in hex', (h, p, s) => `${h}.${p}.${Buffer.from(s, 'base64url').toString('hex')}`],
      ['the signature of an empty signing input', (h, p) => `${h}.${p}.${serverSigner(t.example.app).sign('')}`],
      ['the signature of the payload segment alone', (h, p) => `${h}.${p}.${serverSigner(t.example.app).sign(p)}`],
      [
        'a signature of the published next key under the current kid',
        (h, p) => {
          const next = t.example.app
            .get(KeyRing)
            .all()
            .find((k) => k.entry.kid !== currentKid());
          if (!next) throw new Error('no next key in the ring');
          return `${h}.${p}.${next.key.sign(`${h}.${p}`)}`;
        },
      ],
    ])('refuses %s with 401 (invalid signature)', async (_, make) => {
      const [h, p, s] = t.admin.split('.');
      await expectRefused(t, make(h, p, s), 'ERR_JWT_SIGNATURE_INVALID');
    });
  });

  describe('the Authorization header', () => {
    it('answers 401 with a bare challenge when there is no Authorization header', async () => {
      expectNoCredential(await t.example.http().get('/me'));
      expectNoCredential(await t.example.http().post('/admin/keys/rotate'));
    });

    it.each<[string, () => string]>([
      ['Basic credentials', () => `Basic ${Buffer.from('alice:alice-password').toString('base64')}`],
      ['a valid token under another scheme (Token)', () => `Token ${t.admin}`],
      ['a valid token under another scheme (JWT)', () => `JWT ${t.admin}`],
      ['"Bearer" glued to the token without a space', () => `Bearer${t.admin}`],
      ['"Bearer:" and the token', () => `Bearer: ${t.admin}`],
    ])('treats %s as no Bearer credential: 401 without an error code', async (_, header) => {
      expectNoCredential(await t.example.http().get('/me').set('Authorization', header()));
      expectNoCredential(await t.example.http().post('/admin/keys/rotate').set('Authorization', header()));
    });

    it.each<[string, (token: string) => string]>([
      ['bearer', (token) => `bearer ${token}`],
      ['BEARER', (token) => `BEARER ${token}`],
      ['bEaReR', (token) => `bEaReR ${token}`],
    ])('accepts the scheme written %s (case-insensitive, RFC 7235 §2.1)', async (_, header) => {
      const response = await t.example.http().get('/me').set('Authorization', header(t.admin));
      expect(response.status).toBe(200);
      expect(response.body.sub).toBe('alice');
    });

    it.each([2, 3, 40])('accepts %i spaces between the scheme and the token (1*SP, RFC 6750 §2.1)', async (spaces) => {
      const response = await t.example
        .http()
        .get('/me')
        .set('Authorization', `Bearer${' '.repeat(spaces)}${t.admin}`);
      expect(response.status).toBe(200);
      expect(response.body.sub).toBe('alice');
    });

    it.each<[string, () => string]>([
      ['two valid tokens separated by a space', () => `Bearer ${t.admin} ${t.admin}`],
      ['two valid tokens separated by a comma', () => `Bearer ${t.admin},${t.admin}`],
      ['a garbage token followed by a valid one', () => `Bearer a.b.c ${t.admin}`],
      ['a valid token followed by a second Bearer credential', () => `Bearer ${t.admin}, Bearer ${t.admin}`],
      ['a quoted token', () => `Bearer "${t.admin}"`],
      ['a token with = padding inside it', () => `Bearer ${t.admin.replace('.', '=.')}`],
    ])('refuses %s as a malformed request (400 invalid_request)', async (_, header) => {
      await expectMalformedRequest(t, header());
    });

    it('ignores a token that is only in the query string (?access_token=): 401 without an error code', async () => {
      const query = `access_token=${encodeURIComponent(t.admin)}`;
      expectNoCredential(await t.example.http().get(`/me?${query}`));
      expectNoCredential(await t.example.http().post(`/admin/keys/rotate?${query}`));
    });

    it('ignores a token that is only in a form body or a cookie: 401 without an error code', async () => {
      expectNoCredential(await t.example.http().post('/admin/keys/rotate').type('form').send({ access_token: t.admin }));
      expectNoCredential(await t.example.http().post('/admin/keys/rotate').send({ access_token: t.admin }));
      expectNoCredential(await t.example.http().post('/admin/keys/rotate').set('Cookie', `access_token=${t.admin}`));
    });
  });
});

// Cases that reach the store: an unknown kid makes the guard reload the ring (shared, at most once a
// second), so these run on both stores, with every store call recorded.
describe.each(STORES)('unknown kids and store reads on the %s store', (store) => {
  let t: Target;
  beforeAll(async () => {
    t = await openTarget(store);
  });
  afterAll(() => closeTarget(t));
  keepsServerState(() => t);

  const currentKid = (): string => serverSigner(t.example.app).kid;
  const prefix = (): string => t.example.config.keyPrefix!;
  /** Store calls other than the event log's periodic catch-up (a 60 s timer that has nothing to do with tokens). */
  const tokenDriven = (calls: StoreSpy['calls']) => calls.filter((c) => c.key !== `${prefix()}:log`);

  const kids: Array<[string, () => string]> = [
    ['a random unknown kid', () => randomB64(16)],
    ['a path traversal', () => '../../etc/passwd'],
    ['a Windows path traversal', () => '..\\..\\windows\\win.ini'],
    ['SQL injection', () => "' OR 1=1 --"],
    ['SQL injection with double quotes', () => '" OR ""="'],
    ['a glob star', () => '*'],
    ['a Redis glob pattern', () => '[a-z]*?'],
    ['a NUL character', () => '\u0000'],
    ['the current kid followed by NUL', () => `${currentKid()}\u0000`],
    ['the current kid followed by a space', () => `${currentKid()} `],
    ['the current kid with a path suffix', () => `${currentKid()}/../${currentKid()}`],
    ['the store key of the ring', () => `${prefix()}:ring`],
    ['the store key of the current key material', () => `${prefix()}:key:${currentKid()}`],
    ['a Redis command with CRLF', () => '\r\nFLUSHALL\r\n'],
    ['__proto__', () => '__proto__'],
    ['constructor', () => 'constructor'],
    ['hasOwnProperty', () => 'hasOwnProperty'],
    ['a JNDI lookup string', () => '${jndi:ldap://evil.test/a}'],
    ['HTML', () => '<script>alert(1)</script>'],
    ['a URL-encoded NUL', () => '%00'],
    ['a 4,000-character kid', () => 'k'.repeat(4000)],
  ];

  it.each(
    kids.flatMap(([name, kid]) => [
      [name, 'a random signature', kid, false] as const,
      [name, 'a valid signature of the current key', kid, true] as const,
    ]),
  )('refuses %s as kid with %s: 401 (unknown key), reading nothing but the ring and writing nothing', async (_, __, kid, withServerKey) => {
    const storeSpy = spyOnStore(t.example.app.get<RotationStore>(ROTATION_STORE));
    try {
      const sign = withServerKey ? serverSigner(t.example.app).sign : () => randomB64(32);
      const token = compact(JSON.stringify(accessHeader(kid())), JSON.stringify(aliceClaims()), sign);
      await expectRefused(t, token, 'ERR_JWT_KEY_UNKNOWN');
      const touched = new Set(tokenDriven(storeSpy.calls).map((c) => `${c.method} ${String(c.key)}`));
      expect([...touched].filter((call) => call !== `hashGetAll ${prefix()}:ring`)).toEqual([]);
    } finally {
      storeSpy.restore();
    }
  });

  it('a flood of 10,000 tokens with random unknown kids costs a bounded number of store reads and no heap growth', async () => {
    const REQUESTS = 10_000;
    const storeSpy = spyOnStore(t.example.app.get<RotationStore>(ROTATION_STORE));
    try {
      // The wrapper sits on the store the library uses: listing the keys reads the ring through it.
      await t.example.http().get('/admin/keys').set('Authorization', bearer(t.admin)).expect(200);
      expect(storeSpy.count('hashGetAll')).toBeGreaterThanOrEqual(1);

      const payload = b64url(JSON.stringify(aliceClaims()));
      const flood = (): string => `Bearer ${b64url(JSON.stringify(accessHeader(randomB64(16))))}.${payload}.${randomB64(32)}`;
      const unknownKey = ERROR_DESCRIPTIONS.ERR_JWT_KEY_UNKNOWN!;
      // Warm up (JIT, sockets, lazily built structures) before measuring.
      await mapLimit(Array.from({ length: 300 }), 32, () => t.client.request('GET', '/me', { authorization: flood() }));

      storeSpy.reset();
      const heapBefore = heapUsed();
      const started = performance.now();
      const statuses = new Map<number, number>();
      let otherRefusals = 0;
      await mapLimit(Array.from({ length: REQUESTS }), 32, async () => {
        const response = await t.client.request('GET', '/me', { authorization: flood() });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (!response.headers['www-authenticate']?.includes(`error_description="${unknownKey}"`)) otherRefusals++;
      });
      const elapsedMs = performance.now() - started;
      const calls = tokenDriven(storeSpy.calls);
      const reads = calls.filter((c) => c.method === 'hashGetAll').length;
      const storeCalls = calls.length;
      const heapAfter = heapUsed();
      const growthMb = (heapAfter.bytes - heapBefore.bytes) / MB;
      const bound = 1 + Math.ceil(elapsedMs / 1000) + 2;

      console.log(
        `[flood] ${store}: ${REQUESTS} requests in ${(elapsedMs / 1000).toFixed(2)} s; store reads (hashGetAll) ${reads}, ` +
          `all store calls ${storeCalls}, bound ${bound}`,
      );
      console.log(
        `[flood] ${store}: heap used ${(heapBefore.bytes / MB).toFixed(1)} MB -> ${(heapAfter.bytes / MB).toFixed(1)} MB ` +
          `(growth ${growthMb.toFixed(1)} MB, ${heapAfter.collected ? 'after a forced full GC' : 'no GC forced'})`,
      );
      expect(Object.fromEntries(statuses)).toEqual({ 401: REQUESTS });
      expect(otherRefusals).toBe(0);
      expect(reads).toBeLessThanOrEqual(bound);
      // Nothing but those reads: no write, no key built from a kid.
      expect(storeCalls).toBe(reads);
      expect(growthMb).toBeLessThan(50);
    } finally {
      storeSpy.restore();
    }
  });
});

// With an asymmetric ring the server publishes its public keys (GET /.well-known/jwks.json), which
// makes the classic RS256 -> HS256 confusion possible to try for real: an HMAC keyed with the
// server's own public key, in every encoding an attacker might guess. Runs once the library
// supports asymmetric algorithms.
const RS256: string = 'RS256';
describe.runIf((SUPPORTED_ALGORITHMS as readonly string[]).includes(RS256))('algorithm confusion against an RS256 key ring', () => {
  let t: Target;
  let publicJwk: jose.JWK & { kid?: string };
  let publicPem: string;
  beforeAll(async () => {
    t = await openTarget('memory', { algorithm: RS256 as JwtAlgorithm });
    const jwks = await t.example.http().get('/.well-known/jwks.json').expect(200);
    const kid = serverSigner(t.example.app).kid;
    publicJwk = (jwks.body as { keys: Array<jose.JWK & { kid?: string }> }).keys.find((k) => k.kid === kid)!;
    expect(publicJwk).toMatchObject({ kty: 'RSA', kid });
    publicPem = await jose.exportSPKI((await jose.importJWK(publicJwk, 'RS256')) as jose.CryptoKey);
  });
  afterAll(() => closeTarget(t));
  keepsServerState(() => t);

  const hmacToken = (alg: string, secret: string | Uint8Array): string =>
    compact(JSON.stringify({ alg, kid: serverSigner(t.example.app).kid, typ: 'at+jwt' }), JSON.stringify(aliceClaims()), (input) =>
      createHmac('sha256', secret).update(input).digest('base64url'),
    );

  it('control: the server signs RS256 and accepts its own tokens', async () => {
    expect(headerOf(t.admin).alg).toBe('RS256');
    await t.example.http().get('/me').set('Authorization', bearer(t.admin)).expect(200);
  });

  it.each<[string, () => string | Uint8Array]>([
    ['the SPKI PEM', () => publicPem],
    ['the SPKI PEM without its final newline', () => publicPem.trimEnd()],
    ['the SPKI DER bytes', () => Buffer.from(publicPem.replace(/-----[^-]+-----|\s/g, ''), 'base64')],
    ['the public JWK as JSON text', () => JSON.stringify(publicJwk)],
    ['the modulus n (base64url text)', () => publicJwk.n!],
    ['the modulus n (bytes)', () => Buffer.from(publicJwk.n!, 'base64url')],
  ])('refuses HS256 keyed with the server public key as %s: 401 (algorithm not accepted)', async (_, secret) => {
    await expectRefused(t, hmacToken('HS256', secret()), 'ERR_JWT_ALGORITHM_NOT_ALLOWED');
  });

  it('refuses an RS256 header over an HMAC keyed with the server public key: 401 (invalid signature)', async () => {
    await expectRefused(t, hmacToken('RS256', publicPem), 'ERR_JWT_SIGNATURE_INVALID');
  });

  it.each(['none', 'HS256', 'PS256', 'ES256'])('refuses alg %s over a valid RS256 signature of the current key: 401', async (alg) => {
    const token = compact(
      JSON.stringify({ alg, kid: serverSigner(t.example.app).kid, typ: 'at+jwt' }),
      JSON.stringify(aliceClaims()),
      serverSigner(t.example.app).sign,
    );
    await expectRefused(t, token, 'ERR_JWT_ALGORITHM_NOT_ALLOWED');
  });

  it('no single-character change of an RS256 token that changes its bytes is accepted (HTTP and TokenService.verify)', async () => {
    const token = t.admin;
    const signatureStart = token.lastIndexOf('.') + 1;
    const signatureBytes = Buffer.from(token.slice(signatureStart), 'base64url');
    // Changes that leave the signature bytes as they were are the subject of the known bug below.
    const changesBytes = (m: Mutation) =>
      m.segment < 2 || !Buffer.from(m.token.slice(m.token.lastIndexOf('.') + 1), 'base64url').equals(signatureBytes);
    const mutations = [
      ...sample(bitFlips(token).filter(changesBytes), 1000, 0x5a),
      ...sample(replacements(token).filter(changesBytes), 300, 0x5b),
    ];
    const perSegment = [0, 1, 2].map((segment) => mutations.filter((m) => m.segment === segment).length);
    expect(Math.min(...perSegment)).toBeGreaterThan(100);
    const tokens = t.example.app.get(TokenService);
    const acceptedDirectly = mutations.filter((m) => {
      try {
        tokens.verify(m.token);
        return true;
      } catch {
        return false;
      }
    });
    expect(acceptedDirectly.map((m) => `${m.how} at ${m.index}`)).toEqual([]);
    const statuses = new Map<number, number>();
    await mapLimit(mutations, 32, async (m) => {
      const response = await t.client.request('POST', '/admin/keys/rotate', { authorization: bearer(m.token) });
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    });
    expect(Object.fromEntries(statuses)).toEqual({ 401: mutations.length });
  });

  it("refuses an RS256 token signed with the attacker's own RSA key under the server kid: 401 (invalid signature)", async () => {
    const { privateKey } = await jose.generateKeyPair('RS256');
    const token = await new jose.SignJWT(aliceClaims())
      .setProtectedHeader({ alg: 'RS256', kid: serverSigner(t.example.app).kid, typ: 'at+jwt' })
      .sign(privateKey);
    await expectRefused(t, token, 'ERR_JWT_SIGNATURE_INVALID');
  });

  // Buffer's base64url decoder skips foreign characters, takes the standard alphabet and padding,
  // and ignores padding bits: only the canonical encoding of the signature bytes may verify.
  it("refuses non-canonical encodings of the server's own RS256 signature (same bytes): 401 (invalid signature)", async () => {
    const token = t.admin;
    const cut = token.lastIndexOf('.') + 1;
    const [input, signature] = [token.slice(0, cut), token.slice(cut)];
    const last = BASE64URL.indexOf(signature.at(-1)!);
    const variants: Record<string, string> = {
      'other padding bits in the last character': input + signature.slice(0, -1) + BASE64URL[last ^ 1],
      'a "~" inserted': `${input}${signature.slice(0, 10)}~${signature.slice(10)}`,
      '"=" padding appended': `${input}${signature}=`,
      '"==" padding appended': `${input}${signature}==`,
      'the standard base64 alphabet': `${input}${Buffer.from(signature, 'base64url').toString('base64').replace(/=+$/, '')}`,
    };
    for (const [name, variant] of Object.entries(variants)) {
      expect(variant, name).not.toBe(token);
      expect(Buffer.from(variant.slice(cut), 'base64url').equals(Buffer.from(signature, 'base64url')), name).toBe(true);
      await expectRefused(t, variant, 'ERR_JWT_SIGNATURE_INVALID');
    }
  });
});

// A latin1 Buffer keeps only the low byte of each UTF-16 code unit, so 'Ł' (U+0141) would pass for
// 'A' (U+0041) in a signature compared that way. JSON bodies (POST /auth/refresh) can carry such
// characters even though the Authorization header cannot.
describe('signature characters beyond U+00FF', () => {
  let t: Target;
  beforeAll(async () => {
    t = await openTarget('memory');
  });
  afterAll(() => closeTarget(t));

  const beyondLatin1 = (token: string, index: number): string =>
    token.slice(0, index) + String.fromCharCode(token.charCodeAt(index) + 0x100) + token.slice(index + 1);

  it('TokenService.verify refuses a token whose signature has a character shifted past U+00FF', () => {
    const tokens = t.example.app.get(TokenService);
    const start = t.admin.lastIndexOf('.') + 1;
    const accepted: number[] = [];
    for (let index = start; index < t.admin.length; index++) {
      try {
        tokens.verify(beyondLatin1(t.admin, index));
        accepted.push(index);
      } catch (error) {
        expect(error).toBeInstanceOf(TokenVerificationError);
      }
    }
    expect(accepted).toEqual([]);
  });

  it('POST /auth/refresh refuses such a variant of a refresh token without ending the session', async () => {
    const pair = await t.example.login('alice');
    const variant = beyondLatin1(pair.refresh_token, pair.refresh_token.length - 5);
    const refused = await t.example.http().post('/auth/refresh').send({ refresh_token: variant });
    expect([400, 401]).toContain(refused.status);
    // The session must be untouched: its access token and its real refresh token still work.
    await t.example.http().get('/me').set('Authorization', bearer(pair.access_token)).expect(200);
    await t.example.http().post('/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(200);
  });
});

// ECDSA signatures (r, s) and (r, n − s) both verify in OpenSSL, and OpenSSL's PSS verify takes a
// signature with its leading zero bytes stripped: without the canonical-signature rule a token
// would have a second valid form, which anything keyed on the token string (a replay cache, a
// refresh token's single-use check by token) would count as another token.
describe('signature malleability (ES256 and PS256 key rings)', () => {
  const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  const highSTwin = (token: string): string => {
    const cut = token.lastIndexOf('.') + 1;
    const signature = Buffer.from(token.slice(cut), 'base64url');
    const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
    const flipped = Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex');
    return token.slice(0, cut) + Buffer.concat([signature.subarray(0, 32), flipped]).toString('base64url');
  };

  describe('ES256', () => {
    let t: Target;
    beforeAll(async () => {
      t = await openTarget('memory', { algorithm: 'ES256' });
    });
    afterAll(() => closeTarget(t));
    keepsServerState(() => t);

    it('refuses the (r, n − s) form of a valid access token: 401 (invalid signature)', async () => {
      expect(headerOf(t.admin).alg).toBe('ES256');
      await expectRefused(t, highSTwin(t.admin), 'ERR_JWT_SIGNATURE_INVALID');
    });

    it('refuses a second spelling of a refresh token without ending its session, and the real one still refreshes', async () => {
      const pair = await t.example.login('bob');
      // Refresh tokens are opaque MACs (no signature to rewrite): the twin is the same 32 MAC bytes
      // in a non-canonical base64url spelling (the last character's unused low bits set).
      const mac = pair.refresh_token.slice(pair.refresh_token.lastIndexOf('.') + 1);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const twinMac = mac.slice(0, -1) + alphabet[alphabet.indexOf(mac.slice(-1)) | 1];
      expect(Buffer.from(twinMac, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
      expect(twinMac).not.toBe(mac);
      const refused = await t.example
        .http()
        .post('/auth/refresh')
        .send({ refresh_token: pair.refresh_token.slice(0, -mac.length) + twinMac });
      // A refresh token comes in the body, not as a Bearer credential: 401 without a challenge.
      expect(refused.status).toBe(401);
      expect(refused.text).not.toContain(mac);
      await t.example.http().get('/me').set('Authorization', bearer(pair.access_token)).expect(200);
      const fresh = await t.example.http().post('/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(200);
      await t.example.http().get('/me').set('Authorization', bearer(fresh.body.access_token)).expect(200);
    });
  });

  describe('PS256', () => {
    let t: Target;
    beforeAll(async () => {
      t = await openTarget('memory', { algorithm: 'PS256' });
    });
    afterAll(() => closeTarget(t));
    keepsServerState(() => t);

    it('refuses a valid token whose signature starts with a zero byte once that byte is stripped: 401', async () => {
      const signer = serverSigner(t.example.app);
      const header = JSON.stringify({ alg: 'PS256', kid: signer.kid, typ: 'at+jwt' });
      // One PSS signature in 256 starts with a zero byte: sign fresh claims until one does.
      let token = compact(header, JSON.stringify(aliceClaims()), signer.sign);
      for (let i = 0; Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url')[0] !== 0; i++) {
        if (i > 5000) throw new Error('no PSS signature with a leading zero byte in 5000 tries');
        token = compact(header, JSON.stringify(aliceClaims()), signer.sign);
      }
      await t.example.http().get('/me').set('Authorization', bearer(token)).expect(200);
      const cut = token.lastIndexOf('.') + 1;
      const stripped = token.slice(0, cut) + Buffer.from(token.slice(cut), 'base64url').subarray(1).toString('base64url');
      await expectRefused(t, stripped, 'ERR_JWT_SIGNATURE_INVALID');
    });
  });
});
