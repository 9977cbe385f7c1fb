import { IssuerMetadataController, JwksController, JwtGuard, JwtRotationModule, type TrustedIssuerOptions } from '@app/jwt-rotation';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { CacheModule } from '@nestjs/cache-manager';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { JwtRotationHealthIndicator } from '@app/jwt-rotation/health';
import { KeysController } from './admin/keys.controller';
import { AdminController } from './admin/admin.controller';
import type { AppConfig } from './app.config';
import { ArticlesController } from './articles/articles.controller';
import { AuthController } from './auth/auth.controller';
import { CookieAuthController } from './auth/cookie-auth.controller';
import { PageController } from './browser/page.controller';
import { EventsGateway } from './events/events.gateway';
import { ArticlesResolver, MeResolver, TYPE_DEFS } from './graphql/articles.resolver';
import { HealthController } from './health.controller';
import { VerifierHealthController } from './verifier-health.controller';
import { createRedisCacheStore } from './redis-cache-store';
import { MeController } from './me.controller';
import { UsersService } from './users/users.service';

/** The routes that only read a verified token; a verify-only instance serves just these. */
const VERIFYING_CONTROLLERS = [MeController, AdminController, ArticlesController];

@Module({})
export class AppModule {
  static register(config: AppConfig): DynamicModule {
    if (config.jwksUri || config.trustIssuer) return AppModule.verifier(config);
    return {
      module: AppModule,
      imports: [
        TerminusModule,
        ScheduleModule.forRoot(),
        CacheModule.register({
          isGlobal: true,
          ...(config.redisUrl ? { stores: [createRedisCacheStore(config.redisUrl)] } : {}),
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
          // Browser sessions in httpOnly cookies (the page at /); the refresh cookie goes only to /auth/cookie.
          cookies: { refreshPath: '/auth/cookie', ...(config.cookieSecure === false ? { secure: false } : {}) },
          maxSessionsPerSubject: config.maxSessionsPerSubject,
        }),
        GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          typeDefs: TYPE_DEFS,
          path: '/graphql',
          // The HTTP request is where JwtGuard finds the token and puts the claims.
          context: ({ req }: { req: unknown }) => ({ req }),
          // Guards on @ResolveField() too (RolesGuard on Me.adminNote).
          fieldResolverEnhancers: ['guards'],
        }),
      ],
      controllers: [
        AuthController,
        CookieAuthController,
        PageController,
        KeysController,
        JwksController,
        IssuerMetadataController,
        HealthController,
        ...VERIFYING_CONTROLLERS,
      ],
      // Every route, resolver and gateway message needs a valid access token unless it is marked
      // @Public(). Invalid or reused refresh tokens (401) and an unreachable store (503) are mapped
      // by the filter JwtRotationModule registers itself.
      providers: [
        UsersService,
        MeResolver,
        ArticlesResolver,
        EventsGateway,
        JwtRotationHealthIndicator,
        { provide: APP_GUARD, useClass: JwtGuard },
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
      controllers: [VerifierHealthController, ...VERIFYING_CONTROLLERS],
      providers: [{ provide: APP_GUARD, useClass: JwtGuard }],
    };
  }
}
