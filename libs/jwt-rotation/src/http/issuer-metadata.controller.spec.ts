import { CacheModule } from '@nestjs/cache-manager';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { JwtRotationModule } from '../jwt-rotation.module';
import { issuerMetadataController } from './issuer-metadata.controller';

describe('issuerMetadataController({ path })', () => {
  it('serves RFC 8414 with the well-known segment inserted before the issuer path, and OIDC appended to it', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CacheModule.register({ isGlobal: true }),
        JwtRotationModule.forRoot({ issuer: 'https://example.com/auth', algorithm: 'ES256', scheduleRotation: false }),
      ],
      controllers: [issuerMetadataController({ path: '/auth' })],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      const expected = { issuer: 'https://example.com/auth', jwks_uri: 'https://example.com/auth/.well-known/jwks.json' };
      const rfc8414 = await request(app.getHttpServer()).get('/.well-known/oauth-authorization-server/auth').expect(200);
      expect(rfc8414.body).toEqual({ ...expected, response_types_supported: [] });
      const oidc = await request(app.getHttpServer()).get('/auth/.well-known/openid-configuration').expect(200);
      expect(oidc.body).toMatchObject({ ...expected, id_token_signing_alg_values_supported: ['ES256'] });
      expect(oidc.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
    } finally {
      await app.close();
    }
  });

  it('refuses a path that is not one', () => {
    expect(() => issuerMetadataController({ path: 'no-slash' })).toThrow(TypeError);
  });
});
