import { Controller, Get, type INestApplication, Module, UseGuards } from '@nestjs/common';
import { CacheModule } from '@nestjs/cache-manager';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { JwtRotationModule } from '../jwt-rotation.module';
import { TokenService } from '../tokens/token.service';
import { JwtGuard } from './jwt.guard';
import { type TokenRejection, TokenRejections } from './token-rejections';

@Controller()
class ProbeController {
  @UseGuards(JwtGuard)
  @Get('probe/:id')
  probe(): string {
    return 'ok';
  }
}

@Module({
  imports: [ScheduleModule.forRoot(), CacheModule.register({ isGlobal: true }), JwtRotationModule.forRoot({ issuer: 'https://t.test' })],
  controllers: [ProbeController],
})
class ProbeModule {}

describe('TokenRejections', () => {
  let app: INestApplication;
  let rejections: TokenRejections;
  const seen: TokenRejection[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ProbeModule] }).compile();
    const ignore = () => undefined;
    app = moduleRef.createNestApplication({
      logger: { log: ignore, error: ignore, debug: ignore, verbose: ignore, warn: (message: unknown) => void lines.push(String(message)) },
    });
    await app.init();
    rejections = app.get(TokenRejections);
    rejections.events$.subscribe((r) => seen.push(r));
  });
  afterAll(() => app.close());

  it('emits one structured line and one event per rejection, with code, route and kid, never the token or a claim', async () => {
    const tokens = app.get(TokenService);
    const valid = tokens.sign({ email: 'secret-claim@example.com' }, { subject: 'alice' });
    const kid = tokens.decode(valid).header.kid as string;
    const tampered = `${valid.slice(0, -3)}${valid.at(-3) === 'A' ? 'B' : 'A'}${valid.slice(-2)}`;

    await request(app.getHttpServer()).get('/probe/42?x=1').set('Authorization', `Bearer ${tampered}`).expect(401);
    await request(app.getHttpServer()).get('/probe/43').expect(401);
    await request(app.getHttpServer()).get('/probe/44').set('Authorization', `Bearer ${valid}`).expect(200);

    expect(seen).toEqual([
      { code: 'ERR_JWT_SIGNATURE_INVALID', route: 'GET /probe/:id', kid },
      { code: 'ERR_TOKEN_MISSING', route: 'GET /probe/:id', kid: undefined },
    ]);
    const logged = lines.filter((l) => l.includes('jwt_rejected'));
    expect(logged).toHaveLength(2);
    expect(logged[0]).toContain('{"event":"jwt_rejected","code":"ERR_JWT_SIGNATURE_INVALID","route":"GET /probe/:id","kid":"' + kid + '"}');
    for (const line of logged) {
      expect(line).not.toContain(tampered.split('.')[1]);
      expect(line).not.toContain('secret-claim');
      expect(line).not.toContain('x=1');
    }
    expect(rejections.counts()).toEqual({ ERR_JWT_SIGNATURE_INVALID: 1, ERR_TOKEN_MISSING: 1 });
  });

  it('logs at most 100 lines a second, then one line counting the rest; counts and events miss none', () => {
    const fresh = new TokenRejections();
    const warnings: string[] = [];
    (fresh as unknown as { logger: { warn: (m: string) => void } }).logger = { warn: (m) => void warnings.push(m) };
    const events: TokenRejection[] = [];
    fresh.events$.subscribe((e) => events.push(e));
    vi.useFakeTimers({ toFake: ['Date'], now: 1_000_000 });
    try {
      for (let i = 0; i < 250; i++) fresh.record({ code: 'ERR_JWT_KEY_UNKNOWN', route: 'GET /x', kid: undefined });
      vi.setSystemTime(1_001_000);
      fresh.record({ code: 'ERR_JWT_EXPIRED', route: 'GET /x', kid: undefined });
    } finally {
      vi.useRealTimers();
    }
    expect(warnings.filter((w) => w.includes('"jwt_rejected"'))).toHaveLength(101);
    expect(warnings).toContain('{"event":"jwt_rejected_suppressed","count":150}');
    expect(events).toHaveLength(251);
    expect(fresh.counts()).toEqual({ ERR_JWT_KEY_UNKNOWN: 250, ERR_JWT_EXPIRED: 1 });
  });

  it('logs no kid that is not a plain id', async () => {
    const forged = `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: '"; DROP TABLE keys; --', typ: 'at+jwt' })).toString('base64url')}.e30.c2ln`;
    await request(app.getHttpServer()).get('/probe/1').set('Authorization', `Bearer ${forged}`).expect(401);
    expect(seen.at(-1)).toEqual({ code: 'ERR_JWT_KEY_UNKNOWN', route: 'GET /probe/:id', kid: undefined });
  });
});
