import { Claims, JwtGuard, KeyRotationService, Public, Roles, RolesGuard, TokenService, type VerifiedClaims } from '@app/jwt-rotation';
import { CacheModule } from '@nestjs/cache-manager';
import { type CanActivate, Controller, Get, type INestApplication, Injectable, type Provider, UseGuards } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { JwtRotationModule } from '../libs/jwt-rotation/src/jwt-rotation.module';
import {
  INVALID_TOKEN_CODES,
  INVALID_TOKEN_REASONS,
  JwtRotationTestingModule,
  JwtTestTokens,
  stubJwtGuard,
  TEST_ISSUER,
  TestClock,
} from '../libs/jwt-rotation/src/testing';
import { parseChallenge } from './support/http';

@Controller()
class RoutesController {
  @Get('me')
  me(@Claims() claims: VerifiedClaims): VerifiedClaims {
    return claims;
  }

  @UseGuards(RolesGuard)
  @Roles('admin')
  @Get('admin')
  admin(): { ok: true } {
    return { ok: true };
  }

  @Public()
  @Get('open')
  open(): { open: true } {
    return { open: true };
  }
}

/** The same routes, guarded per route instead of by an APP_GUARD. */
@Controller('per-route')
@UseGuards(JwtGuard)
class PerRouteController {
  @Get('me')
  me(@Claims('sub') sub: string): { sub: string } {
    return { sub };
  }
}

@Injectable()
class AllowAll implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

const AUDIENCES = { default: TEST_ISSUER, api: `${TEST_ISSUER}/api` };

