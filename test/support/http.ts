import { expect } from 'vitest';
import * as jose from 'jose';
import { setTimeout as sleep } from 'node:timers/promises';

/** `Authorization` header value of a Bearer token. */
export const bearer = (token: string): string => `Bearer ${token}`;

/** The protected header of a compact JWS, decoded by hand (base64url JSON of the first segment); nothing is verified. */
export function headerOf(token: string): { alg?: string; kid?: string; typ?: string; [member: string]: unknown } {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as { kid?: string };
}

/** The payload of a JWS, read without verifying anything. */
export const payloadOf = (token: string): jose.JWTPayload => jose.decodeJwt(token);

/** Waits until the wall clock reaches `epochMs` (returns at once when it already has). */
export async function sleepUntil(epochMs: number): Promise<void> {
  const wait = epochMs - Date.now();
  if (wait > 0) await sleep(wait);
}

export interface BearerChallenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses one `WWW-Authenticate` challenge strictly (RFC 9110 §11.6.1: auth-param = token BWS "="
 * BWS ( token / quoted-string )). Throws when the header is not well-formed, e.g. when a
 * quoted-string ends early because a value holds an unescaped `"`.
 */
export function parseChallenge(header: string | undefined): BearerChallenge {
  if (typeof header !== 'string') throw new TypeError('no WWW-Authenticate header');
  const schemeMatch = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +|$)/.exec(header);
  if (!schemeMatch) throw new SyntaxError(`no auth-scheme in ${JSON.stringify(header)}`);
  const params: Record<string, string> = {};
  let rest = header.slice(schemeMatch[0].length);
  while (rest.length > 0) {
    const name = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*/.exec(rest);
    if (!name) throw new SyntaxError(`bad auth-param at ${JSON.stringify(rest)}`);
    rest = rest.slice(name[0].length);
    let value: string;
    if (rest.startsWith('"')) {
      const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
      if (!quoted) throw new SyntaxError(`unterminated quoted-string at ${JSON.stringify(rest)}`);
      value = quoted[1].replace(/\\(.)/g, '$1');
      rest = rest.slice(quoted[0].length);
    } else {
      const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(rest);
      if (!token) throw new SyntaxError(`bad auth-param value at ${JSON.stringify(rest)}`);
      value = token[0];
      rest = rest.slice(token[0].length);
    }
    const key = name[1].toLowerCase();
    if (Object.hasOwn(params, key)) throw new SyntaxError(`auth-param ${key} repeated`);
    params[key] = value;
    if (rest.length === 0) break;
    const sep = /^[ \t]*,[ \t]*/.exec(rest);
    if (!sep) throw new SyntaxError(`expected "," at ${JSON.stringify(rest)}`);
    rest = rest.slice(sep[0].length);
  }
  return { scheme: schemeMatch[1], params };
}

/** RFC 6750 §3: `error_description` may only hold %x20-21 / %x23-5B / %x5D-7E. */
export const RFC6750_DESCRIPTION = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

/** Asserts a 401 with an RFC 6750 `invalid_token` challenge of `realm`, and returns its error_description. */
export function expectInvalidTokenChallenge(
  response: { status: number; headers: Record<string, string | string[] | undefined> },
  realm: string,
): string {
  expect(response.status).toBe(401);
  const challenge = parseChallenge(response.headers['www-authenticate'] as string | undefined);
  expect(challenge.scheme).toBe('Bearer');
  expect(challenge.params.realm).toBe(realm);
  expect(challenge.params.error).toBe('invalid_token');
  expect(challenge.params.error_description).toMatch(RFC6750_DESCRIPTION);
  return challenge.params.error_description;
}

/** Names of fields that would hold key material (JWK `k`/`d`, or anything called secret/material). */
export const KEY_MATERIAL_FIELDS = ['k', 'd', 'kty', 'secret', 'material', 'key', 'privateKey'] as const;

/** Every property name found anywhere in a JSON-like value. */
export function allPropertyNames(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) allPropertyNames(item, found);
  } else if (typeof value === 'object' && value !== null) {
    for (const [name, inner] of Object.entries(value)) {
      found.add(name);
      allPropertyNames(inner, found);
    }
  }
  return found;
}

/** A token signed with a secret the server does not know, with the header given. */
export function forgeHs256(
  header: jose.JWTHeaderParameters,
  claims: jose.JWTPayload = {},
  secret = new Uint8Array(32).fill(7),
): Promise<string> {
  return new jose.SignJWT(claims).setProtectedHeader(header).sign(secret);
}

/** base64url of a JSON value, for hand-built tokens. */
export const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
