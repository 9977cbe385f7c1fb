import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors';
import { JwtRotationModule } from '../jwt-rotation.module';
import { resolveOptions } from '../jwt-rotation.options';
import { type JwtVerifierModuleOptions, resolveVerifierOptions } from './jwt-verifier.options';

const issuer = { issuer: 'https://auth.example.com/', audience: 'https://api.example.com' };

function problemsOf(options: unknown): readonly string[] {
  try {
    resolveVerifierOptions(options as JwtVerifierModuleOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as ConfigurationError).problems;
  }
  throw new Error('the options were accepted');
}

describe('verifier options', () => {
  it('do not compile with issuer-only options', () => {
    // Each line is a compile error (npm run typecheck fails if one compiles); at runtime each is refused too.
    // @ts-expect-error a verifier signs nothing: no algorithm
    expect(() => JwtRotationModule.forVerifier({ issuers: [issuer], algorithm: 'RS256' }).providers).not.toThrow();
    // @ts-expect-error no keyEncryptionSecret: a verifier stores no key
    JwtRotationModule.forVerifier({ issuers: [issuer], keyEncryptionSecret: 'x'.repeat(40) });
    // @ts-expect-error no rotationInterval
    JwtRotationModule.forVerifier({ issuers: [issuer], rotationInterval: '1d' });
    // @ts-expect-error an issuer has no audience check to switch off
    JwtRotationModule.forVerifier({ issuers: [{ issuer: issuer.issuer }] });
    // @ts-expect-error HMAC is never a verifier's algorithm
    JwtRotationModule.forVerifier({ issuers: [{ ...issuer, algorithms: ['HS256'] }] });
    expect(problemsOf({ issuers: [issuer], algorithm: 'RS256', keyEncryptionSecret: 'x' })).toEqual([
      expect.stringContaining('algorithm is an issuer option'),
      expect.stringContaining('keyEncryptionSecret is an issuer option'),
    ]);
  });

  it('resolve a minimal issuer with the rfc9068 profile and discovery', () => {
    const resolved = resolveVerifierOptions({ issuers: [issuer] });
    expect(resolved.role).toBe('verifier');
    expect(resolved.realm).toBe(issuer.issuer);
    expect(resolved.issuers[0]).toMatchObject({ issuer: issuer.issuer, jwksUri: undefined, audiences: { default: issuer.audience } });
    expect([...resolved.issuers[0].profile.types]).toEqual(['application/at+jwt']);
  });

  it.each([
    [{ issuers: [] }, 'issuers must list at least one'],
    [{ issuers: [{ ...issuer, audience: undefined }] }, 'audience is required'],
    [{ issuers: [{ ...issuer, issuer: 'http://auth.example.com/' }] }, 'must be an https URL'],
    [{ issuers: [{ ...issuer, jwksUri: 'http://auth.example.com/jwks' }] }, 'jwksUri must be an https URL'],
    [{ issuers: [{ ...issuer, preset: 'okta' }] }, 'preset must be one of'],
    [{ issuers: [{ ...issuer, algorithms: ['HS256'] }] }, 'asymmetric algorithms only'],
    [{ issuers: [{ ...issuer, claims: { types: ['JWT'] } }] }, 'accessTokenWhen is required'],
    [{ issuers: [issuer, issuer] }, 'listed twice'],
    [{ issuers: [{ ...issuer, refreshInterval: '10m', maxStaleness: '1m' }] }, 'maxStaleness must be at least refreshInterval'],
  ])('refuse %j naming the option', (options, message) => {
    expect(problemsOf(options).join('\n')).toContain(message);
  });

  it('allow http for loopback hosts only', () => {
    expect(() => resolveVerifierOptions({ issuers: [{ ...issuer, issuer: 'http://127.0.0.1:8080/realms/x' }] })).not.toThrow();
    expect(() => resolveVerifierOptions({ issuers: [{ ...issuer, issuer: 'http://localhost:8080/' }] })).not.toThrow();
  });

  it('refuse the former verifyOnly option on the issuer module, naming its replacement', () => {
    expect(() => resolveOptions({ issuer: 'https://api.example.com', ...{ verifyOnly: { jwksUri: 'https://a.test/jwks' } } })).toThrow(
      /forVerifier/,
    );
  });
});