describe('nest-jwt-rotation/testing', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function start(
    guard: Provider | undefined,
    options = {},
    adjust = (builder: TestingModuleBuilder) => builder,
  ): Promise<INestApplication> {
    // No ScheduleModule, no CacheModule, no Redis: the testing module brings what it needs.
    const builder = Test.createTestingModule({
      imports: [JwtRotationTestingModule.forRoot({ audiences: AUDIENCES, ...options })],
      controllers: guard ? [RoutesController] : [PerRouteController],
      providers: guard ? [guard] : [],
    });
    const moduleRef = await adjust(builder).compile();
    moduleRef.useLogger(false);
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return app;
  }

  const appGuard: Provider = { provide: APP_GUARD, useClass: JwtGuard };

  it('serves guarded routes to a minted token with no Redis, CacheModule or ScheduleModule, and to nobody else', async () => {
    const app = await start(appGuard);
    const tokens = app.get(JwtTestTokens);
    const me = await request(app.getHttpServer())
      .get('/me')
      .set(tokens.authorization({ sub: 'alice', roles: ['admin'] }))
      .expect(200);
    expect(me.body).toMatchObject({ sub: 'alice', roles: ['admin'], iss: TEST_ISSUER, aud: TEST_ISSUER });
    await request(app.getHttpServer())
      .get('/admin')
      .set(tokens.authorization({ sub: 'bob', roles: ['user'] }))
      .expect(403);
    await request(app.getHttpServer()).get('/me').expect(401);
    await request(app.getHttpServer()).get('/open').expect(200);
  });

  it('mints access and refresh tokens that TokenService verifies as such, for the audience asked', async () => {
    const app = await start(appGuard);
    const tokens = app.get(JwtTestTokens);
    const verifier = app.get(TokenService);
    const access = tokens.mintAccessToken({ sub: 'alice', tenant: 't1' }, { audience: 'api', expiresIn: '5m' });
    const claims = verifier.verify(access, { audience: 'api' });
    expect(claims).toMatchObject({ sub: 'alice', tenant: 't1', aud: `${TEST_ISSUER}/api` });
    expect(claims.exp - claims.iat).toBe(300);
    expect(verifier.verify(tokens.mintRefreshToken({ sub: 'alice' }), { kind: 'refresh' }).sub).toBe('alice');
    expect(() => verifier.verify(tokens.mintRefreshToken({ sub: 'alice' }))).toThrow(
      expect.objectContaining({ code: 'ERR_JWT_TYPE_INVALID' }),
    );
  });

  it.each(INVALID_TOKEN_REASONS)(
    'makes a %s token that verify refuses with its code and the guard with a 401 invalid_token',
    async (reason) => {
      const app = await start(appGuard);
      const token = app.get(JwtTestTokens).mintInvalidToken(reason, { sub: 'alice' });
      expect(() => app.get(TokenService).verify(token)).toThrow(expect.objectContaining({ code: INVALID_TOKEN_CODES[reason] }));
      const response = await request(app.getHttpServer()).get('/me').auth(token, { type: 'bearer' }).expect(401);
      expect(parseChallenge(response.headers['www-authenticate'] as string).params.error).toBe('invalid_token');
    },
  );

  it('refuses an unknown invalid-token reason with a TypeError', async () => {
    const app = await start(appGuard);
    expect(() => app.get(JwtTestTokens).mintInvalidToken('nonsense' as never)).toThrow(TypeError);
  });

  it('TestClock: a token expires when the clock passes its lifetime, and the key ring rotates as it would have', async () => {
    const app = await start(appGuard, { accessTokenTtl: '15m', rotationInterval: '1d' });
    const clock = app.get(TestClock);
    const tokens = app.get(JwtTestTokens);
    const keys = app.get(KeyRotationService);
    const token = tokens.mintAccessToken({ sub: 'alice' });
    const before = (await keys.listKeys()).find((key) => key.status === 'current')?.kid;
    const realBefore = Date.now();

    await clock.advance('16m');
    expect(clock.now() - realBefore).toBeGreaterThanOrEqual(16 * 60_000);
    await request(app.getHttpServer()).get('/me').auth(token, { type: 'bearer' }).expect(401);

    await clock.advance('1d');
    const after = await keys.listKeys();
    const current = after.find((key) => key.status === 'current')?.kid;
    expect(current).toBeDefined();
    expect(current).not.toBe(before);
    expect(after.find((key) => key.kid === before)?.status).toBe('retired');
    // The next key signs and verifies at the new time.
    await request(app.getHttpServer())
      .get('/me')
      .set(tokens.authorization({ sub: 'alice' }))
      .expect(200);

    clock.restore();
    expect(Math.abs(Date.now() - realBefore)).toBeLessThan(60_000);
  });

  it('TestClock: closing the app puts the real clock back', async () => {
    const app = await start(appGuard);
    const realNow = Date.now;
    await app.get(TestClock).advance('2h');
    expect(Date.now).not.toBe(realNow);
    await app.close();
    expect(Date.now).toBe(realNow);
  });

  describe('stubJwtGuard', () => {
    const registrations: Array<[string, Provider | undefined]> = [
      ['@UseGuards(JwtGuard) per route', undefined],
      ['APP_GUARD with useClass', appGuard],
      ['APP_GUARD with useExisting', { provide: APP_GUARD, useExisting: JwtGuard }],
    ];

    it.each(registrations)('lets requests in without a token as the stub identity, guard registered with %s', async (_, guard) => {
      const app = await start(guard);
      const path = guard ? '/me' : '/per-route/me';
      await request(app.getHttpServer()).get(path).expect(401);
      const restore = stubJwtGuard(app, { sub: 'stubbed', roles: ['admin'] });
      const response = await request(app.getHttpServer()).get(path).expect(200);
      expect(response.body).toMatchObject(guard ? { sub: 'stubbed', roles: ['admin'], iss: TEST_ISSUER } : { sub: 'stubbed' });
      restore();
      await request(app.getHttpServer()).get(path).expect(401);
    });

    it('keeps RolesGuard on the stub claims, and lets the real guard decide when the identity function returns undefined', async () => {
      const app = await start(appGuard);
      stubJwtGuard(app, (req) => (req.headers['x-test-user'] === 'bob' ? { sub: 'bob', roles: ['user'] } : undefined));
      await request(app.getHttpServer()).get('/admin').set('x-test-user', 'bob').expect(403);
      const refused = await request(app.getHttpServer()).get('/me').expect(401);
      expect(refused.headers['www-authenticate']).toMatch(/^Bearer realm=/);
      await request(app.getHttpServer())
        .get('/me')
        .set(app.get(JwtTestTokens).authorization({ sub: 'alice' }))
        .expect(200);
    });

    it('is needed because overrideGuard(JwtGuard) does not reach an APP_GUARD registered with useClass', async () => {
      const app = await start(appGuard, {}, (builder) => builder.overrideGuard(JwtGuard).useClass(AllowAll));
      await request(app.getHttpServer()).get('/me').expect(401);
    });
  });

  it('JwtTestTokens.from() mints for an app built with JwtRotationModule itself', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CacheModule.register({ isGlobal: true }),
        JwtRotationModule.forRoot({ issuer: 'https://real.test', isGlobal: true }),
      ],
      controllers: [RoutesController],
      providers: [appGuard],
    }).compile();
    moduleRef.useLogger(false);
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const tokens = JwtTestTokens.from(app);
    await request(app.getHttpServer())
      .get('/me')
      .set(tokens.authorization({ sub: 'alice' }))
      .expect(200);
    await request(app.getHttpServer()).get('/me').auth(tokens.mintInvalidToken('expired'), { type: 'bearer' }).expect(401);
  });
});
