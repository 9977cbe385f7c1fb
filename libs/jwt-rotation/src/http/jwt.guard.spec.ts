import { type ExecutionContext, HttpException, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidSignatureError } from '../errors';
import { resolveOptions, type ResolvedVerificationOptions } from '../jwt-rotation.options';
import { resolveVerifierOptions } from '../verifier/jwt-verifier.options';
import type { TokenService } from '../tokens/token.service';
import type { CredentialRejectionError } from '../errors';
import { JwtGuard, type JwtRequest } from './jwt.guard';
import { TokenRejections } from './token-rejections';

const ISSUER = 'https://t.test';
const CLAIMS = { sub: 'carol' };

/**
 * A TokenService that accepts every token, as a foreign issuer's valid signature would: what the
 * guard then does with the Authorization header's syntax is the guard's own decision.
 */
const acceptsAll = { verify: () => CLAIMS, verifyAsync: async () => CLAIMS } as unknown as TokenService;
const refusesAll = {
  verify: () => {
    throw new InvalidSignatureError('refused');
  },
} as unknown as TokenService;

function contextFor(authorization: string): ExecutionContext {
  const request = { headers: { authorization }, method: 'GET' };
  const response = { setHeader: () => undefined };
  return {
    getType: () => 'http',
    getHandler: () => contextFor,
    getClass: () => JwtGuard,
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => response }),
  } as unknown as ExecutionContext;
}

/** The guard's answer: true, or the HTTP status of what it threw. */
function outcome(guard: JwtGuard, authorization: string): true | number {
  try {
    const result = guard.canActivate(contextFor(authorization));
    if (result !== true) throw new Error(`unexpected result ${String(result)}`);
    return result;
  } catch (error) {
    if (error instanceof HttpException) return error.getStatus();
    throw error;
  }
}

/** Overrides nothing but calls the default extraction, as a subclass that post-processes it would. */
class ExtendingGuard extends JwtGuard {
  protected override extractToken(...args: Parameters<JwtGuard['extractToken']>): string | undefined {
    return super.extractToken(...args)?.trim();
  }
}

describe('JwtGuard and the Bearer syntax', () => {
  const issuerOptions = resolveOptions({ issuer: ISSUER });
  const verifierOptions = resolveVerifierOptions({
    issuers: [{ issuer: ISSUER, jwksUri: 'https://issuer.test/jwks.json', audience: ISSUER }],
  });
  const guard = (tokens: TokenService, options: ResolvedVerificationOptions = issuerOptions, Guard = JwtGuard) =>
    new Guard(tokens, new Reflector(), options, new TokenRejections());
  const MALFORMED = ['Bearer a=.b.c', 'Bearer a.b.c extra', 'Bearer a.b.c!', 'Bearer'];

  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn']));

  it.each(MALFORMED)('answers 400 for "%s" when the token is refused', (header) => {
    expect(outcome(guard(refusesAll), header)).toBe(400);
    expect(outcome(guard(refusesAll, verifierOptions), header)).toBe(400);
  });

  it('answers 401 for a well-formed token that is refused, and lets a verified one in', () => {
    expect(outcome(guard(refusesAll), 'Bearer  a.b.c')).toBe(401);
    expect(outcome(guard(acceptsAll), 'bearer a.b.c')).toBe(true);
  });

  it.each(MALFORMED)('checks "%s" before verifying when the tokens come from a foreign issuer (forVerifier)', (header) => {
    // A foreign signer may sign anything, padding included; only this service's own ring is known to sign base64url alone.
    expect(outcome(guard(acceptsAll, verifierOptions), header)).toBe(400);
  });

  it.each(MALFORMED)('keeps extractToken strict for a subclass that builds on it ("%s")', (header) => {
    expect(outcome(guard(acceptsAll, issuerOptions, ExtendingGuard), header)).toBe(400);
  });
});

/** The hooks a transport-specific subclass uses: where the request is, and what a refusal becomes. */
class HookedGuard extends JwtGuard {
  readonly rejected: string[] = [];
  protected override getRequest(context: ExecutionContext): JwtRequest {
    const { authorization } = context.switchToHttp().getRequest<{ headers: { authorization: string } }>().headers;
    return { headers: { authorization: authorization.replace(/^Token /, 'Bearer ') } };
  }
  protected override onRejected(_context: ExecutionContext, error: CredentialRejectionError): unknown {
    this.rejected.push(error.code);
    return new HttpException(error.code, 418);
  }
}

describe('JwtGuard hooks for subclasses', () => {
  const options = resolveOptions({ issuer: ISSUER });
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn']));

  it('reads the credential from getRequest() and gives onRejected() the typed error of each refusal', () => {
    const refusing = new HookedGuard(refusesAll, new Reflector(), options, new TokenRejections());
    expect(outcome(refusing, 'Token a.b.c')).toBe(418);
    expect(outcome(refusing, 'Basic x')).toBe(418);
    expect(outcome(refusing, 'Token a.b.c extra')).toBe(418);
    expect(refusing.rejected).toEqual(['ERR_JWT_SIGNATURE_INVALID', 'ERR_TOKEN_MISSING', 'ERR_AUTHORIZATION_MALFORMED']);
    expect(outcome(new HookedGuard(acceptsAll, new Reflector(), options, new TokenRejections()), 'Token a.b.c')).toBe(true);
  });
});
