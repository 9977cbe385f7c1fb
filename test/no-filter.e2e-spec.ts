import { JwtRotationExceptionFilter } from '@app/jwt-rotation';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, startExampleApp } from './support/example-app';
import { bearer, forgeHs256 } from './support/http';

/** Every route of the example app, with a body that would pass validation. */
const ROUTES: ReadonlyArray<[method: 'get' | 'post' | 'delete', path: string, body?: object]> = [
  ['get', '/me'],
  ['get', '/api/ping'],
  ['get', '/admin'],
  ['get', '/admin/keys'],
  ['post', '/articles', { title: 'x' }],
  ['post', '/auth/logout'],
  ['post', '/auth/logout-all'],
  ['get', '/auth/sessions'],
  ['delete', '/auth/sessions/some-sid'],
];

/**
 * The example app registers no exception filter of its own: JwtRotationModule maps the library's
 * errors itself, so no bad token, body or replay answers 500.
 */
describe('HTTP without JwtRotationExceptionFilter registered by the app', () => {
  let example: ExampleApp;

  beforeAll(async () => {
    example = await startExampleApp('memory');
  });
  afterAll(() => example?.close());

  it('is how the example app is written', () => {
    const source = readFileSync(join(process.cwd(), 'src', 'app.module.ts'), 'utf8');
    expect(source).not.toContain(JwtRotationExceptionFilter.name);
    expect(source).not.toContain('APP_FILTER');
  });

  it('answers a replayed, garbage, access-type or missing refresh token with 401/400, never 500', async () => {
    const { access_token, refresh_token } = await example.login('alice');
    const next = (await example.http().post('/auth/refresh').send({ refresh_token }).expect(200)).body as { refresh_token: string };
    // Once its successor has been used, the consumed token is a replay (within the grace it would get the same pair).
    await example.http().post('/auth/refresh').send({ refresh_token: next.refresh_token }).expect(200);
    const replay = await example.http().post('/auth/refresh').send({ refresh_token });
    expect(replay.status, JSON.stringify(replay.body)).toBe(401);
    expect(replay.body).toMatchObject({ error: 'invalid_grant' });
    for (const body of [{ refresh_token: 'garbage' }, { refresh_token: 'a.b.c' }, { refresh_token: access_token }]) {
      const response = await example.http().post('/auth/refresh').send(body);
      expect(response.status, JSON.stringify(body)).toBe(401);
    }
    for (const body of [{}, { refresh_token: 42 }, { refresh_token: ['x'] }, 'not json']) {
      const response = await example.http().post('/auth/refresh').send(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('answers every route with 400/401/403 for each bad token, never 500', async () => {
    const { access_token } = await example.login('bob');
    const bad = [
      undefined,
      'Bearer garbage',
      'Bearer a.b.c',
      'Bearer a b',
      'Basic YTpi',
      bearer(await forgeHs256({ alg: 'HS256', typ: 'at+jwt', kid: 'nope' }, { sub: 'mallory' })),
      bearer(`${access_token}x`),
      bearer(access_token.split('.').slice(0, 2).join('.') + '.'),
    ];
    const statuses = new Set<number>();
    for (const [method, path, body] of ROUTES) {
      for (const authorization of bad) {
        const req = example.http()[method](path);
        if (authorization !== undefined) req.set('Authorization', authorization);
        const response = await (body ? req.send(body) : req);
        expect([400, 401, 403], `${method.toUpperCase()} ${path} with ${authorization ?? 'no token'}`).toContain(response.status);
        statuses.add(response.status);
      }
    }
    expect([...statuses].sort()).toEqual([400, 401]);
  });

  it('answers a logged-out access token on logout with 401, not 500', async () => {
    const { access_token } = await example.login('alice');
    await example.http().post('/auth/logout').set('Authorization', bearer(access_token)).expect(204);
    await example.http().post('/auth/logout').set('Authorization', bearer(access_token)).expect(401);
  });
});
