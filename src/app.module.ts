import { JwksController, JwtGuard, JwtRotationExceptionFilter, JwtRotationModule } from '@app/jwt-rotation';
import { createKeyv } from '@keyv/redis';
import { CacheModule } from '@nestjs/cache-manager';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { JwtRotationHealthIndicator } from '@app/jwt-rotation/health';
import { KeysController } from './admin/keys.controller';
import { AdminController } from './admin/admin.controller';
import type { AppConfig } from './app.config';
import { ArticlesController } from './articles/articles.controller';
import { AuthController } from './auth/auth.controller';
import { HealthController } from './health.controller';
import { MeController } from './me.controller';
import { UsersService } from './users/users.service';

/** The routes that only read a verified token; a verify-only instance serves just these. */
const VERIFYING_CONTROLLERS = [MeController, AdminController, ArticlesController, HealthController];

@Module({})
export class AppModule {
  static register(config: AppConfig): DynamicModule {
    if (config.jwksUri) return AppModule.verifyOnly(config, config.jwksUri);
    return {
      module: AppModule,
      imports: [
        TerminusModule,
        ScheduleModule.forRoot(),
        CacheModule.register({
          isGlobal: true,
          ...(config.redisUrl ? { stores: [createKeyv(config.redisUrl, { throwOnErrors: true })] } : {}),
        }),
        JwtRotationModule.forRoot({
          issuer: config.issuer,
          audiences: { default: config.issuer, api: `${config.issuer}/api` },
          algorithm: config.algorithm,
          rotationInterval: config.rotationInterval,
          accessTokenTtl: config.accessTokenTtl,
          refreshTokenTtl: config.refreshTokenTtl,
          clockTolerance: config.clockTolerance,
          keyEncryptionSecret: config.keyEncryptionSecret,
          keyPrefix: config.keyPrefix,
          refreshReuseInterval: config.refreshReuseInterval,
          sessionIdleTimeout: config.sessionIdleTimeout,
          sessionMaxLifetime: config.sessionMaxLifetime,
        }),
      ],
      controllers: [AuthController, KeysController, JwksController, ...VERIFYING_CONTROLLERS],
      // Every route needs a valid access token unless it is marked @Public().
      providers: [
        UsersService,
        JwtRotationHealthIndicator,
        { provide: APP_GUARD, useClass: JwtGuard },
        // Invalid or reused refresh tokens → 401, an unreachable store → 503.
        { provide: APP_FILTER, useClass: JwtRotationExceptionFilter },
      ],
    };
  }

  /** A service that only consumes the issuer's tokens: keys from its JWKS, nothing signed, no store. */
  private static verifyOnly(config: AppConfig, jwksUri: string): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TerminusModule,
        JwtRotationModule.forRoot({
          issuer: config.issuer,
          audiences: { default: config.issuer, api: `${config.issuer}/api` },
          clockTolerance: config.clockTolerance,
          verifyOnly: { jwksUri, refreshInterval: config.jwksRefreshInterval },
        }),
      ],
      controllers: VERIFYING_CONTROLLERS,
      providers: [
        JwtRotationHealthIndicator,
        { provide: APP_GUARD, useClass: JwtGuard },
        { provide: APP_FILTER, useClass: JwtRotationExceptionFilter },
      ],
    };
  }
}
