import { Controller, Get, Header, Inject, Res, type Type } from '@nestjs/common';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { KeyRing } from '../keys/key-ring';
import { isHmacAlgorithm } from '../keys/algorithms';
import { Public } from './metadata.decorators';
import { setResponseHeader } from './www-authenticate';

/**
 * What this issuer's metadata documents say: only what is true of it. It has no authorization,
 * token or userinfo endpoint, so none is named; verifiers need the issuer and the JWKS.
 */
export interface IssuerMetadata {
  issuer: string;
  jwks_uri: string;
  /** RFC 8414 §2 (required): no authorization endpoint, so no response type. */
  response_types_supported: string[];
  /** OpenID Connect Discovery §3 (required there): `sub` is the same for every client. */
  subject_types_supported?: string[];
  /**
   * OpenID Connect Discovery §3 (required there): the algorithms of the keys this issuer publishes,
   * which verifiers that configure themselves from it (express-oauth2-jwt-bearer) take as their allow-list.
   */
  id_token_signing_alg_values_supported?: string[];
}

/**
 * A controller that serves this issuer's metadata, so that standard verifiers configure themselves
 * from its URL alone: RFC 8414 `/.well-known/oauth-authorization-server<path>` and OpenID Connect
 * `<path>/.well-known/openid-configuration`, where `path` is the path of the `issuer` URL (empty
 * for `https://api.example.com`). Add the result to the `controllers` of the module that serves
 * `JwksController`.
 * @example
 * ```ts
 * // issuer 'https://example.com/auth'
 * controllers: [JwksController, issuerMetadataController({ path: '/auth' })]
 * ```
 */
export function issuerMetadataController(options: { path?: string } = {}): Type<unknown> {
  const path = (options.path ?? '').replace(/\/$/, '');
  if (path !== '' && !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(path)) {
    throw new TypeError('issuerMetadataController(): path must be the path of the issuer URL, such as "/auth"');
  }

  @Controller()
  class IssuerMetadataController {
    private readonly cacheControl: string;

    constructor(
      private readonly ring: KeyRing,
      @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
    ) {
      // As long as the JWKS may be cached, and never longer: the documents name its algorithms.
      const maxAge = Math.max(1, Math.floor(Math.min(options.rotationIntervalMs / 4, 300_000) / 1000));
      this.cacheControl = `public, max-age=${maxAge}`;
    }

    @Public()
    @Get(`${path}/.well-known/openid-configuration`)
    @Header('Content-Type', 'application/json')
    openidConfiguration(@Res({ passthrough: true }) response: unknown): IssuerMetadata {
      setResponseHeader(response, 'Cache-Control', this.cacheControl);
      return {
        ...this.common(),
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: this.algorithms(),
      };
    }

    @Public()
    @Get(`.well-known/oauth-authorization-server${path}`)
    @Header('Content-Type', 'application/json')
    authorizationServer(@Res({ passthrough: true }) response: unknown): IssuerMetadata {
      setResponseHeader(response, 'Cache-Control', this.cacheControl);
      return this.common();
    }

    private common(): IssuerMetadata {
      return { issuer: this.options.issuer, jwks_uri: this.options.jwksUri, response_types_supported: [] };
    }

    /** The algorithms of the published keys and of the keys to come. */
    private algorithms(): string[] {
      const algorithms = new Set(
        this.ring
          .all()
          .filter((k) => k.key.publicJwk)
          .map((k) => k.entry.alg),
      );
      if (!isHmacAlgorithm(this.options.algorithm)) algorithms.add(this.options.algorithm);
      return [...algorithms];
    }
  }
  return IssuerMetadataController;
}

/** {@link issuerMetadataController} for an issuer URL without a path, such as `https://api.example.com`. */
export const IssuerMetadataController = issuerMetadataController();
