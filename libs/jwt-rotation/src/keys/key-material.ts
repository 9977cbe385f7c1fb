import type { JWK } from 'jose';
import { randomBytes } from 'node:crypto';
import { isHmacAlgorithm, type JwtAlgorithm } from './algorithms';
import { generateAsymmetricJwk, prepareAsymmetricKey } from './asymmetric-key';
import { generateHmacJwk, type OctJwk, type PreparedKey, prepareKey } from './prepared-key';

export interface KeyMaterialOptions {
  /** Bytes of an HMAC secret. */
  readonly secretLength: number;
  /** Bits of an RSA modulus. */
  readonly rsaModulusLength: number;
}

/**
 * New key material for `alg`, as the private JWK that is encrypted at rest. The kid of an
 * asymmetric key is its RFC 7638 thumbprint; an HMAC key has no public form, so a random one.
 */
export async function generateKeyMaterial(alg: JwtAlgorithm, options: KeyMaterialOptions): Promise<{ kid: string; jwk: JWK }> {
  if (isHmacAlgorithm(alg)) return { kid: randomBytes(16).toString('base64url'), jwk: generateHmacJwk(options.secretLength) };
  return generateAsymmetricJwk(alg, options.rsaModulusLength);
}

/** A signer and verifier for the material, the algorithm pinned to the key. */
export function prepareKeyMaterial(kid: string, alg: JwtAlgorithm, jwk: JWK): PreparedKey {
  if (isHmacAlgorithm(alg)) {
    if (jwk.kty !== 'oct' || typeof jwk.k !== 'string') throw new TypeError(`Key ${kid} is not an HMAC key`);
    return prepareKey(kid, alg, jwk as OctJwk);
  }
  return prepareAsymmetricKey(kid, alg, jwk);
}

/**
 * Stands in for a revoked key whose material is gone from the store (revoking deletes it, so
 * deleting the revocation alone cannot bring the key back): it verifies nothing and signs nothing.
 */
export function revokedKeyPlaceholder(kid: string, alg: JwtAlgorithm): PreparedKey {
  return {
    kid,
    alg,
    sign() {
      throw new TypeError(`Key ${kid} is revoked: it cannot sign`);
    },
    verify: () => false,
  };
}
