import type { TestingModule } from '@nestjs/testing';
import * as jose from 'jose';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwksController } from '../http/jwks.controller';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { createTestModule, TEST_ISSUER } from '../testing/test-module';
import { TokenService } from '../tokens/token.service';
import { ASYMMETRIC_ALGORITHM_NAMES, type AsymmetricAlgorithm } from './algorithms';
import { prepareAsymmetricKey } from './asymmetric-key';
import { KeyRing } from './key-ring';
import { KeyRotationService } from './key-rotation.service';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe.each(ASYMMETRIC_ALGORITHM_NAMES)('%s key ring', (alg: AsymmetricAlgorithm) => {
  let moduleRef: TestingModule;
  let tokens: TokenService;
  let rotation: KeyRotationService;
  let jwks: JwksController;

  beforeAll(async () => {
    moduleRef = await createTestModule({ algorithm: alg, scheduleRotation: false });
    tokens = moduleRef.get(TokenService);
    rotation = moduleRef.get(KeyRotationService);
    jwks = new JwksController(moduleRef.get(KeyRing), moduleRef.get<ResolvedJwtRotationOptions>(JWT_ROTATION_OPTIONS));
  });
  afterAll(() => moduleRef.close());

  const kidOf = (token: string) => tokens.decode(token).header.kid as string;

  it('signs, rotates, and verifies old and new tokens', async () => {
    const before = tokens.sign({ roles: ['a'] }, { subject: 'alice' });
    expect(tokens.decode(before).header.alg).toBe(alg);
    const newKid = await rotation.rotateNow();
    const after = tokens.sign({}, { subject: 'bob' });
    expect(kidOf(after)).toBe(newKid);
    expect(kidOf(after)).not.toBe(kidOf(before));
    expect(tokens.verify(before).sub).toBe('alice');
    expect(tokens.verify(after).sub).toBe('bob');
  });

  it('publishes public JWKs only, with kid = RFC 7638 thumbprint, alg and use', async () => {
    const { keys } = jwks.jwks({ setHeader: () => undefined });
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const key of keys) {
      expect(key).toMatchObject({ alg, use: 'sig' });
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(member);
      const { kid, alg: _alg, use: _use, ...bare } = key;
      expect(kid).toBe(await jose.calculateJwkThumbprint(bare));
    }
  });

  it('jose verifies our tokens with the published key, and we verify tokens jose signs', async () => {
    const token = tokens.sign({}, { subject: 'carol' });
    const { keys } = jwks.jwks({ setHeader: () => undefined });
    const set = jose.createLocalJWKSet({ keys });
    const { payload } = await jose.jwtVerify(token, set, { issuer: TEST_ISSUER, audience: TEST_ISSUER, algorithms: [alg], typ: 'at+jwt' });
    expect(payload.sub).toBe('carol');

    const pair = await jose.generateKeyPair(alg, { extractable: true });
    const foreign = await new jose.SignJWT({})
      .setProtectedHeader({ alg, kid: 'foreign', typ: 'at+jwt' })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_ISSUER)
      .setIssuedAt()
      .setExpirationTime('1m')
      .setJti('x')
      .sign(pair.privateKey);
    expect(() => tokens.verify(foreign)).toThrow(expect.objectContaining({ code: 'ERR_JWT_KEY_UNKNOWN' }));

    // Held by our ring under the same kid, the jose-made key's tokens verify with us.
    const ring = moduleRef.get(KeyRing);
    const original = ring.all();
    const held = prepareAsymmetricKey('foreign', alg, await jose.exportJWK(pair.privateKey));
    ring.replace([...original, { ...original[0], entry: { ...original[0].entry, kid: 'foreign', activatesAt: Infinity }, key: held }]);
    try {
      expect(tokens.verify(foreign).jti).toBe('x');
    } finally {
      ring.replace(original);
    }
  });

  it('refuses algorithm confusion: an HMAC token whose secret is the public key', () => {
    const token = tokens.sign({});
    const kid = kidOf(token);
    const publicJwk = jwks.jwks({ setHeader: () => undefined }).keys.find((k) => k.kid === kid)!;
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64({ alg: 'HS256', kid, typ: 'at+jwt' })}.${b64({ iss: TEST_ISSUER, aud: TEST_ISSUER, iat: now, exp: now + 60, jti: 'j' })}`;
    for (const secret of [JSON.stringify(publicJwk), String(publicJwk.x ?? publicJwk.n)]) {
      const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      expect(() => tokens.verify(forged)).toThrow(expect.objectContaining({ code: 'ERR_JWT_ALGORITHM_NOT_ALLOWED' }));
    }
  });

  it('refuses a header carrying its own key or key URL', () => {
    const token = tokens.sign({});
    const [h, p, s] = token.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    for (const extra of [{ jwk: { kty: 'EC' } }, { jku: 'https://evil.test/jwks' }, { x5u: 'https://evil.test/cert' }]) {
      expect(() => tokens.verify(`${b64({ ...header, ...extra })}.${p}.${s}`)).toThrow(
        expect.objectContaining({ code: 'ERR_JWT_HEADER_UNSUPPORTED' }),
      );
    }
  });
});

describe('JWKS of an HMAC ring', () => {
  it('is empty: an HMAC secret is never published', async () => {
    const moduleRef = await createTestModule({ scheduleRotation: false });
    const controller = new JwksController(moduleRef.get(KeyRing), moduleRef.get<ResolvedJwtRotationOptions>(JWT_ROTATION_OPTIONS));
    const headers: Record<string, string> = {};
    expect(controller.jwks({ setHeader: (n: string, v: string) => (headers[n] = v) })).toEqual({ keys: [] });
    expect(headers['Cache-Control']).toMatch(/max-age=\d+/);
    await moduleRef.close();
  });
});
