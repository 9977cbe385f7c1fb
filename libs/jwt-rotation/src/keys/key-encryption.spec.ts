import { describe, expect, it } from 'vitest';
import { KeyDecryptionError } from '../errors';
import { KeyEncryption } from './key-encryption';

const secret = 'a-key-encryption-secret-of-at-least-32-chars';

describe('KeyEncryption', () => {
  const plaintext = Buffer.from('{"kty":"oct","k":"c2VjcmV0"}');

  it('round-trips key material and never stores it in the clear', () => {
    const encryption = new KeyEncryption(secret);
    const sealed = encryption.encrypt('kid-1', plaintext);
    expect(JSON.stringify(sealed)).not.toContain('c2VjcmV0');
    expect(new KeyEncryption(secret).decrypt('kid-1', sealed).equals(plaintext)).toBe(true);
  });

  it('refuses a wrong secret, another kid and a tampered record', () => {
    const sealed = new KeyEncryption(secret).encrypt('kid-1', plaintext);
    expect(() => new KeyEncryption(`${secret}!`).decrypt('kid-1', sealed)).toThrow(KeyDecryptionError);
    expect(() => new KeyEncryption(secret).decrypt('kid-2', sealed)).toThrow(KeyDecryptionError);
    const data = Buffer.from(sealed.data, 'base64url');
    data[0] ^= 1;
    expect(() => new KeyEncryption(secret).decrypt('kid-1', { ...sealed, data: data.toString('base64url') })).toThrow(KeyDecryptionError);
    const truncatedTag = Buffer.from(sealed.tag, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => new KeyEncryption(secret).decrypt('kid-1', { ...sealed, tag: truncatedTag })).toThrow(KeyDecryptionError);
  });

  it('keeps the secret out of its error messages', () => {
    const sealed = new KeyEncryption(secret).encrypt('kid-1', plaintext);
    const wrong = 'another-secret-that-is-also-long-enough';
    const decrypting = () => new KeyEncryption(wrong).decrypt('kid-1', sealed);
    expect(decrypting).toThrow(expect.objectContaining({ code: 'ERR_KEY_DECRYPTION_FAILED' }));
    expect(decrypting).toThrow(expect.not.objectContaining({ message: expect.stringContaining('another-secret') }));
    expect(decrypting).toThrow(expect.not.objectContaining({ message: expect.stringContaining(secret) }));
  });
});
