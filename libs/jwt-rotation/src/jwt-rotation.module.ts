import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { APP_FILTER, DiscoveryModule } from '@nestjs/core';
import type { Cache } from 'cache-manager';
import { SessionCookies } from './cookies/session-cookies.service';
import { ConfigurationError } from './errors';
import { PermissionsGuard, RolesGuard } from './http/claim-values.guard';
import { JwtRotationExceptionFilter } from './http/jwt-rotation-exception.filter';
import { JwtGuard } from './http/jwt.guard';
import { RouteChecks } from './http/route-checks';
import { TokenRejections } from './http/token-rejections';
import { JWT_ROTATION_OPTIONS, KEY_ENCRYPTION } from './jwt-rotation.constants';
import { JWT_ROTATION_MODULE_OPTIONS, JwtRotationConfigurableModule } from './jwt-rotation.module-definition';
import { type JwtRotationModuleOptions, resolveOptions, type ResolvedJwtRotationOptions } from './jwt-rotation.options';
import { KeyEncryption } from './keys/key-encryption';
import { KeyRing } from './keys/key-ring';
import { KeyRotationService } from './keys/key-rotation.service';
import { KEY_SOURCE, type KeySource } from './keys/key-source';
import { AuthenticatedStore } from './store/authenticated-store';
import { CacheRotationStore } from './store/cache-rotation-store';
import { ROTATION_STORE } from './store/rotation-store';
import { RevocationView } from './sessions/revocation-view';
import { RevocationService } from './sessions/revocation.service';
import { SessionService } from './sessions/session.service';
import { ClusterEventBus } from './sync/cluster-event-bus';
import { TokenService } from './tokens/token.service';
import { SocketIoAuth } from './transports/socket-io.auth';
import { JwtVerifierModule } from './verifier/jwt-verifier.module';
import type { JWT_VERIFIER_ASYNC_OPTIONS_TYPE, JWT_VERIFIER_OPTIONS_TYPE } from './verifier/jwt-verifier.module-definition';

const providers: Provider[] = [
  {
    // The one place options are validated, for forRoot and every forRootAsync form alike.
    provide: JWT_ROTATION_OPTIONS,
    useFactory: (options: JwtRotationModuleOptions) => resolveOptions(options),
    inject: [JWT_ROTATION_MODULE_OPTIONS],
  },
  {
    provide: ROTATION_STORE,
    useFactory: (options: ResolvedJwtRotationOptions, cache: Cache | undefined) => {
      if (!cache) {
        throw new ConfigurationError([
          'JwtRotationModule needs a CacheModule: add CacheModule.register({ isGlobal: true }) (from @nestjs/cache-manager) to your AppModule imports, ' +
            'or pass it to JwtRotationModule.forRootAsync({ imports: [CacheModule.register()] })',
        ]);
      }
      const store = new CacheRotationStore(cache);
      if (!store.shared) return store;
      if (!options.keyEncryptionSecret) {
        throw new ConfigurationError([
          'keyEncryptionSecret is required when the cache store is shared (Redis or any store other than the in-memory one): ' +
            'set it to the same secret of at least 32 characters on every instance, e.g. from `openssl rand -base64 48`',
        ]);
      }
      // What other processes can write is trusted only when it carries this secret's MAC.
      return new AuthenticatedStore(store, options.keyEncryptionSecret);
    },
    inject: [JWT_ROTATION_OPTIONS, { token: CACHE_MANAGER, optional: true }],
  },
  {
    provide: KEY_ENCRYPTION,
    // ROTATION_STORE has refused a shared store without a secret: an ephemeral key is for a store that dies with this process.
    useFactory: (options: ResolvedJwtRotationOptions) =>
      options.keyEncryptionSecret ? new KeyEncryption(options.keyEncryptionSecret) : KeyEncryption.ephemeral(),
    inject: [JWT_ROTATION_OPTIONS, ROTATION_STORE],
  },
  KeyRing,
  KeyRotationService,
  {
    provide: KEY_SOURCE,
    // A facade, not the service itself: Nest would run the lifecycle hooks of a provider value twice.
    useFactory: (source: KeyRotationService): KeySource => ({
      ready: () => source.ready(),
      reloadForUnknownKid: () => source.reloadForUnknownKid(),
    }),
    inject: [KeyRotationService],
  },
  ClusterEventBus,
  RevocationView,
  RevocationService,
  SessionService,
  SessionCookies,
  TokenService,
  TokenRejections,
  JwtGuard,
  RolesGuard,
  PermissionsGuard,
  SocketIoAuth,
  RouteChecks,
  // The library's own errors (refresh, sessions, store outage) get their 4xx/503, or their
  // transport's equivalent, without the app registering anything; it catches JwtRotationError only.
  { provide: APP_FILTER, useClass: JwtRotationExceptionFilter },
];

/**
 * JWT signing and verification with signing keys that rotate by themselves.
 *
 * Needs `ScheduleModule.forRoot()` and a global `CacheModule` in the app.
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     ScheduleModule.forRoot(),
 *     CacheModule.register({ isGlobal: true }),
 *     JwtRotationModule.forRoot({ issuer: 'https://api.example.com', isGlobal: true }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({
  imports: [DiscoveryModule],
  providers,
  exports: [
    SocketIoAuth,
    JWT_ROTATION_OPTIONS,
    ROTATION_STORE,
    KeyRing,
    KeyRotationService,
    SessionService,
    SessionCookies,
    TokenService,
    TokenRejections,
    JwtGuard,
    RolesGuard,
    PermissionsGuard,
  ],
})
export class JwtRotationModule extends JwtRotationConfigurableModule {
  /**
   * A service that only verifies tokens of trusted issuers: keys from their JWKS, `TokenService.verify`,
   * the guards and decorators. Nothing is signed or stored, so no CacheModule or ScheduleModule is needed.
   * @example
   * ```ts
   * JwtRotationModule.forVerifier({
   *   issuers: [{ issuer: 'https://tenant.eu.auth0.com/', preset: 'auth0', audience: 'https://api.example.com' }],
   *   isGlobal: true,
   * })
   * ```
   */
  static forVerifier(options: typeof JWT_VERIFIER_OPTIONS_TYPE): DynamicModule {
    return JwtVerifierModule.forRoot(options);
  }

  /** {@link forVerifier} with options from a factory, class or existing provider. */
  static forVerifierAsync(options: typeof JWT_VERIFIER_ASYNC_OPTIONS_TYPE): DynamicModule {
    return JwtVerifierModule.forRootAsync(options);
  }
}
