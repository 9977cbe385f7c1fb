import { CacheModule } from '@nestjs/cache-manager';
import { type DynamicModule, Module } from '@nestjs/common';
import { JwtRotationModule } from '../jwt-rotation.module';
import type { JwtRotationModuleOptions } from '../jwt-rotation.options';
import { TestClock } from './test-clock';
import { JwtTestTokens } from './test-tokens';

/** The issuer of tokens minted by {@link JwtRotationTestingModule} unless `issuer` is given. */
export const TEST_ISSUER = 'https://issuer.test';

/**
 * `JwtRotationModule` for tests: global, on a private in-memory store, with no reconcile timer,
 * so it needs no Redis, no `CacheModule` and no `ScheduleModule`. Adds {@link JwtTestTokens}
 * (mint valid and invalid tokens) and {@link TestClock} (move time; the key ring follows).
 * Every option of `JwtRotationModule.forRoot` may be given; `issuer` defaults to
 * {@link TEST_ISSUER} and `scheduleRotation` is always `false`.
 * @example
 * ```ts
 * const moduleRef = await Test.createTestingModule({
 *   imports: [JwtRotationTestingModule.forRoot({ audiences: { default: TEST_ISSUER, api: `${TEST_ISSUER}/api` } })],
 *   controllers: [MeController],
 * }).compile();
 * ```
 */
@Module({})
export class JwtRotationTestingModule {
  static forRoot(options: Partial<JwtRotationModuleOptions> = {}): DynamicModule {
    return {
      module: JwtRotationTestingModule,
      global: true,
      imports: [
        JwtRotationModule.forRootAsync({
          isGlobal: true,
          imports: [CacheModule.register()],
          useFactory: (): JwtRotationModuleOptions => ({ issuer: TEST_ISSUER, ...options, scheduleRotation: false }),
        }),
      ],
      providers: [TestClock, JwtTestTokens],
      exports: [TestClock, JwtTestTokens],
    };
  }
}
