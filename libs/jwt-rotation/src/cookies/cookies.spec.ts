import { describe, expect, it } from 'vitest';
import { resolveCookieOptions } from './cookie.options';
import { CsrfTokens } from './csrf-tokens';
import { isSafeMethod, isSameOriginRequest } from './same-origin';

const resolve = (value: Parameters<typeof resolveCookieOptions>[0], env = 'test') => {
  const problems: string[] = [];
  return { resolved: resolveCookieOptions(value, problems, env), problems };
};

describe('cookie options', () => {
  it('are off unless asked for, and secure with prefixed names by default', () => {
    expect(resolve(undefined).resolved).toBeUndefined();
    expect(resolve({}).resolved).toMatchObject({
      accessTokenName: '__Host-access_token',
      refreshTokenName: '__Secure-refresh_token',
      csrfCookieName: '__Host-csrf_token',
      refreshPath: '/auth',
      csrfHeader: 'x-csrf-token',
      sameSite: 'lax',
      secure: true,
    });
    expect(resolve({ secure: false }).resolved).toMatchObject({ accessTokenName: 'access_token', secure: false });
  });

  it.each([
    [{ secure: false }, 'production', /secure: false is for http:\/\/localhost/],
    [{ secure: false, accessTokenName: '__Host-a' }, 'test', /accessTokenName: a __Host- or __Secure- name needs cookies.secure/],
    [{ refreshTokenName: '__Host-r' }, 'test', /refreshTokenName cannot be __Host-/],
    [{ accessTokenName: 'a b' }, 'test', /accessTokenName must be a cookie name/],
    [{ accessTokenName: 'x', refreshTokenName: 'x' }, 'test', /must differ/],
    [{ refreshPath: 'auth' }, 'test', /refreshPath must be an absolute path/],
    [{ csrfHeader: 'x csrf' }, 'test', /csrfHeader must be a header name/],
    [{ sameSite: 'none', secure: false }, 'test', /'none' needs cookies.secure/],
    [{ trustedOrigins: ['https://app.example.com/path'] }, 'test', /trustedOrigins: .* must be an origin/],
  ] as const)('refuses %o, naming the option', (value, env, message) => {
    expect(resolve(value as never, env).problems.join('\n')).toMatch(message);
  });
});

describe('CSRF tokens', () => {
  it('verify for their own session only, and only untouched', () => {
    const tokens = new CsrfTokens('a-secret-of-enough-length-for-the-test-0123');
    const token = tokens.mint('sid-1');
    expect(tokens.verify('sid-1', token)).toBe(true);
    expect(tokens.verify('sid-2', token)).toBe(false);
    expect(tokens.verify('sid-1', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBe(false);
    expect(tokens.verify('sid-1', token.split('.')[1])).toBe(false);
    expect(tokens.verify('sid-1', undefined)).toBe(false);
    // Every instance with the same secret checks the others' tokens.
    expect(new CsrfTokens('a-secret-of-enough-length-for-the-test-0123').verify('sid-1', token)).toBe(true);
    expect(new CsrfTokens(undefined).verify('sid-1', token)).toBe(false);
  });
});

describe('same-origin check', () => {
  const req = (headers: Record<string, string>, protocol = 'https') => ({ headers: { host: 'api.example.com', ...headers }, protocol });
  const trusted = new Set(['https://app.example.com']);

  it('takes the app origin and trusted origins, and refuses any other or a null origin', () => {
    expect(isSameOriginRequest(req({ origin: 'https://api.example.com' }), trusted)).toBe(true);
    expect(isSameOriginRequest(req({ origin: 'https://app.example.com' }), trusted)).toBe(true);
    expect(isSameOriginRequest(req({ origin: 'http://api.example.com' }), trusted)).toBe(false);
    expect(isSameOriginRequest(req({ origin: 'https://api.example.com:8443' }), trusted)).toBe(false);
    expect(isSameOriginRequest(req({ origin: 'null' }), trusted)).toBe(false);
  });

  it('falls back on Sec-Fetch-Site, and lets a request with neither header through to the token check', () => {
    expect(isSameOriginRequest(req({ 'sec-fetch-site': 'same-origin' }), trusted)).toBe(true);
    expect(isSameOriginRequest(req({ 'sec-fetch-site': 'same-site' }), trusted)).toBe(false);
    expect(isSameOriginRequest(req({ 'sec-fetch-site': 'cross-site' }), trusted)).toBe(false);
    expect(isSameOriginRequest(req({}), trusted)).toBe(true);
  });

  it('never checks safe methods', () => {
    expect(['GET', 'head', 'OPTIONS'].every(isSafeMethod)).toBe(true);
    expect(['POST', 'PUT', 'PATCH', 'DELETE'].some(isSafeMethod)).toBe(false);
  });
});
