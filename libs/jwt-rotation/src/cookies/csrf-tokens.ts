import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const NONCE_BYTES = 16;

/**
 * OWASP's signed double-submit tokens: `<nonce>.<HMAC(session id, nonce)>`, under a key derived
 * from `keyEncryptionSecret` (every instance makes and checks the same tokens), or a random one for
 * a store that lives in this process. A token is worth nothing for another session.
 */
export class CsrfTokens {
  private readonly key: Buffer;

  constructor(secret: string | undefined) {
    this.key = secret === undefined ? randomBytes(32) : Buffer.from(hkdfSync('sha256', secret, 'nest-jwt-rotation', 'csrf-token/v1', 32));
  }

  mint(sessionId: string): string {
    const nonce = randomBytes(NONCE_BYTES).toString('base64url');
    return `${nonce}.${this.mac(sessionId, nonce)}`;
  }

  verify(sessionId: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length > 128) return false;
    const dot = token.indexOf('.');
    if (dot <= 0) return false;
    const expected = Buffer.from(this.mac(sessionId, token.slice(0, dot)));
    const presented = Buffer.from(token.slice(dot + 1));
    return presented.length === expected.length && timingSafeEqual(presented, expected);
  }

  private mac(sessionId: string, nonce: string): string {
    return createHmac('sha256', this.key).update(`${sessionId}\0${nonce}`).digest('base64url');
  }
}

const shared = new WeakMap<object, CsrfTokens>();

/**
 * The CSRF tokens of one module: the same instance for the cookie routes and the guard, so a
 * process-local key (no keyEncryptionSecret) is one key, not one per reader.
 */
export function csrfTokensFor(options: { readonly keyEncryptionSecret: string | undefined }): CsrfTokens {
  let tokens = shared.get(options);
  if (!tokens) shared.set(options, (tokens = new CsrfTokens(options.keyEncryptionSecret)));
  return tokens;
}
