import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { estimateSecretEntropyBits, MIN_SECRET_ENTROPY_BITS } from './secret-entropy';

describe('estimateSecretEntropyBits', () => {
  it.each([
    ['openssl rand -base64 32', () => randomBytes(32).toString('base64')],
    ['openssl rand -base64 48', () => randomBytes(48).toString('base64')],
    ['openssl rand -hex 32', () => randomBytes(32).toString('hex')],
    ['openssl rand -hex 32, upper case', () => randomBytes(32).toString('hex').toUpperCase()],
    ['32 random bytes as base64url', () => randomBytes(32).toString('base64url')],
  ])('gives %s at least the floor, every time in 2,000 draws', (_, generate) => {
    let lowest = Infinity;
    for (let i = 0; i < 2000; i++) lowest = Math.min(lowest, estimateSecretEntropyBits(generate()));
    expect(lowest).toBeGreaterThanOrEqual(MIN_SECRET_ENTROPY_BITS + 40);
  });

  it.each([
    ['one repeated character', 'a'.repeat(64)],
    ['two characters alternating', 'ab'.repeat(32)],
    ['a short alphabet repeated', 'abc'.repeat(16)],
    ['doubled letters', 'aabbccddeeffgghhiijjkkllmmnnoopp'],
    ['a word repeated', 'password'.repeat(4)],
    ['a random hex chunk repeated', `${randomBytes(8).toString('hex')}`.repeat(4)],
    ['a random base64 chunk repeated', `${randomBytes(12).toString('base64')}`.repeat(3)],
    ['the alphabet in order', 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'],
    ['digits counting up', '0123456789'.repeat(4)],
    ['the empty string', ''],
  ])('scores %s under the floor', (_, secret) => {
    expect(estimateSecretEntropyBits(secret)).toBeLessThan(MIN_SECRET_ENTROPY_BITS);
  });
});
