import type { ExecutionContext, INestApplicationContext } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import type { RequestWithClaims } from '../http/claims.decorator';
import { JwtGuard } from '../http/jwt.guard';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import type { VerifiedClaims } from '../tokens/token.types';
import type { TestClaims } from './test-tokens';

/** Who a stubbed guard lets in: fixed claims, or claims per request (`undefined`: the real guard decides). */
export type StubIdentity = TestClaims | ((request: RequestWithClaims & { headers: Record<string, unknown> }) => TestClaims | undefined);

/**
 * Makes every `JwtGuard` of an app (subclasses included) let requests in as the given identity,
 * without a token, until the returned function is called. It works however the guard was
 * registered — `@UseGuards(JwtGuard)`, `{ provide: APP_GUARD, useClass: JwtGuard }` or
 * `useExisting` — because it stubs the guard instances the app made rather than a DI token:
 * `overrideGuard(JwtGuard)` replaces only the per-route guard, and an `APP_GUARD` registered with
 * `useClass` is a provider of its own that no override token reaches. Call it on the compiled
 * module (or the app) before the first request. `request.user` gets the claims with `iss`, `aud`,
 * `iat`, `nbf`, `exp` and `jti` filled in as a real token would have them. Other guards (`RolesGuard`, `PermissionsGuard`) still run on those claims.
 *
 * Prefer real tokens ({@link JwtTestTokens}) where you can: they test the guard too.
 * @example
 * ```ts
 * const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
 * const restore = stubJwtGuard(moduleRef, { sub: 'alice', roles: ['admin'] });
 * ```
 * @returns a function that puts the real guards back.
 */
export function stubJwtGuard(app: INestApplicationContext, identity: StubIdentity): () => void {
  const options = app.get<ResolvedJwtRotationOptions>(JWT_ROTATION_OPTIONS, { strict: false });
  const guards = new Set<JwtGuard>();
  for (const moduleRef of app.get(ModulesContainer).values()) {
    for (const wrapper of [...moduleRef.providers.values(), ...moduleRef.injectables.values()]) {
      const instance: unknown = wrapper.instance;
      if (instance instanceof JwtGuard) guards.add(instance);
    }
  }
  if (guards.size === 0) throw new Error('stubJwtGuard(): the app holds no JwtGuard instance; call it on the compiled module');
  const resolve = typeof identity === 'function' ? identity : () => identity;
  for (const guard of guards) {
    const real = guard.canActivate.bind(guard);
    const stub = (context: ExecutionContext): boolean | Promise<boolean> => {
      const request = context.switchToHttp().getRequest<RequestWithClaims & { headers: Record<string, unknown> }>();
      const claims = resolve(request);
      // No identity for this request: the real guard decides (a real token, @Public(), or its 401).
      if (claims === undefined) return real(context);
      request.user = stubClaims(claims, options);
      return true;
    };
    Object.defineProperty(guard, 'canActivate', { value: stub, configurable: true, writable: true });
  }
  return () => {
    for (const guard of guards) delete (guard as { canActivate?: unknown }).canActivate;
  };
}

function stubClaims(claims: TestClaims, options: ResolvedJwtRotationOptions): VerifiedClaims {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: options.issuer,
    aud: options.audiences.default,
    iat: now,
    nbf: now,
    exp: now + Math.ceil(options.accessTokenTtlMs / 1000),
    jti: randomBytes(16).toString('base64url'),
    ...claims,
  };
}
