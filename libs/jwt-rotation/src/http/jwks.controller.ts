import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { JWK } from 'jose';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { KeyRing } from '../keys/key-ring';
import { Public } from './metadata.decorators';
import { setResponseHeader } from './www-authenticate';

/** A JSON Web Key Set (RFC 7517 §5). */
export interface JsonWebKeySet {
  keys: JWK[];
}

/**
 * Serves `GET /.well-known/jwks.json`: the public keys of the next, current and retired (not yet
 * expired) keys, so other services can verify this issuer's tokens. Revoked keys are left out;
 * HMAC keys have nothing public, so an HMAC ring answers `{ "keys": [] }`. Add it to the
 * `controllers` of the module that should serve it.
 */
@Controller('.well-known')
export class JwksController {
  private readonly cacheControl: string;

  constructor(
    private readonly ring: KeyRing,
    @Inject(JWT_ROTATION_OPTIONS) options: ResolvedJwtRotationOptions,
  ) {
    // The next key is published a whole rotation interval before it signs; a cache that lives a
    // quarter of that always holds it in time. At most five minutes, so a revoked key leaves
    // verifiers' caches soon.
    const maxAge = Math.max(1, Math.floor(Math.min(options.rotationIntervalMs / 4, 300_000) / 1000));
    this.cacheControl = `public, max-age=${maxAge}`;
  }

  @Public()
  @Get('jwks.json')
  @Header('Content-Type', 'application/jwk-set+json')
  jwks(@Res({ passthrough: true }) response: unknown): JsonWebKeySet {
    setResponseHeader(response, 'Cache-Control', this.cacheControl);
    const now = Date.now();
    const keys = this.ring
      .all()
      .filter((k) => k.key.publicJwk && k.entry.revokedAt === undefined && k.expiresAt > now)
      .sort((a, b) => a.entry.activatesAt - b.entry.activatesAt)
      .map((k) => ({ ...k.key.publicJwk! }));
    return { keys };
  }
}
