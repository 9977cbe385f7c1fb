import { Injectable } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { type KeyInfo, KeyRotationService } from '../keys/key-rotation.service';
import { TokenService } from '../tokens/token.service';

/** How long the store may take to answer before the check reports it down. */
const STORE_TIMEOUT_MS = 3000;

/**
 * A `@nestjs/terminus` health indicator for the key ring. On an issuer it is up when the store
 * answers, the store holds a current key and a published next key, and the current key signs a
 * token that verifies; otherwise down, with a `reason`. Details never hold a key, a token or a kid.
 *
 * Add it to the providers of the module that imports `TerminusModule` (and sees
 * `JwtRotationModule`), and call it from a `@HealthCheck()` route.
 * @example
 * ```ts
 * @Public() @Get('health') @HealthCheck()
 * check() {
 *   return this.health.check([() => this.jwt.isHealthy('jwt')]);
 * }
 * ```
 */
@Injectable()
export class JwtRotationHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly keys: KeyRotationService,
    private readonly tokens: TokenService,
  ) {}

  /** The state of the key ring under `key` in the health check's answer. */
  async isHealthy<const Key extends string = 'jwt'>(key: Key = 'jwt' as Key): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    let keys: KeyInfo[];
    try {
      keys = await withTimeout(this.keys.listKeys(), STORE_TIMEOUT_MS);
    } catch {
      return indicator.down({ mode: 'issuer', reason: 'the key store does not answer' });
    }
    if (!keys.some((k) => k.status === 'current'))
      return indicator.down({ mode: 'issuer', reason: 'the store holds no current signing key' });
    if (!keys.some((k) => k.status === 'next')) return indicator.down({ mode: 'issuer', reason: 'no next key is published' });
    try {
      this.tokens.verify(this.tokens.sign({}, { jwtid: 'health-check' }));
    } catch {
      return indicator.down({ mode: 'issuer', reason: 'the current key does not sign tokens that verify' });
    }
    return indicator.up({ mode: 'issuer', keys: keys.length });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
