import { Module, type Provider } from '@nestjs/common';
import { PermissionsGuard, RolesGuard } from '../http/claim-values.guard';
import { JwtGuard } from '../http/jwt.guard';
import { TokenRejections } from '../http/token-rejections';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import { KeyRing } from '../keys/key-ring';
import { KEY_SOURCE, type KeySource } from '../keys/key-source';
import { RemoteJwksKeySource } from '../keys/remote-jwks.key-source';
import { RevocationView } from '../sessions/revocation-view';
import { TokenService } from '../tokens/token.service';
import { TRUSTED_ISSUERS } from '../tokens/trusted-issuer';
import { JWT_VERIFIER_MODULE_OPTIONS, JwtVerifierConfigurableModule } from './jwt-verifier.module-definition';
import { type JwtVerifierModuleOptions, resolveVerifierOptions } from './jwt-verifier.options';

const providers: Provider[] = [
  {
    // The one place a verifier's options are validated, for forVerifier and forVerifierAsync alike.
    provide: JWT_ROTATION_OPTIONS,
    useFactory: (options: JwtVerifierModuleOptions) => resolveVerifierOptions(options),
    inject: [JWT_VERIFIER_MODULE_OPTIONS],
  },
  RemoteJwksKeySource,
  {
    provide: TRUSTED_ISSUERS,
    useFactory: (source: RemoteJwksKeySource) => source.issuers,
    inject: [RemoteJwksKeySource],
  },
  {
    provide: KEY_SOURCE,
    useFactory: (source: RemoteJwksKeySource): KeySource => ({
      ready: () => source.ready(),
      reloadForUnknownKid: () => source.reloadForUnknownKid(),
    }),
    inject: [RemoteJwksKeySource],
  },
  // Never filled: each trusted issuer has a ring of its own. TokenService signs with this one on an issuer.
  KeyRing,
  // A verifier has no store to learn revocations from: the view stays empty.
  RevocationView,
  TokenService,
  TokenRejections,
  JwtGuard,
  RolesGuard,
  PermissionsGuard,
];

/**
 * The verifier configuration, made by `JwtRotationModule.forVerifier()` / `forVerifierAsync()`:
 * only what verifying tokens of trusted issuers needs. No key rotation, sessions, store or
 * scheduler are registered, so none can be misused.
 */
@Module({
  providers,
  exports: [JWT_ROTATION_OPTIONS, TokenService, TokenRejections, JwtGuard, RolesGuard, PermissionsGuard, RemoteJwksKeySource],
})
export class JwtVerifierModule extends JwtVerifierConfigurableModule {}
