import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type JsonWebKey,
  type KeyObject,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import type { JwtAlgorithm } from '../../libs/jwt-rotation/src/keys/algorithms';

/** node:crypto keys made once from the JWK the key ring holds. */
export interface BenchKeys {
  readonly sign: KeyObject;
  readonly verify: KeyObject;
}

/** The floor: node:crypto alone over a signing input, with no JSON and no claim checks. */
export interface Floor {
  /** What the floor does, for the report. */
  readonly labels: { readonly sign: string; readonly verify: string; readonly signatureOnly: string };
  /** `signingInput.signature`, the signing input made once beforehand. */
  sign(signingInput: string): string;
  /** The least a correct verification does: find the signature, compute it, compare in constant time. */
  verify(token: string): boolean;
  /** The signature computation alone (no comparison), for reference. */
  signatureOnly(token: string): unknown;
}

/**
 * One algorithm the bench measures. Adding one is one entry in {@link BENCH_ALGORITHMS}: how to
 * turn the ring's JWK into node:crypto keys, and the node:crypto floor. Every library case (jose,
 * fast-jwt, @nestjs/jwt, passport-jwt) takes its key from `keys` through {@link keyForms}, so
 * nothing else changes.
 */
export interface BenchAlgorithm {
  readonly alg: JwtAlgorithm;
  /** Micro cases left out because their library lacks the algorithm (jsonwebtoken has no EdDSA). */
  readonly unsupported?: readonly string[];
  keys(jwk: JsonWebKey): BenchKeys;
  floor(keys: BenchKeys): Floor;
}

/** Constant-time string equality; only the (public) length can end it early. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

function hmac(alg: JwtAlgorithm, hash: 'sha256' | 'sha384' | 'sha512'): BenchAlgorithm {
  return {
    alg,
    keys(jwk) {
      const secret = createSecretKey(Buffer.from(String(jwk.k), 'base64url'));
      return { sign: secret, verify: secret };
    },
    floor({ sign: signKey, verify: verifyKey }) {
      return {
        labels: {
          sign: `node:crypto floor: HMAC-${hash.toUpperCase()} over a ready signing input, no JSON`,
          verify: `node:crypto floor: HMAC-${hash.toUpperCase()} + constant-time compare, no JSON`,
          signatureOnly: 'node:crypto HMAC alone (no compare, no JSON)',
        },
        sign: (input) => `${input}.${createHmac(hash, signKey).update(input).digest('base64url')}`,
        verify(token) {
          // A constant-time comparison of the base64url text, every UTF-16 unit in full (a latin1
          // Buffer comparison would let "Ł" pass for "A"); no allocation, so also the fastest tried.
          const dot = token.lastIndexOf('.');
          return constantTimeEqual(token.slice(dot + 1), createHmac(hash, verifyKey).update(token.slice(0, dot)).digest('base64url'));
        },
        signatureOnly: (token) =>
          createHmac(hash, verifyKey)
            .update(token.slice(0, token.lastIndexOf('.')))
            .digest('base64url'),
      };
    },
  };
}

/**
 * A signature algorithm: the ring's private JWK signs, its public key verifies; the floor is one
 * crypto.sign or crypto.verify over the signing input. `hash` is null for EdDSA; ECDSA signatures
 * are IEEE P1363 (r || s) in a JWS.
 */
