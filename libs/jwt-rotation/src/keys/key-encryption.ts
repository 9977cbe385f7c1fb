import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { KeyDecryptionError } from '../errors';

/** Key material as it rests in the store: AES-256-GCM, the kid bound in as associated data. */
export interface EncryptedMaterial {
  readonly v: 1;
  readonly iv: string;
  readonly tag: string;
  readonly data: string;
}

/**
 * Encrypts key material at rest so that a dump of the store alone does not leak signing keys.
 * The kid is the associated data: a record moved under another kid fails to decrypt.
 */
export class KeyEncryption {
  private readonly key: Buffer;

  constructor(secret: string) {
    // HKDF turns a passphrase-like secret into a uniform 256-bit key; salt and info are fixed so
    // every instance given the same secret derives the same key.
    this.key = Buffer.from(hkdfSync('sha256', secret, 'nest-jwt-rotation', 'key-encryption/v1', 32));
  }

  /** A random secret for a store that lives and dies with this process. */
  static ephemeral(): KeyEncryption {
    return new KeyEncryption(randomBytes(32).toString('base64url'));
  }

  encrypt(kid: string, plaintext: Buffer): EncryptedMaterial {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(kid, 'utf8'));
    const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { v: 1, iv: iv.toString('base64url'), tag: cipher.getAuthTag().toString('base64url'), data: data.toString('base64url') };
  }

  decrypt(kid: string, material: EncryptedMaterial): Buffer {
    try {
      if (material?.v !== 1) throw new TypeError('unknown record version');
      // The tag length is pinned: GCM would otherwise accept a truncated (4-byte) tag.
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(material.iv, 'base64url'), { authTagLength: 16 });
      decipher.setAAD(Buffer.from(kid, 'utf8'));
      decipher.setAuthTag(Buffer.from(material.tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(material.data, 'base64url')), decipher.final()]);
    } catch (error) {
      throw new KeyDecryptionError(`Key material for kid "${kid}" does not decrypt: wrong keyEncryptionSecret or a tampered record`, {
        cause: error,
      });
    }
  }
}
