import {
  IssuerMetadataController,
  JwksController,
  JwtGuard,
  JwtRotationExceptionFilter,
  JwtRotationModule,
  type TrustedIssuerOptions,
} from '@app/jwt-rotation';
import { createKeyv } from '@keyv/redis';
import { CacheModule } from '@nestjs/cache-manager';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
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
    if (config.jwksUri || config.trustIssuer) return AppModule.verifier(config);
    return {
      module: AppModule,
      imports: [
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
      controllers: [AuthController, KeysController, JwksController, IssuerMetadataController, ...VERIFYING_CONTROLLERS],
      // Every route needs a valid access token unless it is marked @Public().
      providers: [
        UsersService,
        { provide: APP_GUARD, useClass: JwtGuard },
        // Invalid or reused refresh tokens → 401, an unreachable store → 503.
        { provide: APP_FILTER, useClass: JwtRotationExceptionFilter },
      ],
    };
  }

  /**
   * A service that only consumes tokens: the example issuer's (JWT_JWKS_URI, keys from its JWKS) or a
   * foreign identity provider's (JWT_TRUST_ISSUER, found by discovery, claims read as JWT_TRUST_PRESET says).
   */
  private static verifier(config: AppConfig): DynamicModule {
    const issuer: TrustedIssuerOptions = config.trustIssuer
      ? {
          issuer: config.trustIssuer,
          preset: config.trustPreset,
          audience: config.trustAudience ?? '',
          refreshInterval: config.jwksRefreshInterval,
        }
      : {
          issuer: config.issuer,
          jwksUri: config.jwksUri,
          audience: { default: config.issuer, api: `${config.issuer}/api` },
          // The example issuer's own tokens: roles and permissions in claims of those names, a jti in each.
          claims: { roles: 'roles', permissions: 'permissions', requireJti: true },
          refreshInterval: config.jwksRefreshInterval,
        };
    return {
      module: AppModule,
      imports: [JwtRotationModule.forVerifier({ issuers: [issuer], clockTolerance: config.clockTolerance })],
      controllers: VERIFYING_CONTROLLERS,
      providers: [
        { provide: APP_GUARD, useClass: JwtGuard },
        { provide: APP_FILTER, useClass: JwtRotationExceptionFilter },
      ],
    };
  }
}
