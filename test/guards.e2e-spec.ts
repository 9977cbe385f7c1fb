import {
  Audience,
  Claims,
  JwtGuard,
  JwtRotationModule,
  Permissions,
  PermissionsGuard,
  Public,
  Roles,
  RolesGuard,
  TokenService,
  type VerifiedClaims,
} from '@app/jwt-rotation';
import { createKeyv } from '@keyv/redis';
import { CacheModule } from '@nestjs/cache-manager';
import { Controller, Get, type INestApplication, Injectable, Module, type DynamicModule, UseGuards } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import request, { type Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type StoreKind, STORES } from './support/example-app';
import { bearer, parseChallenge } from './support/http';

const ISSUER = 'https://t.test';

/** Per-route guards only: no APP_GUARD anywhere in this module. */
@Controller('guarded')
@UseGuards(JwtGuard)
class GuardedController {
  @Get('sub')
  sub(@Claims('sub') sub: string): { sub: string } {
    return { sub };
  }

  @Get('claims')
  claims(@Claims() claims: VerifiedClaims): VerifiedClaims {
    return claims;
  }

  @UseGuards(RolesGuard)
  @Roles('admin', 'editor')
  @Get('roles')
  roles(): { ok: true } {
    return { ok: true };
  }

  @UseGuards(PermissionsGuard)
  @Permissions('articles:read', 'articles:write')
  @Get('permissions')
  permissions(): { ok: true } {
    return { ok: true };
  }

  @Public()
  @Get('public')
  open(): { open: true } {
    return { open: true };
  }
}

@Controller('api')
@Audience('api')
@UseGuards(JwtGuard)
class ApiController {
  @Get('ping')
  ping(@Claims('sub') sub: string): { pong: string } {
    return { pong: sub };
  }

  /** A route-level @Audience wins over the class one. */
  @Audience('default')
  @Get('default')
  fallback(): { ok: true } {
    return { ok: true };
  }
}

/** The documented extension point: a subclass that reads the token from its own header. */
@Injectable()
class HeaderTokenGuard extends JwtGuard {
  protected override extractToken(request: { headers: Record<string, string | string[] | undefined> }): string | undefined {
    const token = request.headers['x-access-token'];
    return typeof token === 'string' ? token : undefined;
  }
}

@Controller('custom')
@UseGuards(HeaderTokenGuard)
class CustomExtractionController {
  @Get()
  sub(@Claims('sub') sub: string): { sub: string } {
    return { sub };
  }
}

@Controller('open')
class OpenController {
  @Get()
  open(): { open: true } {
    return { open: true };
  }
}

/** RolesGuard without JwtGuard in front of it: there are never claims to check. */
@Controller('roles-only')
class RolesOnlyController {
  @UseGuards(RolesGuard)
  @Roles('admin')
  @Get()
  get(): { ok: true } {
    return { ok: true };
  }
}

@Module({})
class GuardsTestModule {
  static register(store: StoreKind): DynamicModule {
    const redis = store === 'redis';
    return {
      module: GuardsTestModule,
      imports: [
        ScheduleModule.forRoot(),
        CacheModule.register({ isGlobal: true, ...(redis ? { stores: [createKeyv(inject('redisUrl'))] } : {}) }),
        JwtRotationModule.forRoot({
          issuer: ISSUER,
          audiences: { default: ISSUER, api: `${ISSUER}/api` },
          keyPrefix: `test-guards-${randomBytes(6).toString('hex')}`,
          ...(redis ? { keyEncryptionSecret: 'a-test-key-encryption-secret-of-32+chars' } : {}),
        }),
      ],
      controllers: [GuardedController, ApiController, OpenController, RolesOnlyController, CustomExtractionController],
    };
  }
}

type Platform = 'express' | 'fastify';

/** `@nestjs/platform-fastify` is an optional dev dependency here: Fastify runs only where it is installed. */
const FASTIFY_PACKAGE: string = '@nestjs/platform-fastify';
const FASTIFY_INSTALLED = (() => {
  try {
    createRequire(join(process.cwd(), 'package.json')).resolve(FASTIFY_PACKAGE);
    return true;
  } catch {
    return false;
  }
})();

/** Asserts the status, with the body in the failure message. */
function expectStatus(response: Response, status: number): Response {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  return response;
}

const CASES = STORES.flatMap((store) => (['express', 'fastify'] as const).map((platform): [StoreKind, Platform] => [store, platform]));

