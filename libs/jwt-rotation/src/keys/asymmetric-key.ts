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

/** The order n of each ECDSA curve (SEC 2 / FIPS 186-4), for the low-S rule. */
const CURVE_ORDERS: Readonly<Record<'prime256v1' | 'secp384r1' | 'secp521r1', bigint>> = {
  prime256v1: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  secp384r1: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  secp521r1:
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
};

/**
 * What makes a signature the one canonical signature of its input under this key, beyond what
 * node:crypto checks. ECDSA: (r, s) and (r, n − s) both verify, so only s ≤ n/2 is accepted and
 * signing emits that form (low-S, as Bitcoin's BIP 62 and libsecp256k1 do). RSA: OpenSSL accepts
 * a PSS signature with its leading zero bytes stripped, so the length must be the modulus length
 * (RFC 8017 §8.1.2 and §8.2.2 step 1). Ed25519 needs nothing: OpenSSL already refuses S ≥ L.
 */
interface Canonical {
  /** The signature's byte length, fixed by the key. */
  readonly length: number;
  /** For ECDSA: the signature in low-S form, which every verifier also accepts. */
  lowS?(signature: Buffer): Buffer;
  /** For ECDSA: whether s ≤ n/2. */
  isLowS?(signature: Buffer): boolean;
}

function canonicalFor(alg: AsymmetricAlgorithm, key: KeyObject): Canonical {
  const spec = ASYMMETRIC_ALGORITHMS[alg];
  if (spec.kind === 'rsa') return { length: Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8) };
  if (spec.kind === 'okp') return { length: 64 };
  const order = CURVE_ORDERS[spec.nodeCurve];
  const size = Math.ceil(order.toString(16).length / 2);
  const bytesOf = (value: bigint) => Buffer.from(value.toString(16).padStart(2 * size, '0'), 'hex');
  // Big-endian and of fixed size, so comparing the bytes compares the numbers: no BigInt per verify.
  const half = bytesOf(order >> 1n);
  const isLowS = (signature: Buffer) => Buffer.compare(signature.subarray(size), half) <= 0;
  return {
    length: 2 * size,
    isLowS,
    lowS(signature) {
      if (isLowS(signature)) return signature;
      const s = BigInt(`0x${signature.subarray(size).toString('hex')}`);
      return Buffer.concat([signature.subarray(0, size), bytesOf(order - s)]);
    },
  };
}

/**
 * Prepares an asymmetric key: `KeyObject`s made once, node:crypto one-shot sign and verify with
 * the algorithm's parameters pinned. A public-only JWK gives a key that verifies and cannot sign.
 * Only the canonical signature of a signing input verifies (see {@link Canonical}), so no token
 * has a second valid form; the verify-only JWKS path goes through here too.
 */
export function prepareAsymmetricKey(
  kid: string,
  alg: AsymmetricAlgorithm,
  jwk: JWK,
  /**
   * The key belongs to another issuer (a verifier's JWKS): its tokens are signed elsewhere, and
   * most signers (OpenSSL, WebCrypto, Java, Go) emit a high ECDSA S half the time, so a high S is
   * accepted there; the exact length is still required. Our own keys sign low-S and require it.
   */
  options: { readonly foreignSigner?: boolean } = {},
): PreparedKey & { readonly publicJwk: JWK } {
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
  const canonical = canonicalFor(alg, publicKey);
  const requireLowS = options.foreignSigner !== true;
  return {
    kid,
    alg,
    publicJwk: { ...publicJwkOf(jwk), kid, alg, use: 'sig' },
    sign(input) {
      if (!signOptions) throw new TypeError(`Key ${kid} is public only: it cannot sign`);
      const signature = sign(hash, Buffer.from(input), signOptions);
      return (canonical.lowS?.(signature) ?? signature).toString('base64url');
    },
    verify(input, signature) {
      const bytes = Buffer.from(signature, 'base64url');
      // Buffer's decoder skips foreign characters, padding and the +/ alphabet: only the canonical
      // encoding of the bytes is a signature, or one token would have many valid forms.
      if (bytes.toString('base64url') !== signature) return false;
      if (bytes.length !== canonical.length || (requireLowS && canonical.isLowS?.(bytes) === false)) return false;
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
