import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from './errors';
import { type JwtRotationModuleOptions, resolveOptions } from './jwt-rotation.options';

const issuer = 'https://api.example.com';
const LOW_ENTROPY = /^keyEncryptionSecret is too easy to guess .*`openssl rand -base64 48`$/;

function problemsOf(options: Partial<JwtRotationModuleOptions>): string[] {
  try {
    resolveOptions({ issuer, ...options } as JwtRotationModuleOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).code).toBe('ERR_CONFIG_INVALID');
    return [...(error as ConfigurationError).problems];
  }
  return [];
}

describe('resolveOptions', () => {
  it('fills the documented defaults', () => {
    const resolved = resolveOptions({ issuer });
    expect(resolved).toMatchObject({
      algorithm: 'HS256',
      rotationIntervalMs: 15 * 86_400_000,
      accessTokenTtlMs: 15 * 60_000,
      refreshTokenTtlMs: 30 * 86_400_000,
      clockToleranceMs: 30_000,
      maxTokenAgeMs: undefined,
      secretLength: 64,
      audiences: { default: issuer },
      keyPrefix: 'jwt-rotation',
      rolesClaim: 'roles',
      permissionsClaim: 'permissions',
      realm: issuer,
      maxTokenLifetimeMs: 30 * 86_400_000,
      refreshReuseIntervalMs: 30_000,
      maxSessionsPerSubject: 200,
    });
  });

  it('accepts seconds and duration strings', () => {
    const resolved = resolveOptions({
      issuer,
      rotationInterval: 90,
      accessTokenTtl: '90s',
      refreshTokenTtl: '12h',
      clockTolerance: 0,
      maxTokenAge: '1d',
    });
    expect(resolved.rotationIntervalMs).toBe(90_000);
    expect(resolved.accessTokenTtlMs).toBe(90_000);
    expect(resolved.refreshTokenTtlMs).toBe(43_200_000);
    expect(resolved.clockToleranceMs).toBe(0);
    expect(resolved.maxTokenAgeMs).toBe(86_400_000);
  });

  it.each<[string, Partial<JwtRotationModuleOptions>, RegExp]>([
    ['an unknown algorithm', { algorithm: 'HS1' as never }, /^algorithm must be one of HS256/],
    ['the none algorithm', { algorithm: 'none' as never }, /^algorithm must be one of/],
    ['a secret shorter than HS256 needs', { secretLength: 31 }, /^secretLength must be at least 32 bytes for HS256/],
    ['a secret shorter than HS512 needs', { algorithm: 'HS512', secretLength: 48 }, /^secretLength must be at least 64 bytes for HS512/],
    ['a zero duration', { accessTokenTtl: 0 }, /^accessTokenTtl must be a positive duration/],
    ['an unparsable duration', { rotationInterval: 'fortnight' }, /^rotationInterval must be a positive duration/],
    ['a negative duration', { refreshTokenTtl: -5 }, /^refreshTokenTtl must be a positive duration/],
    ['a rotation interval too short to publish ahead', { rotationInterval: '1s' }, /^rotationInterval must be at least 2s/],
    ['an audience map without default', { audiences: { api: 'https://api' } }, /^audiences must contain a "default" entry/],
    ['a short keyEncryptionSecret', { keyEncryptionSecret: 'short' }, /^keyEncryptionSecret must be at least 32 characters/],
    ['a keyEncryptionSecret of one repeated character', { keyEncryptionSecret: 'a'.repeat(64) }, LOW_ENTROPY],
    ['a keyEncryptionSecret of a short alphabet repeated', { keyEncryptionSecret: 'abc'.repeat(16) }, LOW_ENTROPY],
    ['a keyEncryptionSecret of a random chunk repeated', { keyEncryptionSecret: '3671e724f55fd7a8'.repeat(4) }, LOW_ENTROPY],
    ['a keyEncryptionSecret that is a run of the alphabet', { keyEncryptionSecret: 'abcdefghijklmnopqrstuvwxyz0123456789' }, LOW_ENTROPY],
    ['a keyEncryptionSecret of digits counting up', { keyEncryptionSecret: '0123456789'.repeat(4) }, LOW_ENTROPY],
    ['a keyPrefix with spaces', { keyPrefix: 'my prefix' }, /^keyPrefix must be/],
    ['a missing issuer', { issuer: '' }, /^issuer is required/],
    ['a zero session cap', { maxSessionsPerSubject: 0 }, /^maxSessionsPerSubject must be at least 1/],
    ['a fractional session cap', { maxSessionsPerSubject: 2.5 }, /^maxSessionsPerSubject must be a whole number/],
    ['an empty tokenFrom', { tokenFrom: [] }, /^tokenFrom must be a non-empty array of token sources/],
    [
      'the query string as a token source',
      { tokenFrom: [{ query: 'token' } as never] },
      /^tokenFrom\[0\]: the URL query string is never a token source/,
    ],
    [
      'an unknown token source',
      { tokenFrom: ['authorization', 'header' as never] },
      /^tokenFrom\[1\] must be 'authorization', 'handshake'/,
    ],
    ['a cookie source without a usable name', { tokenFrom: [{ cookie: 'a b' }] }, /^tokenFrom\[0\] must be/],
    [
      'a transport missing members',
      { transports: { kafka: { request: () => ({}) } as never } },
      /^transports\.kafka must implement JwtTransport: read, attach, claims, refuse missing/,
    ],
  ])('refuses %s, naming the option', (_, options, message) => {
    const problems = problemsOf(options);
    expect(problems.some((p) => message.test(p))).toBe(true);
  });

  it('accepts keyEncryptionSecrets from `openssl rand -base64 32/48` and `-hex 32`, and never puts one in a message', () => {
    for (let i = 0; i < 200; i++) {
      for (const keyEncryptionSecret of [
        randomBytes(32).toString('base64'),
        randomBytes(48).toString('base64'),
        randomBytes(32).toString('hex'),
      ]) {
        expect(problemsOf({ keyEncryptionSecret }), keyEncryptionSecret).toEqual([]);
      }
    }
    const weak = 'Zx'.repeat(24);
    expect(problemsOf({ keyEncryptionSecret: weak }).join('\n')).not.toContain('ZxZx');
  });

  it('takes token sources in order, with the default header then handshake', () => {
    expect(resolveOptions({ issuer }).tokenFrom).toEqual(['authorization', 'handshake']);
    const pick = () => 'x';
    expect(resolveOptions({ issuer, tokenFrom: [{ cookie: 'access_token' }, { field: 'accessToken' }, pick] }).tokenFrom).toEqual([
      { cookie: 'access_token' },
      { field: 'accessToken' },
      pick,
    ]);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({ algorithm: 'XX' as never, accessTokenTtl: 'soon', audiences: {} });
    expect(problems.length).toBeGreaterThanOrEqual(3);
  });

  it('puts every problem in the error message', () => {
    expect(() => resolveOptions({ issuer, secretLength: 8 })).toThrow(/secretLength/);
  });
});
