import { describe, expect, it } from 'vitest';
import { normalizeType, resolveClaimsProfile, valuesAt } from './claims-profile';

describe('typ as RFC 7515 §4.1.9 compares it', () => {
  it.each([
    ['at+jwt', 'application/at+jwt'],
    ['AT+JWT', 'application/at+jwt'],
    ['application/at+jwt', 'application/at+jwt'],
    ['Application/AT+JWT', 'application/at+jwt'],
    ['JWT', 'application/jwt'],
    [undefined, ''],
  ])('%s is %s', (typ, normalized) => {
    expect(normalizeType(typ)).toBe(normalized);
  });
});

describe('claim values', () => {
  it('split only scope-style claims on spaces', () => {
    expect(valuesAt({ roles: 'x admin' }, 'roles')).toEqual(['x admin']);
    expect(valuesAt({ scope: 'a b  c' }, 'scope')).toEqual(['a', 'b', 'c']);
    expect(valuesAt({ scp: 'User.Read Articles.Write' }, 'scp')).toEqual(['User.Read', 'Articles.Write']);
  });

  it('read nested paths, and namespaced top-level claims as they are', () => {
    const claims = { realm_access: { roles: ['admin'] }, 'https://example.com/roles': ['editor'], 'a.b': 'top' };
    expect(valuesAt(claims, 'realm_access.roles')).toEqual(['admin']);
    expect(valuesAt(claims, 'https://example.com/roles')).toEqual(['editor']);
    expect(valuesAt(claims, 'a.b')).toEqual(['top']);
    expect(valuesAt(claims, 'realm_access.missing.roles')).toEqual([]);
    expect(valuesAt({ roles: [1, 'a', null] }, 'roles')).toEqual(['a']);
  });

  it('keycloak: realm roles and the roles of the audience client, not of other clients', () => {
    const profile = resolveClaimsProfile('keycloak', undefined, { audiences: ['my-api'] }, 'p', [])!;
    const claims = {
      realm_access: { roles: ['user'] },
      resource_access: { 'my-api': { roles: ['admin'] }, account: { roles: ['manage-account'] } },
    };
    expect([...profile.roles(claims)].sort()).toEqual(['admin', 'user']);
  });

  it('a mapping function of the claims', () => {
    const profile = resolveClaimsProfile(undefined, { roles: (c) => (c.admin === true ? ['admin'] : []) }, { audiences: [] }, 'p', [])!;
    expect([...profile.roles({ admin: true })]).toEqual(['admin']);
  });
});
