/** Algorithms a key ring can run on. Asymmetric families slot in beside `hmac` with their own key material. */
export const SUPPORTED_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export type JwtAlgorithm = (typeof SUPPORTED_ALGORITHMS)[number];

export interface HmacAlgorithm {
  readonly kind: 'hmac';
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  /** RFC 7518 §3.2: the key must be at least as long as the hash output. */
  readonly minSecretBytes: number;
}

export const ALGORITHMS: Readonly<Record<JwtAlgorithm, HmacAlgorithm>> = {
  HS256: { kind: 'hmac', hash: 'sha256', minSecretBytes: 32 },
  HS384: { kind: 'hmac', hash: 'sha384', minSecretBytes: 48 },
  HS512: { kind: 'hmac', hash: 'sha512', minSecretBytes: 64 },
};

export function isSupportedAlgorithm(value: unknown): value is JwtAlgorithm {
  return typeof value === 'string' && Object.hasOwn(ALGORITHMS, value);
}
