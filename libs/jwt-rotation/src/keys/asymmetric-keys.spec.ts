import type { TestingModule } from '@nestjs/testing';
import * as jose from 'jose';
import { createHmac, createPublicKey, constants, verify as opensslVerify } from 'node:crypto';
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

/** Curve orders as OpenSSL prints them (`openssl ecparam -name <curve> -param_enc explicit -text`). */
const ORDERS: Record<string, bigint> = {
  ES256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  ES384: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  ES512:
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
};
/** Ed25519's group order L (RFC 8032 §5.1). */
const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n;

const bigIntOf = (bytes: Buffer) => BigInt(`0x${bytes.toString('hex') || '0'}`);
const bytesOf = (value: bigint, length: number) => Buffer.from(value.toString(16).padStart(2 * length, '0'), 'hex');

/** An ECDSA signature's S half, and whether it is in the upper half of the group. */
const isHighS = (alg: string, signature: Buffer) => bigIntOf(signature.subarray(signature.length / 2)) > ORDERS[alg] >> 1n;

/**
 * The second form of a signature that a plain OpenSSL verify may accept: (r, n − s) for ECDSA,
 * S + L for Ed25519, and for RSA the signature with its leading zero byte stripped (only for a
 * signature that starts with one).
 */
function twinOf(alg: AsymmetricAlgorithm, signature: Buffer): Buffer {
  if (alg in ORDERS) {
    const half = signature.length / 2;
    return Buffer.concat([signature.subarray(0, half), bytesOf(ORDERS[alg] - bigIntOf(signature.subarray(half)), half)]);
  }
  if (alg === 'EdDSA') {
    const s = bigIntOf(Buffer.from(signature.subarray(32)).reverse());
    return Buffer.concat([signature.subarray(0, 32), bytesOf(s + ED25519_L, 32).reverse()]);
  }
  if (signature[0] !== 0) throw new TypeError('An RSA signature has a stripped twin only when it starts with a zero byte');
  return signature.subarray(1);
}

/** The options node:crypto needs to check a raw signature of `alg`, as a plain OpenSSL verifier would. */
function rawVerifier(alg: AsymmetricAlgorithm, jwk: jose.JWK) {
  const key = createPublicKey({ key: jwk as never, format: 'jwk' });
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  const options = alg.startsWith('PS')
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
    : alg.startsWith('ES')
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : { key };
  return (input: string, signature: Buffer) => opensslVerify(hash, Buffer.from(input), options, signature);
}

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
    const signWithJose = () =>
      new jose.SignJWT({})
        .setProtectedHeader({ alg, kid: 'foreign', typ: 'at+jwt' })
        .setIssuer(TEST_ISSUER)
        .setAudience(TEST_ISSUER)
        .setIssuedAt()
        .setExpirationTime('1m')
        .setJti('x')
        .sign(pair.privateKey);
    // WebCrypto's ECDSA emits a high S half the time, which we refuse (the next test): take a low one.
    let foreign = await signWithJose();
    while (alg in ORDERS && isHighS(alg, Buffer.from(foreign.split('.')[2], 'base64url'))) foreign = await signWithJose();
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

  it('has one valid signature per token: the rewritten form of a signature is refused', () => {
    const publicJwkOfToken = (token: string) => jwks.jwks({ setHeader: () => undefined }).keys.find((k) => k.kid === kidOf(token))!;
    let token = tokens.sign({}, { subject: 'dave' });
    // RSA: sign until a signature starts with a zero byte (1 in 256), the only case with a twin.
    for (let i = 0; alg.match(/^[RP]S/) && Buffer.from(token.split('.')[2], 'base64url')[0] !== 0; i++) {
      if (i > 5000) throw new Error('No RSA signature with a leading zero byte in 5000 tries');
      token = tokens.sign({}, { subject: `dave-${i}` });
    }
    const [input, signature] = [token.slice(0, token.lastIndexOf('.')), Buffer.from(token.split('.')[2], 'base64url')];
    const twin = twinOf(alg, signature);
    expect(twin.equals(signature)).toBe(false);
    // The twin is a real threat where OpenSSL alone accepts it (ECDSA, PSS); RS* and EdDSA refuse it already.
    expect(rawVerifier(alg, publicJwkOfToken(token))(input, twin)).toBe(alg.startsWith('ES') || alg.startsWith('PS'));
    expect(tokens.verify(token).sub).toMatch(/^dave/);
    expect(() => tokens.verify(`${input}.${twin.toString('base64url')}`)).toThrow(
      expect.objectContaining({ code: 'ERR_JWT_SIGNATURE_INVALID' }),
    );
  });

  it("accepts a foreign issuer's high-S ECDSA signature, still of exact length, only on a key prepared as foreign", () => {
    if (!alg.startsWith('ES')) return;
    const token = tokens.sign({}, { subject: 'frank' });
    const [input, signature] = [token.slice(0, token.lastIndexOf('.')), Buffer.from(token.split('.')[2], 'base64url')];
    const twin = twinOf(alg, signature);
    const publicJwk = jwks.jwks({ setHeader: () => undefined }).keys.find((k) => k.kid === kidOf(token))!;
    const ours = prepareAsymmetricKey(kidOf(token), alg, publicJwk);
    const foreign = prepareAsymmetricKey(kidOf(token), alg, publicJwk, { foreignSigner: true });
    expect(ours.verify(input, twin.toString('base64url'))).toBe(false);
    expect(foreign.verify(input, twin.toString('base64url'))).toBe(true);
    expect(foreign.verify(input, signature.toString('base64url'))).toBe(true);
    expect(foreign.verify(input, Buffer.concat([Buffer.alloc(1), twin]).toString('base64url'))).toBe(false);
  });

  it('signs in the canonical form only (low S for ECDSA), which jose verifies', async () => {
    const { keys } = jwks.jwks({ setHeader: () => undefined });
    const set = jose.createLocalJWKSet({ keys });
    for (let i = 0; i < 24; i++) {
      const token = tokens.sign({}, { subject: `erin-${i}` });
      const signature = Buffer.from(token.split('.')[2], 'base64url');
      if (alg in ORDERS) expect(isHighS(alg, signature)).toBe(false);
      await expect(jose.jwtVerify(token, set, { algorithms: [alg] })).resolves.toMatchObject({ payload: { sub: `erin-${i}` } });
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
