import { CacheModule } from '@nestjs/cache-manager';
import { Injectable, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { createKeyv } from '@keyv/redis';
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { ConfigurationError, KeyDecryptionError } from './errors';
import { JwtRotationModule } from './jwt-rotation.module';
import type { JwtRotationModuleOptions } from './jwt-rotation.options';
import { KeyRotationService } from './keys/key-rotation.service';
import { TokenService } from './tokens/token.service';

const issuer = 'https://issuer.test';

@Injectable()
class OptionsFactory {
  createJwtRotationOptions(): JwtRotationModuleOptions {
    return { issuer, accessTokenTtl: '5m' };
  }
}
@Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
class OptionsFactoryModule {}

@Injectable()
class Settings {
  readonly issuer = issuer;
}
@Module({ providers: [Settings], exports: [Settings] })
class SettingsModule {}

const base = [ScheduleModule.forRoot(), CacheModule.register({ isGlobal: true })];

async function boot(imports: unknown[]) {
  const moduleRef = await Test.createTestingModule({ imports: imports as never[] }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return moduleRef;
}

async function signsAndVerifies(imports: unknown[]): Promise<void> {
  const moduleRef = await boot(imports);
  try {
    const tokens = moduleRef.get(TokenService);
    expect(tokens.verify(tokens.sign({}, { subject: 'alice' })).sub).toBe('alice');
  } finally {
    await moduleRef.close();
  }
}

async function startupError(imports: unknown[]): Promise<Error> {
  try {
    const moduleRef = await boot(imports);
    await moduleRef.close();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected startup to fail');
}

describe('JwtRotationModule', () => {
  it('forRoot', () => signsAndVerifies([...base, JwtRotationModule.forRoot({ issuer })]));

  it('forRootAsync with useFactory and inject', () =>
    signsAndVerifies([
      ...base,
      JwtRotationModule.forRootAsync({
        imports: [SettingsModule],
        inject: [Settings],
        useFactory: (s: Settings) => ({ issuer: s.issuer }),
      }),
    ]));

  it('forRootAsync with useClass', () => signsAndVerifies([...base, JwtRotationModule.forRootAsync({ useClass: OptionsFactory })]));

  it('forRootAsync with useExisting', () =>
    signsAndVerifies([...base, JwtRotationModule.forRootAsync({ imports: [OptionsFactoryModule], useExisting: OptionsFactory })]));

  it('isGlobal makes TokenService injectable everywhere', async () => {
    @Injectable()
    class Consumer {
      constructor(readonly tokens: TokenService) {}
    }
    @Module({ providers: [Consumer] })
    class FeatureModule {}
    const moduleRef = await boot([...base, JwtRotationModule.forRoot({ issuer, isGlobal: true }), FeatureModule]);
    expect(moduleRef.get(Consumer).tokens).toBeInstanceOf(TokenService);
    await moduleRef.close();
  });

  it('stops startup on invalid options, naming each option', async () => {
    const error = await startupError([...base, JwtRotationModule.forRoot({ issuer, algorithm: 'RS1' as never, secretLength: 8 })]);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toMatch(/algorithm must be one of/);
  });

  it('stops startup on invalid async options too', async () => {
    const error = await startupError([
      ...base,
      JwtRotationModule.forRootAsync({ useFactory: () => ({ issuer, audiences: { api: 'x' } }) }),
    ]);
    expect((error as ConfigurationError).code).toBe('ERR_CONFIG_INVALID');
    expect(error.message).toMatch(/"default"/);
  });

  it('names ScheduleModule.forRoot() when it is missing', async () => {
    const error = await startupError([CacheModule.register({ isGlobal: true }), JwtRotationModule.forRoot({ issuer })]);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('ScheduleModule.forRoot()');
  });

  it('names CacheModule when it is missing', async () => {
    const error = await startupError([ScheduleModule.forRoot(), JwtRotationModule.forRoot({ issuer })]);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('CacheModule.register({ isGlobal: true })');
  });

  describe('on Redis', () => {
    const redis = () => [ScheduleModule.forRoot(), CacheModule.register({ isGlobal: true, stores: [createKeyv(inject('redisUrl'))] })];
    const secret = 'a-key-encryption-secret-of-at-least-32-chars';

    it('requires keyEncryptionSecret for a shared store', async () => {
      const error = await startupError([...redis(), JwtRotationModule.forRoot({ issuer })]);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toContain('keyEncryptionSecret is required');
    });

    it('shares one key ring between two instances, and refuses a wrong secret at startup', async () => {
      const keyPrefix = `spec-${randomBytes(4).toString('hex')}`;
      const first = await boot([...redis(), JwtRotationModule.forRoot({ issuer, keyPrefix, keyEncryptionSecret: secret })]);
      const second = await boot([...redis(), JwtRotationModule.forRoot({ issuer, keyPrefix, keyEncryptionSecret: secret })]);
      try {
        const token = first.get(TokenService).sign({}, { subject: 'alice' });
        expect(second.get(TokenService).verify(token).sub).toBe('alice');
        const kids = async (m: typeof first) => (await m.get(KeyRotationService).listKeys()).map((k) => `${k.kid}:${k.status}`);
        expect(await kids(second)).toEqual(await kids(first));
        const error = await startupError([
          ...redis(),
          JwtRotationModule.forRoot({ issuer, keyPrefix, keyEncryptionSecret: `${secret}-wrong` }),
        ]);
        expect(error).toBeInstanceOf(KeyDecryptionError);
        expect(error.message).toContain('keyEncryptionSecret');
        expect(error.message).not.toContain(secret);
      } finally {
        await first.close();
        await second.close();
      }
    });

    it('after a change of algorithm, signs with the new one at once and still verifies the old tokens', async () => {
      const keyPrefix = `spec-${randomBytes(4).toString('hex')}`;
      const before = await boot([...redis(), JwtRotationModule.forRoot({ issuer, keyPrefix, keyEncryptionSecret: secret })]);
      const hmacToken = before.get(TokenService).sign({}, { subject: 'alice' });
      await before.close();
      const after = await boot([
        ...redis(),
        JwtRotationModule.forRoot({ issuer, keyPrefix, keyEncryptionSecret: secret, algorithm: 'ES256' }),
      ]);
      try {
        const tokens = after.get(TokenService);
        expect(tokens.decode(tokens.sign({})).header.alg).toBe('ES256');
        expect(tokens.verify(hmacToken).sub).toBe('alice');
      } finally {
        await after.close();
      }
    });

    it('ten instances starting at once agree on one current key', async () => {
      const keyPrefix = `spec-${randomBytes(4).toString('hex')}`;
      const modules = await Promise.all(
        Array.from({ length: 10 }, () => boot([...redis(), JwtRotationModule.forRoot({ issuer, keyPrefix, keyEncryptionSecret: secret })])),
      );
      try {
        const currents = await Promise.all(modules.map((m) => m.get(TokenService).decode(m.get(TokenService).sign({})).header.kid));
        expect(new Set(currents).size).toBe(1);
        const keys = await modules[0].get(KeyRotationService).listKeys();
        expect(keys.map((k) => k.status).sort()).toEqual(['current', 'next', 'next']);
      } finally {
        await Promise.all(modules.map((m) => m.close()));
      }
    });
  });
});
