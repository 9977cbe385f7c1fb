import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { ALGORITHMS, type HmacJwtAlgorithm, type JwtAlgorithm } from './algorithms';

/**
 * A key made ready once, so that signing and verifying a token is one HMAC and a comparison.
 *
 * Not jose here: jose v6 goes through WebCrypto and measured 10–20k HS256 verifications a second
 * against ~430k for node:crypto with a `KeyObject` made once (see docs/benchmarks.md). jose stays
 * the oracle in the tests: tokens signed here verify with jose, and jose's verify with us.
 */
export interface PreparedKey {
  readonly kid: string;
  readonly alg: JwtAlgorithm;
  /** base64url signature of the JWS signing input. */
  sign(signingInput: string): string;
  /** Constant-time check of a base64url signature segment. */
  verify(signingInput: string, signature: string): boolean;
  /** The public JWK (`kid`, `alg`, `use: "sig"`) of an asymmetric key; HMAC keys have none to publish. */
  readonly publicJwk?: JWK;
}

/** The secret of an HMAC key as a JWK (`kty: "oct"`), the form it is encrypted in at rest. */
export interface OctJwk {
  readonly kty: 'oct';
  readonly k: string;
}

export function generateHmacJwk(secretLength: number): OctJwk {
  // A CSPRNG is all an HMAC secret needs; jose's generateSecret fixes the length to the hash size.
  return { kty: 'oct', k: randomBytes(secretLength).toString('base64url') };
}

export function prepareKey(kid: string, alg: HmacJwtAlgorithm, jwk: OctJwk): PreparedKey {
  const algorithm = ALGORITHMS[alg];
  const secret: KeyObject = createSecretKey(Buffer.from(jwk.k, 'base64url'));
  if (secret.symmetricKeySize! < algorithm.minSecretBytes) {
    throw new TypeError(`An ${alg} key needs at least ${algorithm.minSecretBytes} bytes`);
  }
  const { hash } = algorithm;
  const sign = (input: string): string => createHmac(hash, secret).update(input).digest('base64url');
  return {
    kid,
    alg,
    sign,
    verify(input, signature) {
      // Comparing the canonical encoding also refuses non-canonical base64url (malleable) signatures.
      return constantTimeEqual(signature, sign(input));
    },
  };
}

/**
 * Constant-time equality of two strings, compared as UTF-16 code units: every character counts in
 * full (a latin1 Buffer would keep only the low byte, so "Ł" would pass for "A"), and nothing is
 * allocated. Only the length, which is public (it follows from the algorithm), can end it early.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
