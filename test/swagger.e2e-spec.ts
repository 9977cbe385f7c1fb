import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, startExampleApp } from './support/example-app';

interface Operation {
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { description?: string; headers?: Record<string, { schema?: { example?: string } }> }>;
}
interface Document {
  components?: { securitySchemes?: Record<string, unknown> };
  security?: unknown;
  paths: Record<string, Record<string, Operation>>;
}

/**
 * Every route of the example app and what its OpenAPI operation must say: `bearer` security and a
 * 401 where JwtGuard (the APP_GUARD) protects it, nothing for @Public() routes, a 403 behind
 * RolesGuard / PermissionsGuard.
 */
const ROUTES: Array<[method: string, path: string, guarded: boolean, forbids: boolean]> = [
  ['post', '/auth/login', false, false],
  ['post', '/auth/refresh', false, false],
  ['post', '/auth/logout', true, false],
  ['post', '/auth/logout-all', true, false],
  ['get', '/auth/sessions', true, false],
  ['delete', '/auth/sessions/{sid}', true, false],
  ['get', '/me', true, false],
  ['get', '/api/ping', true, false],
  ['get', '/admin', true, true],
  ['post', '/articles', true, true],
  ['get', '/admin/keys', true, true],
  ['post', '/admin/keys/rotate', true, true],
  ['delete', '/admin/keys/{kid}', true, true],
  ['get', '/health', false, false],
  ['get', '/.well-known/jwks.json', false, false],
  ['get', '/.well-known/oauth-authorization-server', false, false],
  ['get', '/.well-known/openid-configuration', false, false],
  ['post', '/auth/cookie/login', false, false],
  ['post', '/auth/cookie/refresh', false, false],
  ['post', '/auth/cookie/logout', false, false],
  ['get', '/', false, false],
  ['get', '/app.js', false, false],
];

describe('Swagger: the example app document at /docs-json', () => {
  let example: ExampleApp;
  let document: Document;

  beforeAll(async () => {
    example = await startExampleApp('memory');
    document = (await example.http().get('/docs-json').expect(200)).body as Document;
  });
  afterAll(() => example?.close());

  it('has the bearer scheme and no global requirement that would mark public routes', () => {
    expect(document.components?.securitySchemes?.bearer).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
    );
    expect(document.security ?? []).toEqual([]);
  });

  it('documents every route of the app, and no other', () => {
    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method} ${path}`),
    );
    expect(documented.sort()).toEqual(ROUTES.map(([method, path]) => `${method} ${path}`).sort());
  });

  it.each(ROUTES)('%s %s: guarded %s, 403 %s', (method, path, guarded, forbids) => {
    const operation = document.paths[path][method];
    if (!guarded) {
      expect(operation.security ?? []).toEqual([]);
      expect(operation.responses['401']).toBeUndefined();
      expect(operation.responses['403']).toBeUndefined();
      return;
    }
    expect(operation.security).toEqual([{ bearer: [] }]);
    const challenge = operation.responses['401'].headers?.['WWW-Authenticate']?.schema?.example;
    expect(challenge).toMatch(/^Bearer realm="https:\/\/issuer\.test", error="invalid_token", error_description="[^"]+"$/);
    if (forbids) {
      expect(operation.responses['403'].headers?.['WWW-Authenticate']?.schema?.example).toMatch(/error="insufficient_scope"/);
    } else {
      expect(operation.responses['403']).toBeUndefined();
    }
  });

  it('sends the 401 the document describes', async () => {
    const response = await example.http().get('/me').expect(401);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="https:\/\/issuer\.test"/);
  });

  it('serves Swagger UI at /docs', async () => {
    const response = await example.http().get('/docs').redirects(1).expect(200);
    expect(response.text).toContain('swagger-ui');
  });
});
