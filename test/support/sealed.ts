import { createHmac, hkdfSync } from 'node:crypto';

/**
 * Reading what the library stores in Redis, as a test (or an operator) with the secret would:
 * values are `{ p, x, m }` (JSON, expiry, MAC); hash fields and events are a 43-character MAC
 * followed by the value. `macKey` recomputes the MAC so a test can check it, or forge one.
 */
export const MAC_LENGTH = 43;

export function macKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'nest-jwt-rotation', 'store-authentication/v1', 32));
}

export function mac(secret: string, kind: 'value' | 'field' | 'event', name: string, content: string): string {
  return createHmac('sha256', macKey(secret)).update(`${kind}\0${name}\0`).update(content).digest('base64url');
}

/** The value inside a sealed string record, as the library wrote it. */
export function openValue(raw: string): unknown {
  const sealed = JSON.parse(raw) as { p: string; x: number; m: string };
  if (typeof sealed.p !== 'string' || typeof sealed.m !== 'string') throw new Error('not a sealed value');
  return JSON.parse(sealed.p);
}

/** The value of a sealed hash field. */
export function openField(raw: string): string {
  return raw.slice(MAC_LENGTH);
}

/** A sealed string record for `key`, as the library would write it with `secret`. */
export function sealValue(secret: string, key: string, value: unknown, ttlMs: number): string {
  const p = JSON.stringify(value);
  const x = Date.now() + ttlMs;
  return JSON.stringify({ p, x, m: mac(secret, 'value', key, `${x}\0${p}`) });
}

/** A sealed hash field value. */
export function sealField(secret: string, key: string, field: string, value: string): string {
  return `${mac(secret, 'field', `${key}\0${field}`, value)}${value}`;
}
