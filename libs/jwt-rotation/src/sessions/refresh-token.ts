import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** `rt.<sid>.<generation>.<mac>`: four segments, so no JWT parser takes it for a JWS (three) or a JWE (five). */
const REFRESH_TOKEN = /^rt\.([A-Za-z0-9_-]{22})\.(0|[1-9][0-9]{0,14})\.([A-Za-z0-9_-]{43})$/;

/** What a refresh token names: a session and the generation of its refresh token. */
export interface RefreshTokenId {
  readonly sid: string;
  readonly generation: number;
}

/**
 * Opaque refresh tokens: the session id, the generation, and an HMAC-SHA256 of both under a key
 * derived from `keyEncryptionSecret`. Nothing signs them with a published key, so no third-party
 * verifier can accept one as an access token; nothing about them is stored, so a store dump holds
 * no refresh token and no hash of one; and the token of a generation is derived again at will,
 * which is what lets a retried refresh get the same pair.
 */
export class RefreshTokens {
  private readonly key: Buffer;

  /** `secret` undefined: a key of this process only (the in-memory store, whose sessions die with it). */
  constructor(secret: string | undefined) {
    this.key = Buffer.from(hkdfSync('sha256', secret ?? randomBytes(32), 'nest-jwt-rotation', 'refresh-token/v1', 32));
  }

  encode(sid: string, generation: number): string {
    return `rt.${sid}.${generation}.${this.mac(sid, generation).toString('base64url')}`;
  }

  /** The session and generation a token names, or undefined for anything this service did not make. */
  decode(token: unknown): RefreshTokenId | undefined {
    if (typeof token !== 'string') return undefined;
    const match = REFRESH_TOKEN.exec(token);
    if (!match) return undefined;
    const [, sid, generationText, macText] = match;
    const generation = Number(generationText);
    const presented = Buffer.from(macText, 'base64url');
    // Only the canonical base64url of the 32 bytes passes: no second spelling of one token.
    if (presented.toString('base64url') !== macText) return undefined;
    return timingSafeEqual(presented, this.mac(sid, generation)) ? { sid, generation } : undefined;
  }

  private mac(sid: string, generation: number): Buffer {
    return createHmac('sha256', this.key).update(`refresh\0${sid}\0${generation}`).digest();
  }
}
