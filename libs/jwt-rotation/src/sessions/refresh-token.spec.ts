import { describe, expect, it } from 'vitest';
import { RefreshTokens } from './refresh-token';

const SECRET = 'a-refresh-token-spec-secret-of-32+characters';
const SID = 'AAAAAAAAAAAAAAAAAAAAAA';

describe('RefreshTokens', () => {
  const tokens = new RefreshTokens(SECRET);

  it('derives the same token for a session generation each time, and on every instance with the secret', () => {
    const token = tokens.encode(SID, 3);
    expect(token).toMatch(/^rt\.AAAAAAAAAAAAAAAAAAAAAA\.3\.[A-Za-z0-9_-]{43}$/);
    expect(new RefreshTokens(SECRET).encode(SID, 3)).toBe(token);
    expect(tokens.decode(token)).toEqual({ sid: SID, generation: 3 });
    expect(tokens.encode(SID, 4)).not.toBe(token);
  });

  it('refuses a token of another secret, another generation or sid, or any change to it', () => {
    const token = tokens.encode(SID, 0);
    expect(new RefreshTokens('another-secret-of-at-least-32-characters!').decode(token)).toBeUndefined();
    expect(new RefreshTokens(undefined).decode(token)).toBeUndefined();
    expect(tokens.decode(token.replace('.0.', '.1.'))).toBeUndefined();
    expect(tokens.decode(token.replace(SID, 'B' + SID.slice(1)))).toBeUndefined();
    const mac = token.split('.')[3];
    // The last base64url character of 32 bytes carries 2 unused bits: the next character is a
    // second spelling of the same MAC, which must not pass.
    const last = mac.at(-1)!;
    expect('AEIMQUYcgkosw048').toContain(last);
    const sibling = `${token.slice(0, -1)}${String.fromCharCode(last.charCodeAt(0) + 1)}`;
    expect(Buffer.from(sibling.split('.')[3], 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
    expect(tokens.decode(sibling)).toBeUndefined();
    for (const bad of [
      `${token}x`,
      token.slice(0, -1),
      token.replace('rt.', 'xx.'),
      `${token.slice(0, -1)}\u0141`,
      '',
      'a.b.c',
      42,
      null,
    ]) {
      expect(tokens.decode(bad)).toBeUndefined();
    }
  });
});