describe.each(CASES)('per-route guards on the %s store, %s', (store, platform) => {
  let app: INestApplication;
  let tokens: TokenService;
  const http = () => request(app.getHttpServer());
  const sign = (claims: Record<string, unknown>, audience?: string) => tokens.signAsync(claims, { subject: 'carol', audience });
  /** GET with a freshly signed token carrying `claims` (no token when `claims` is undefined). */
  const get = async (path: string, claims?: Record<string, unknown>, audience?: string): Promise<Response> => {
    const token = claims === undefined ? undefined : await sign(claims, audience);
    const req = http().get(path);
    return token === undefined ? req : req.set('Authorization', bearer(token));
  };

  beforeAll(async () => {
    if (platform === 'fastify' && !FASTIFY_INSTALLED) return;
    const moduleRef = await Test.createTestingModule({ imports: [GuardsTestModule.register(store)] }).compile();
    moduleRef.useLogger(false);
    if (platform === 'fastify') {
      const { FastifyAdapter } = (await import(FASTIFY_PACKAGE)) as { FastifyAdapter: new () => unknown };
      app = moduleRef.createNestApplication(new FastifyAdapter() as never, { logger: false });
      await app.init();
      await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
    } else {
      app = moduleRef.createNestApplication({ logger: false });
      await app.init();
    }
    tokens = app.get(TokenService);
  });
  afterAll(() => app?.close());

  describe.skipIf(platform === 'fastify' && !FASTIFY_INSTALLED)('routes', () => {
    it('gives the handler one claim with @Claims("sub") and all of them with @Claims()', async () => {
      expect(expectStatus(await get('/guarded/sub', {}), 200).body).toEqual({ sub: 'carol' });
      const all = expectStatus(await get('/guarded/claims', { roles: ['x'] }), 200).body as Record<string, unknown>;
      expect(all).toMatchObject({ sub: 'carol', roles: ['x'], iss: ISSUER, aud: ISSUER });
    });

    it('answers 401 with a Bearer challenge on a guarded route without a token', async () => {
      const response = await http().get('/guarded/sub').expect(401);
      expect(parseChallenge(response.headers['www-authenticate']).params).toEqual({ realm: ISSUER });
    });

    it('answers 401 invalid_token for a bad token on a guarded route', async () => {
      const response = await http().get('/guarded/sub').set('Authorization', bearer('a.b.c')).expect(401);
      expect(parseChallenge(response.headers['www-authenticate']).params).toMatchObject({ realm: ISSUER, error: 'invalid_token' });
    });

    it('lets a JwtGuard subclass take the token from elsewhere (extractToken), with the same refusals', async () => {
      const token = await sign({});
      expect(expectStatus(await http().get('/custom').set('X-Access-Token', token), 200).body).toEqual({ sub: 'carol' });
      // The Bearer header is not where this guard looks: a good token there is no credential, a bad one no malformed request.
      expect(
        parseChallenge(expectStatus(await http().get('/custom').set('Authorization', bearer(token)), 401).headers['www-authenticate'])
          .params,
      ).toEqual({ realm: ISSUER });
      const bad = expectStatus(await http().get('/custom').set('X-Access-Token', `${token}x`).set('Authorization', 'Bearer a b'), 401);
      expect(parseChallenge(bad.headers['www-authenticate']).params).toMatchObject({ error: 'invalid_token' });
    });

    it('leaves unguarded routes open, with or without a token', async () => {
      expect((await http().get('/open').expect(200)).body).toEqual({ open: true });
      await http().get('/open').set('Authorization', bearer('a.b.c')).expect(200);
      await http().get('/guarded/public').expect(200);
    });

    describe('@Audience on the controller class', () => {
      it('lets a token of that audience in', async () => {
        expect(expectStatus(await get('/api/ping', {}, 'api'), 200).body).toEqual({ pong: 'carol' });
      });

      it('refuses a default-audience token with 401 invalid_token', async () => {
        const response = expectStatus(await get('/api/ping', {}), 401);
        expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
      });

      it('is overridden by @Audience on the route', async () => {
        expectStatus(await get('/api/default', {}), 200);
        expectStatus(await get('/api/default', {}, 'api'), 401);
      });

      it('does not leak to other controllers', async () => {
        expectStatus(await get('/guarded/sub', {}, 'api'), 401);
      });
    });

    describe('@Roles with RolesGuard requires every listed role', () => {
      it.each([
        ['both roles as an array', ['admin', 'editor']],
        ['both roles and more', ['viewer', 'editor', 'admin']],
      ])('lets %s in', async (_, roles) => {
        expectStatus(await get('/guarded/roles', { roles }), 200);
      });

      it.each([
        ['one of two roles', ['admin']],
        ['one of two roles as a string', 'editor'],
        ['no roles claim', undefined],
        ['an empty roles array', []],
        ['roles as a comma-separated string', 'admin,editor'],
        ['roles in another case', ['ADMIN', 'EDITOR']],
        // Issue 13: only scope-style claims (scope, scp) are space-separated lists; a roles string is one value.
        ['both roles as one space-separated string', 'admin editor'],
        ['both roles in a string with extra spaces', ' editor  admin '],
        ['roles that are not strings', [1, true, { admin: true }]],
        ['roles as an object', { admin: true, editor: true }],
      ])('refuses %s with 403 insufficient_scope', async (_, roles) => {
        const response = expectStatus(await get('/guarded/roles', roles === undefined ? {} : { roles }), 403);
        const challenge = parseChallenge(response.headers['www-authenticate']);
        expect(challenge.params).toMatchObject({ realm: ISSUER, error: 'insufficient_scope' });
      });

      it('answers 401, not 403, without a token', async () => {
        await http().get('/guarded/roles').expect(401);
      });
    });

    describe('@Permissions with PermissionsGuard requires every listed permission', () => {
      it('lets both permissions in as an array, and takes a permissions string for one value (only scope-style claims split)', async () => {
        expectStatus(await get('/guarded/permissions', { permissions: ['articles:write', 'articles:read'] }), 200);
        expectStatus(await get('/guarded/permissions', { permissions: 'articles:read articles:write' }), 403);
      });

      it('refuses one of two permissions with 403 insufficient_scope', async () => {
        const response = expectStatus(await get('/guarded/permissions', { permissions: ['articles:write'] }), 403);
        expect(response.headers['www-authenticate']).toContain('error="insufficient_scope"');
      });

      it('does not take roles for permissions', async () => {
        expectStatus(await get('/guarded/permissions', { roles: ['articles:read', 'articles:write'] }), 403);
      });
    });

    it('makes RolesGuard without JwtGuard refuse with 401 and a Bearer challenge', async () => {
      const response = expectStatus(await get('/roles-only', { roles: ['admin'] }), 401);
      expect(parseChallenge(response.headers['www-authenticate']).params).toEqual({ realm: ISSUER });
    });
  });
});
