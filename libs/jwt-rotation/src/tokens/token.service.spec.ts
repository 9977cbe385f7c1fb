import type { TestingModule } from '@nestjs/testing';
import * as jose from 'jose';
import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeyRing } from '../keys/key-ring';
import { KeyRotationService } from '../keys/key-rotation.service';
import { prepareKey } from '../keys/prepared-key';
import { createTestModule, TEST_ISSUER } from '../testing/test-module';
import { TokenService } from './token.service';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

describe('TokenService', () => {
  let moduleRef: TestingModule;
  let tokens: TokenService;
  let ring: KeyRing;

  beforeAll(async () => {
    moduleRef = await createTestModule({ accessTokenTtl: '15m', refreshTokenTtl: '1d', clockTolerance: '30s', maxTokenAge: '2h' });
    tokens = moduleRef.get(TokenService);
    ring = moduleRef.get(KeyRing);
  });
  afterAll(() => moduleRef.close());
  afterEach(() => vi.useRealTimers());

  /** Signs arbitrary header and claims with the current key, as an attacker holding the key could. */
  function forge(header: Record<string, unknown>, claims: Record<string, unknown>): string {
    const signer = ring.signer(Date.now())!;
    const input = `${b64(header)}.${b64(claims)}`;
    return `${input}.${signer.key.sign(input)}`;
  }

  function validClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return { iss: TEST_ISSUER, aud: TEST_ISSUER, iat: now, nbf: now, exp: now + 60, jti: 'j1', sub: 'alice', ...extra };
  }

  function header(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { alg: 'HS256', kid: ring.signer(Date.now())!.entry.kid, typ: 'at+jwt', ...extra };
  }

  it('signs tokens with iat, nbf, exp, iss, aud, jti and a header with alg, kid and typ', () => {
    const token = tokens.sign({ roles: ['admin'] }, { subject: 'alice' });
    const { header: h, payload } = tokens.decode(token);
    expect(h).toEqual({ alg: 'HS256', kid: ring.signer(Date.now())!.entry.kid, typ: 'at+jwt' });
    expect(payload).toMatchObject({ roles: ['admin'], sub: 'alice', iss: TEST_ISSUER, aud: TEST_ISSUER });
    expect(payload.exp).toBe((payload.iat as number) + 900);
    expect(payload.nbf).toBe(payload.iat);
    expect(typeof payload.jti).toBe('string');
  });

  it('verifies what it signed, sync and async alike', async () => {
    const token = tokens.sign({ roles: ['admin'] }, { subject: 'alice', audience: 'api' });
    const sync = tokens.verify(token, { audience: 'api' });
    expect(sync.sub).toBe('alice');
    expect(await tokens.verifyAsync(token, { audience: 'api' })).toEqual(sync);
  });

  it('names the new key and the right type in the header of every token signed after a rotation', async () => {
    const before = tokens.decode(tokens.sign({})).header.kid;
    const kid = await moduleRef.get(KeyRotationService).rotateNow();
    expect(kid).not.toBe(before);
    for (const kind of ['access', 'refresh', 'access'] as const) {
      const token = tokens.sign({}, { kind });
      expect(tokens.decode(token).header).toEqual({ alg: 'HS256', kid, typ: kind === 'access' ? 'at+jwt' : 'refresh+jwt' });
      expect(tokens.verify(token, { kind }).iss).toBe(TEST_ISSUER);
    }
  });

  it('refuses registered claims in the payload and lifetimes longer than a key lives', () => {
    expect(() => tokens.sign({ exp: 1 })).toThrow(TypeError);
    expect(() => tokens.sign({}, { expiresIn: '2d' })).toThrow(TypeError);
    expect(() => tokens.sign({}, { audience: 'nope' })).toThrow(TypeError);
  });

  it('signs the same token again from the same claims, jti and issuedAt, and refuses a bad issuedAt', () => {
    const iat = Math.floor(Date.now() / 1000) - 20;
    const options = { subject: 'alice', jwtid: 'same-jti', issuedAt: iat, expiresIn: 60 };
    const token = tokens.sign({ sid: 's1' }, options);
    expect(tokens.sign({ sid: 's1' }, options)).toBe(token);
    expect(tokens.verify(token)).toMatchObject({ iat, nbf: iat, exp: iat + 60, jti: 'same-jti' });
    for (const issuedAt of [1.5, -1, Number.NaN]) {
      expect(() => tokens.sign({}, { issuedAt })).toThrow(TypeError);
    }
  });

  describe('sign refuses what verify would refuse', () => {
    /** The TypeError sign throws, checked to name the claim and never show its value. */
    function signError(sign: () => string, claim: string, value?: string): TypeError {
      let thrown: unknown;
      try {
        sign();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TypeError);
      const { message } = thrown as TypeError;
      expect(message).toContain(claim);
      if (value !== undefined) expect(message).not.toContain(value);
      return thrown as TypeError;
    }

    it('a sub that is not a string, from the payload or the subject option (the NestJS auth sample signs { sub: user.userId })', () => {
      // What sign used to produce: a token every verify refuses.
      expect(() => tokens.verify(forge(header(), validClaims({ sub: 1 })))).toThrow(
        expect.objectContaining({ code: 'ERR_JWT_CLAIM_INVALID' }),
      );
      expect(signError(() => tokens.sign({ sub: 1 }), '"sub"').message).toMatch(/String\(/);
      signError(() => tokens.sign({}, { subject: 1 as unknown as string }), '"sub"');
      signError(() => tokens.sign({ sub: { id: 'alice' } }), '"sub"');
    });

    it('a jti that is not a string, from the jwtid option', () => {
      expect(() => tokens.verify(forge(header(), validClaims({ jti: 7 })))).toThrow(
        expect.objectContaining({ code: 'ERR_JWT_CLAIM_INVALID' }),
      );
      signError(() => tokens.sign({}, { jwtid: 7 as unknown as string }), '"jti"');
    });

    it('a sid that is not a string, which no session revocation could ever match', () => {
      signError(() => tokens.sign({ sid: 42 }), '"sid"');
    });

    it('a payload that cannot be JSON, naming the claim and not its value', () => {
      signError(() => tokens.sign({ big: 12345678901234567890n }), '"big"', '12345678901234567890');
      const cyclic: Record<string, unknown> = { name: 'x' };
      cyclic.self = cyclic;
      signError(() => tokens.sign({ ok: 1, loop: cyclic }), '"loop"');
      // A toJSON member would make the payload a JSON string, which verify refuses as malformed.
      signError(() => tokens.sign({ toJSON: () => 'not an object' }), 'toJSON');
    });

    it('a token longer than the maxTokenLength verify accepts', () => {
      expect(() => tokens.verify(forge(header(), validClaims({ blob: 'x'.repeat(9000) })))).toThrow(
        expect.objectContaining({ code: 'ERR_JWT_MALFORMED' }),
      );
      signError(() => tokens.sign({ blob: 'x'.repeat(9000) }), 'maxTokenLength');
    });

    it('still signs what verify accepts: a sub the subject option replaces, claims JSON drops, nested objects', () => {
      const token = tokens.sign({ sub: 1, gone: undefined, profile: { tags: ['a'], at: new Date(0) } }, { subject: 'alice' });
      expect(tokens.verify(token)).toMatchObject({ sub: 'alice', profile: { tags: ['a'], at: '1970-01-01T00:00:00.000Z' } });
      expect(tokens.verify(tokens.sign({ sub: undefined })).sub).toBeUndefined();
    });
  });

  it('gives refresh tokens an audience of their own, so no access-token verifier that skips typ takes them', () => {
    const refresh = tokens.decode(tokens.sign({}, { kind: 'refresh' })).payload;
    expect(refresh.aud).toBe(`${TEST_ISSUER}#refresh`);
    expect(tokens.decode(tokens.sign({})).payload.aud).toBe(TEST_ISSUER);
  });

  it('refuses a per-call maxTokenAge that is not a duration instead of dropping the limit', () => {
    expect(() => tokens.verify(tokens.sign({}), { maxTokenAge: 'forever' })).toThrow(TypeError);
  });

  describe('with jose as the oracle', () => {
    it('our tokens verify with jose given the same key, and jose-signed tokens verify with us', async () => {
      // The test builds its own HS256 key in the ring's place to hand jose the same secret.
      const secret = new Uint8Array(Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef', 'utf8'));
      const current = ring.signer(Date.now())!;
      const key = prepareKey(current.entry.kid, 'HS256', { kty: 'oct', k: Buffer.from(secret).toString('base64url') });
      const original = ring.all();
      ring.replace(original.map((k) => (k.entry.kid === current.entry.kid ? { ...k, key } : k)));
      try {
        const ours = tokens.sign({ roles: ['user'] }, { subject: 'bob' });
        const { payload, protectedHeader } = await jose.jwtVerify(ours, secret, {
          issuer: TEST_ISSUER,
          audience: TEST_ISSUER,
          typ: 'at+jwt',
          algorithms: ['HS256'],
        });
        expect(payload.sub).toBe('bob');
        expect(protectedHeader.kid).toBe(current.entry.kid);

        const theirs = await new jose.SignJWT({ roles: ['x'] })
          .setProtectedHeader({ alg: 'HS256', kid: current.entry.kid, typ: 'at+jwt' })
          .setIssuer(TEST_ISSUER)
          .setAudience(TEST_ISSUER)
          .setSubject('carol')
          .setIssuedAt()
          .setJti('jose-1')
          .setExpirationTime('5m')
          .sign(secret);
        expect(tokens.verify(theirs).sub).toBe('carol');
        // And the signature bytes agree with a plain HMAC.
        const [h, p, s] = ours.split('.');
        expect(createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')).toBe(s);
      } finally {
        ring.replace(original);
      }
    });
  });

  describe('refuses, each with its own code', () => {
    it.each<[string, () => string, string]>([
      ['a malformed token', () => 'not-a-jwt', 'ERR_JWT_MALFORMED'],
      ['two segments', () => 'a.b', 'ERR_JWT_MALFORMED'],
      ['four segments', () => 'a.b.c.d', 'ERR_JWT_MALFORMED'],
      ['a header that is not JSON', () => `${b64('nope')}.${b64(validClaims())}.sig`, 'ERR_JWT_MALFORMED'],
      ['a header that is an array', () => `${b64([1])}.${b64(validClaims())}.sig`, 'ERR_JWT_MALFORMED'],
      ['alg none', () => `${b64({ alg: 'none', kid: 'x', typ: 'at+jwt' })}.${b64(validClaims())}.`, 'ERR_JWT_MALFORMED'],
      ['alg none with a signature', () => `${b64(header({ alg: 'none' }))}.${b64(validClaims())}.AAAA`, 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['another HMAC algorithm', () => forge(header({ alg: 'HS512' }), validClaims()), 'ERR_JWT_ALGORITHM_NOT_ALLOWED'],
      ['an embedded jwk', () => forge(header({ jwk: { kty: 'oct', k: 'AAAA' } }), validClaims()), 'ERR_JWT_HEADER_UNSUPPORTED'],
      ['a jku', () => forge(header({ jku: 'https://evil.test/jwks' }), validClaims()), 'ERR_JWT_HEADER_UNSUPPORTED'],
      ['crit', () => forge(header({ crit: ['exp'] }), validClaims()), 'ERR_JWT_HEADER_UNSUPPORTED'],
      ['a missing kid', () => forge({ alg: 'HS256', typ: 'at+jwt' }, validClaims()), 'ERR_JWT_MALFORMED'],
      ['an unknown kid', () => forge(header({ kid: '../../etc/passwd' }), validClaims()), 'ERR_JWT_KEY_UNKNOWN'],
      ['a refresh token as an access token', () => tokens.sign({}, { kind: 'refresh' }), 'ERR_JWT_TYPE_INVALID'],
      [
        'a flipped signature bit',
        () => {
          const t = tokens.sign({});
          return t.slice(0, -2) + (t.at(-2) === 'A' ? 'B' : 'A') + t.at(-1);
        },
        'ERR_JWT_SIGNATURE_INVALID',
      ],
      ['an expired token', () => forge(header(), validClaims({ exp: Math.floor(Date.now() / 1000) - 31 })), 'ERR_JWT_EXPIRED'],
      ['a token not valid yet', () => forge(header(), validClaims({ nbf: Math.floor(Date.now() / 1000) + 60 })), 'ERR_JWT_NOT_YET_VALID'],
      ['an iat in the future', () => forge(header(), validClaims({ iat: Math.floor(Date.now() / 1000) + 60 })), 'ERR_JWT_ISSUED_IN_FUTURE'],
      [
        'a token older than maxTokenAge',
        () => forge(header(), validClaims({ iat: Math.floor(Date.now() / 1000) - 3 * 3600 })),
        'ERR_JWT_TOO_OLD',
      ],
      ['a wrong issuer', () => forge(header(), validClaims({ iss: 'https://evil.test' })), 'ERR_JWT_ISSUER_INVALID'],
      ['a wrong audience', () => forge(header(), validClaims({ aud: 'https://other.test' })), 'ERR_JWT_AUDIENCE_INVALID'],
      ['a missing audience', () => forge(header(), validClaims({ aud: undefined })), 'ERR_JWT_AUDIENCE_INVALID'],
      ['exp as a string', () => forge(header(), validClaims({ exp: '9999999999' })), 'ERR_JWT_CLAIM_INVALID'],
      ['a payload that is not an object', () => forge(header(), 42 as never), 'ERR_JWT_MALFORMED'],
    ])('%s', (_, make, code) => {
      expect(() => tokens.verify(make())).toThrow(expect.objectContaining({ code }));
    });

    it('a token longer than maxTokenLength, before parsing it', () => {
      expect(() => tokens.verify(`${'a'.repeat(9000)}.b.c`)).toThrow(expect.objectContaining({ code: 'ERR_JWT_MALFORMED' }));
    });

    it('an access token once it expires, past the clock tolerance', () => {
      const token = tokens.sign({});
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 15 * 60_000 + 29_000 });
      expect(tokens.verify(token).jti).toBeTypeOf('string');
      vi.setSystemTime(Date.now() + 2_000);
      expect(() => tokens.verify(token)).toThrow(expect.objectContaining({ code: 'ERR_JWT_EXPIRED' }));
    });

    it('an access token where a refresh token is expected', () => {
      expect(() => tokens.verify(tokens.sign({}), { kind: 'refresh' })).toThrow(expect.objectContaining({ code: 'ERR_JWT_TYPE_INVALID' }));
      expect(tokens.verify(tokens.sign({}, { kind: 'refresh' }), { kind: 'refresh' }).iss).toBe(TEST_ISSUER);
    });

    it('a token of a revoked key, after revokeKey', async () => {
      const rotation = moduleRef.get(KeyRotationService);
      const token = tokens.sign({});
      const kid = tokens.decode(token).header.kid as string;
      expect(await rotation.revokeKey(kid)).toBe(true);
      expect(() => tokens.verify(token)).toThrow(expect.objectContaining({ code: 'ERR_JWT_KEY_REVOKED' }));
      expect(tokens.decode(tokens.sign({})).header.kid).not.toBe(kid);
    });
  });

  it('no error message carries the token or a claim value', () => {
    const token = forge(header(), validClaims({ iss: 'https://secret-issuer.test' }));
    const verifying = () => tokens.verify(token);
    expect(verifying).toThrow(expect.objectContaining({ code: 'ERR_JWT_ISSUER_INVALID' }));
    expect(verifying).toThrow(expect.not.objectContaining({ message: expect.stringContaining('secret-issuer') }));
    expect(verifying).toThrow(expect.not.objectContaining({ message: expect.stringContaining(token.slice(0, 20)) }));
  });
});

describe('typ of this issuer’s own tokens (RFC 7515 §4.1.9)', () => {
  it('is compared without regard to case or the application/ prefix, and a refresh token is never an access token', async () => {
    const moduleRef = await createTestModule({ scheduleRotation: false });
    try {
      const tokens = moduleRef.get(TokenService);
      const signer = moduleRef.get(KeyRing).signer(Date.now())!;
      const reheader = (token: string, typ: string) => {
        const [, payload] = token.split('.');
        const header = Buffer.from(JSON.stringify({ alg: signer.entry.alg, kid: signer.entry.kid, typ })).toString('base64url');
        return `${header}.${payload}.${signer.key.sign(`${header}.${payload}`)}`;
      };
      const access = tokens.sign({}, { subject: 'a' });
      for (const typ of ['application/at+jwt', 'AT+JWT']) expect(tokens.verify(reheader(access, typ)).sub).toBe('a');
      expect(() => tokens.verify(reheader(access, 'JWT'))).toThrow(expect.objectContaining({ code: 'ERR_JWT_TYPE_INVALID' }));
      expect(() => tokens.verify(reheader(access, 'application/refresh+jwt'))).toThrow(
        expect.objectContaining({ code: 'ERR_JWT_TYPE_INVALID' }),
      );
    } finally {
      await moduleRef.close();
    }
  });
});
