/** HMAC algorithms: one shared secret signs and verifies. */
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
/** Asymmetric algorithms: the private key signs, the public key (published in the JWKS) verifies. */
export const ASYMMETRIC_ALGORITHM_NAMES = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
/** Every algorithm a key ring can run on. `none` is not one of them, and never will be. */
export const SUPPORTED_ALGORITHMS = [...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHM_NAMES] as const;

export type HmacJwtAlgorithm = (typeof HMAC_ALGORITHMS)[number];
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHM_NAMES)[number];
export type JwtAlgorithm = (typeof SUPPORTED_ALGORITHMS)[number];

export interface HmacAlgorithm {
  readonly kind: 'hmac';
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  /** RFC 7518 §3.2: the key must be at least as long as the hash output. */
  readonly minSecretBytes: number;
}

export type AsymmetricAlgorithmSpec =
  | { readonly kind: 'rsa'; readonly hash: 'sha256' | 'sha384' | 'sha512'; readonly pss: boolean }
  | { readonly kind: 'ec'; readonly hash: 'sha256' | 'sha384' | 'sha512'; readonly nodeCurve: 'prime256v1' | 'secp384r1' | 'secp521r1' }
  | { readonly kind: 'okp' };

export const ALGORITHMS: Readonly<Record<HmacJwtAlgorithm, HmacAlgorithm>> = {
  HS256: { kind: 'hmac', hash: 'sha256', minSecretBytes: 32 },
  HS384: { kind: 'hmac', hash: 'sha384', minSecretBytes: 48 },
  HS512: { kind: 'hmac', hash: 'sha512', minSecretBytes: 64 },
};

export const ASYMMETRIC_ALGORITHMS: Readonly<Record<AsymmetricAlgorithm, AsymmetricAlgorithmSpec>> = {
  RS256: { kind: 'rsa', hash: 'sha256', pss: false },
  RS384: { kind: 'rsa', hash: 'sha384', pss: false },
  RS512: { kind: 'rsa', hash: 'sha512', pss: false },
  PS256: { kind: 'rsa', hash: 'sha256', pss: true },
  PS384: { kind: 'rsa', hash: 'sha384', pss: true },
  PS512: { kind: 'rsa', hash: 'sha512', pss: true },
  ES256: { kind: 'ec', hash: 'sha256', nodeCurve: 'prime256v1' },
  ES384: { kind: 'ec', hash: 'sha384', nodeCurve: 'secp384r1' },
  ES512: { kind: 'ec', hash: 'sha512', nodeCurve: 'secp521r1' },
  EdDSA: { kind: 'okp' },
};

export function isSupportedAlgorithm(value: unknown): value is JwtAlgorithm {
  return typeof value === 'string' && (SUPPORTED_ALGORITHMS as readonly string[]).includes(value);
}

export function isHmacAlgorithm(alg: JwtAlgorithm): alg is HmacJwtAlgorithm {
  return Object.hasOwn(ALGORITHMS, alg);
}
