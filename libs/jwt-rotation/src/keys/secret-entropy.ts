/** The least estimated entropy a `keyEncryptionSecret` must have, in bits. */
export const MIN_SECRET_ENTROPY_BITS = 128;

/** Character classes and how many characters each adds to the alphabet a secret draws from. */
const CLASSES: ReadonlyArray<readonly [RegExp, number]> = [
  [/[a-z]/, 26],
  [/[A-Z]/, 26],
  [/[0-9]/, 10],
  [/[-_]/, 2], // base64url
  [/[+/=]/, 3], // base64
  [/[^A-Za-z0-9\-_+/=]/, 32], // anything else: punctuation, spaces, non-ASCII
];

/**
 * A conservative estimate of the entropy of a secret someone typed or generated, in bits: what a
 * repeated character, a repeated chunk or a run such as `abcd…`/`0123…` is worth to a guesser.
 *
 * A character counts only when the three characters ending with it and the two steps between
 * their codes are both new in the secret (so repeats and runs of any period count once); each
 * counted character is worth log2 of the alphabet the secret draws from (16 for hex, else the sum
 * of the classes it uses: 26 lower, 26 upper, 10 digits, 2 for `-_`, 3 for `+/=`, 32 for others).
 * `openssl rand -base64 32` scores at least ~240 bits, `openssl rand -hex 32` ~210, one repeated
 * character ~10, a random 16-character chunk repeated 4 times ~70. It does not know words: a
 * passphrase scores as random characters would.
 */
export function estimateSecretEntropyBits(secret: string): number {
  const codes = Array.from(secret, (c) => c.codePointAt(0)!);
  const isHex = /^[0-9a-f]*$/.test(secret) || /^[0-9A-F]*$/.test(secret);
  const alphabet = isHex ? 16 : CLASSES.reduce((size, [pattern, count]) => size + (pattern.test(secret) ? count : 0), 0);
  const trigrams = new Set<string>();
  const stepPairs = new Set<string>();
  let counted = 0;
  for (let i = 0; i < codes.length; i++) {
    const trigram = codes.slice(Math.max(0, i - 2), i + 1).join(',');
    const steps = i < 2 ? `start ${i}` : `${codes[i - 1] - codes[i - 2]},${codes[i] - codes[i - 1]}`;
    if (!trigrams.has(trigram) && !stepPairs.has(steps)) counted++;
    trigrams.add(trigram);
    stepPairs.add(steps);
  }
  return alphabet > 1 ? counted * Math.log2(alphabet) : 0;
}
