import { CacheModule } from '@nestjs/cache-manager';
import { Test, type TestingModule } from '@nestjs/testing';
import { ScheduleModule } from '@nestjs/schedule';
import { JwtRotationModule } from '../jwt-rotation.module';
import type { JwtRotationModuleOptions } from '../jwt-rotation.options';

export const TEST_ISSUER = 'https://issuer.test';

/** A compiled and initialised module holding the library on the in-memory store (spec helper). */
export async function createTestModule(options: Partial<JwtRotationModuleOptions> = {}): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      CacheModule.register({ isGlobal: true }),
      JwtRotationModule.forRoot({ issuer: TEST_ISSUER, audiences: { default: TEST_ISSUER, api: `${TEST_ISSUER}/api` }, ...options }),
    ],
  }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return moduleRef;
}