export function asymmetric(
  alg: JwtAlgorithm,
  hash: string | null,
  dsaEncoding?: 'ieee-p1363',
  unsupported?: readonly string[],
  pss = false,
): BenchAlgorithm {
  return {
    alg,
    unsupported,
    keys(jwk) {
      const sign = createPrivateKey({ key: jwk, format: 'jwk' });
      return { sign, verify: createPublicKey(sign) };
    },
    floor({ sign: signKey, verify: verifyKey }) {
      const pssOptions = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
      const signWith = dsaEncoding ? { key: signKey, dsaEncoding } : pss ? { key: signKey, ...pssOptions } : signKey;
      const verifyWith = dsaEncoding ? { key: verifyKey, dsaEncoding } : pss ? { key: verifyKey, ...pssOptions } : verifyKey;
      const check = (token: string): boolean => {
        const dot = token.lastIndexOf('.');
        return cryptoVerify(hash, Buffer.from(token.slice(0, dot)), verifyWith, Buffer.from(token.slice(dot + 1), 'base64url'));
      };
      return {
        labels: {
          sign: `node:crypto floor: crypto.sign (${alg}) over a ready signing input, no JSON`,
          verify: `node:crypto floor: crypto.verify (${alg}), no JSON`,
          signatureOnly: `node:crypto crypto.verify (${alg}) again (no comparison to leave out)`,
        },
        sign: (input) => `${input}.${cryptoSign(hash, Buffer.from(input), signWith).toString('base64url')}`,
        verify: check,
        signatureOnly: check,
      };
    },
  };
}

/** The algorithms measured, in table order: one entry each. */
export const BENCH_ALGORITHMS: readonly BenchAlgorithm[] = [
  hmac('HS256', 'sha256'),
  asymmetric('ES256', 'sha256', 'ieee-p1363'),
  asymmetric('EdDSA', null, undefined, ['nestjs-jwt', 'nestjs-jwt-keyobject']),
  asymmetric('RS256', 'sha256'),
];

/**
 * The other algorithms the library signs with, measured only when asked for by name
 * (`BENCH_ONLY=micro BENCH_ALGS=HS384,PS256,...`), to keep the default run under ten minutes.
 * jsonwebtoken (@nestjs/jwt) and fast-jwt are left out of the PS rows' comparisons where they differ.
 */
export const EXTRA_BENCH_ALGORITHMS: readonly BenchAlgorithm[] = [
  hmac('HS384', 'sha384'),
  hmac('HS512', 'sha512'),
  asymmetric('RS384', 'sha384'),
  asymmetric('RS512', 'sha512'),
  asymmetric('PS256', 'sha256', undefined, undefined, true),
  asymmetric('PS384', 'sha384', undefined, undefined, true),
  asymmetric('PS512', 'sha512', undefined, undefined, true),
  asymmetric('ES384', 'sha384', 'ieee-p1363'),
  asymmetric('ES512', 'sha512', 'ieee-p1363'),
];

/** Algorithms issue 5 asks for that have no entry yet; RESULTS.md lists them as pending. */
export const PENDING_ALGORITHMS = (['ES256', 'EdDSA', 'RS256'] as const).filter((alg) => !BENCH_ALGORITHMS.some((a) => a.alg === alg));

export function benchAlgorithm(alg: string): BenchAlgorithm {
  const found = [...BENCH_ALGORITHMS, ...EXTRA_BENCH_ALGORITHMS].find((a) => a.alg === alg);
  if (!found) throw new Error(`No bench entry for ${alg}; known: ${BENCH_ALGORITHMS.map((a) => a.alg).join(', ')}`);
  return found;
}

/** The key forms the compared libraries take: jose a JWK to import, fast-jwt and passport-jwt bytes or PEM. */
export function keyForms(keys: BenchKeys): {
  signJwk: JsonWebKey;
  verifyJwk: JsonWebKey;
  signBytes: Buffer | string;
  verifyBytes: Buffer | string;
} {
  const bytes = (key: KeyObject): Buffer | string =>
    key.type === 'secret'
      ? key.export()
      : key.type === 'private'
        ? (key.export({ type: 'pkcs8', format: 'pem' }) as string)
        : (key.export({ type: 'spki', format: 'pem' }) as string);
  return {
    signJwk: keys.sign.export({ format: 'jwk' }),
    verifyJwk: keys.verify.export({ format: 'jwk' }),
    signBytes: bytes(keys.sign),
    verifyBytes: bytes(keys.verify),
  };
}
