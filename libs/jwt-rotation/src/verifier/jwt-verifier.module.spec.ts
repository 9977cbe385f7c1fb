import { Injectable, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtGuard } from '../http/jwt.guard';
import { JwtRotationModule } from '../jwt-rotation.module';
import { KeyRotationService } from '../keys/key-rotation.service';
import { RemoteJwksKeySource } from '../keys/remote-jwks.key-source';
import { SessionService } from '../sessions/session.service';
import { TokenService } from '../tokens/token.service';
import type { JwtVerifierModuleOptions } from './jwt-verifier.options';

// Port 1 on loopback refuses at once: the module must start without its issuer's keys.
const OPTIONS: JwtVerifierModuleOptions = {
  issuers: [{ issuer: 'https://auth.example.com/', jwksUri: 'http://127.0.0.1:1/jwks', audience: 'https://api.example.com' }],
};

@Injectable()
class VerifierConfig {
  createJwtVerifierOptions(): JwtVerifierModuleOptions {
    return OPTIONS;
  }
}

@Module({ providers: [VerifierConfig], exports: [VerifierConfig] })
class ConfigModule {}

describe('JwtRotationModule.forVerifier', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn']));

  it.each([
    ['forVerifier', () => JwtRotationModule.forVerifier(OPTIONS)],
    ['forVerifierAsync with useFactory', () => JwtRotationModule.forVerifierAsync({ useFactory: () => OPTIONS })],
    ['forVerifierAsync with useClass', () => JwtRotationModule.forVerifierAsync({ useClass: VerifierConfig })],
    [
      'forVerifierAsync with useExisting',
      () => JwtRotationModule.forVerifierAsync({ imports: [ConfigModule], useExisting: VerifierConfig }),
    ],
  ])('%s registers what verifying needs and nothing an issuer has', async (_, module) => {
    const moduleRef = await Test.createTestingModule({ imports: [module()] }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    try {
      expect(moduleRef.get(TokenService)).toBeInstanceOf(TokenService);
      expect(moduleRef.get(JwtGuard)).toBeInstanceOf(JwtGuard);
      expect(moduleRef.get(RemoteJwksKeySource).status()).toMatchObject([{ status: 'unavailable', keys: 0 }]);
      expect(() => moduleRef.get(KeyRotationService)).toThrow();
      expect(() => moduleRef.get(SessionService)).toThrow();
      expect(() => moduleRef.get(TokenService).sign({})).toThrow(TypeError);
    } finally {
      await moduleRef.close();
    }
  });

  it('stops at startup on an invalid option, naming it', async () => {
    const builder = Test.createTestingModule({ imports: [JwtRotationModule.forVerifierAsync({ useFactory: () => ({ issuers: [] }) })] });
    await expect(builder.compile()).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });
});
