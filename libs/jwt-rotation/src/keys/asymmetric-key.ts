import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { constants, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import type { AsymmetricAlgorithm } from './algorithms';
import { ASYMMETRIC_ALGORITHMS } from './algorithms';
import type { PreparedKey } from './prepared-key';

/** The members of a public JWK; nothing private ever leaves through {@link publicJwkOf}. */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['kty', 'n', 'e'],
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
};

/**
 * A fresh key pair for an asymmetric algorithm, from jose (which knows every JWA algorithm's key
 * parameters), as a private JWK with its RFC 7638 thumbprint as kid.
 */
export async function generateAsymmetricJwk(alg: AsymmetricAlgorithm, modulusLength: number): Promise<{ kid: string; jwk: JWK }> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg.startsWith('RS') || alg.startsWith('PS') ? { modulusLength } : {}),
  });
  const jwk = await exportJWK(privateKey);
  return { kid: await calculateJwkThumbprint(publicJwkOf(jwk)), jwk };
}

/** Only the public members of a JWK. */
export function publicJwkOf(jwk: JWK): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new TypeError(`Unsupported key type ${String(jwk.kty)}`);
  return Object.fromEntries(
    members.filter((m) => (jwk as Record<string, unknown>)[m] !== undefined).map((m) => [m, (jwk as Record<string, unknown>)[m]]),
  );
}

/** The signature options node:crypto needs for each family, fixed once per key. */
function signatureOptions(alg: AsymmetricAlgorithm, key: KeyObject) {
  const spec = ASYMMETRIC_ALGORITHMS[alg];
  if (spec.kind === 'rsa' && spec.pss) {
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
  }
  if (spec.kind === 'ec') return { key, dsaEncoding: 'ieee-p1363' as const };
  return { key };
}

/**
 * Prepares an asymmetric key: `KeyObject`s made once, node:crypto one-shot sign and verify with
 * the algorithm's parameters pinned. A public-only JWK gives a key that verifies and cannot sign.
 */
export function prepareAsymmetricKey(kid: string, alg: AsymmetricAlgorithm, jwk: JWK): PreparedKey & { readonly publicJwk: JWK } {
  const spec = ASYMMETRIC_ALGORITHMS[alg];
  const isPrivate = typeof jwk.d === 'string';
  const privateKey = isPrivate
    ? createPrivateKey({ key: jwk as Parameters<typeof createPrivateKey>[0] & object as never, format: 'jwk' })
    : undefined;
  const publicKey = privateKey ? createPublicKey(privateKey) : createPublicKey({ key: jwk as never, format: 'jwk' });
  checkKeyFits(alg, publicKey);
  const hash = spec.kind === 'okp' ? null : spec.hash;
  const verifyOptions = signatureOptions(alg, publicKey);
  const signOptions = privateKey ? signatureOptions(alg, privateKey) : undefined;
  return {
    kid,
    alg,
    publicJwk: { ...publicJwkOf(jwk), kid, alg, use: 'sig' },
    sign(input) {
      if (!signOptions) throw new TypeError(`Key ${kid} is public only: it cannot sign`);
      return sign(hash, Buffer.from(input), signOptions).toString('base64url');
    },
    verify(input, signature) {
      const bytes = Buffer.from(signature, 'base64url');
      // Buffer's decoder skips foreign characters, padding and the +/ alphabet: only the canonical
      // encoding of the bytes is a signature, or one token would have many valid forms.
      if (bytes.toString('base64url') !== signature) return false;
      return verify(hash, Buffer.from(input), verifyOptions, bytes);
    },
  };
}

/** Refuses a key that does not belong to the algorithm (RFC 8725 §3.1: no key confusion). */
function checkKeyFits(alg: AsymmetricAlgorithm, key: KeyObject): void {
  const spec = ASYMMETRIC_ALGORITHMS[alg];
  const details = key.asymmetricKeyDetails ?? {};
  const type = key.asymmetricKeyType;
  const fits =
    (spec.kind === 'rsa' && type === 'rsa' && (details.modulusLength ?? 0) >= 2048) ||
    (spec.kind === 'ec' && type === 'ec' && details.namedCurve === spec.nodeCurve) ||
    (spec.kind === 'okp' && type === 'ed25519');
  if (!fits) throw new TypeError(`The key is not a valid ${alg} key`);
}
