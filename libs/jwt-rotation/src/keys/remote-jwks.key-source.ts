import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { createRemoteJWKSet, type JWK, type RemoteJWKSet } from 'jose';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import type { AsymmetricAlgorithm } from './algorithms';
import { prepareAsymmetricKey, publicJwkOf } from './asymmetric-key';
import { KeyRing, type RingKey } from './key-ring';
import { type KeySource, UnknownKidReloader } from './key-source';

/**
 * The key ring of a verify-only service: the issuer's published keys. jose fetches and caches the
 * JWKS (timeouts, cooldown); each key is then prepared once with node:crypto, so verification stays
 * synchronous. Keys never sign here: they are held as never active.
 */
@Injectable()
export class RemoteJwksKeySource implements KeySource, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JwtRotation');
  private readonly jwks: RemoteJWKSet | undefined;
  private readonly reloader = new UnknownKidReloader(() => this.load());
  private timer: NodeJS.Timeout | undefined;
  private loaded: Promise<void> | undefined;

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
    private readonly ring: KeyRing,
  ) {
    const remote = options.verifyOnly;
    this.jwks =
      remote &&
      createRemoteJWKSet(remote.jwksUri, { cacheMaxAge: remote.refreshIntervalMs, cooldownDuration: 1000, timeoutDuration: 5000 });
  }

  async onModuleInit(): Promise<void> {
    const remote = this.options.verifyOnly;
    if (!remote) return;
    this.loaded = this.load();
    await this.loaded;
    this.timer = setInterval(() => {
      this.load().catch((error: unknown) => this.logger.warn(`JWKS refresh failed; keeping the keys held: ${String(error)}`));
    }, remote.refreshIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  ready(): Promise<void> {
    return this.loaded ?? Promise.resolve();
  }

  reloadForUnknownKid(): Promise<void> {
    return this.reloader.reload();
  }

  private async load(): Promise<void> {
    await this.jwks!.reload();
    const accepted = new Set<string>(this.options.acceptedAlgorithms);
    const keys: RingKey[] = [];
    for (const [index, jwk] of (this.jwks!.jwks()?.keys ?? []).entries()) {
      const { kid, alg, use } = jwk as JWK & { use?: string };
      // Pin each key to the algorithm it declares, and take only what is ours to accept.
      if (typeof kid !== 'string' || typeof alg !== 'string' || !accepted.has(alg) || (use !== undefined && use !== 'sig')) continue;
      try {
        const key = prepareAsymmetricKey(kid, alg as AsymmetricAlgorithm, publicJwkOf(jwk));
        keys.push({
          entry: {
            generation: index,
            kid,
            alg: alg as AsymmetricAlgorithm,
            createdAt: 0,
            activatesAt: Infinity,
            retiresAt: Infinity,
            revokedAt: undefined,
          },
          key,
          expiresAt: Infinity,
        });
      } catch (error) {
        this.logger.warn(`JWKS key ${kid} refused: ${String(error)}`);
      }
    }
    this.ring.replace(keys);
  }
}
