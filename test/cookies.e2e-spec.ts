import fastifyCookie from '@fastify/cookie';
import { CacheModule } from '@nestjs/cache-manager';
import { Controller, type INestApplication, Module, Post, Req, Res } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import cookieParser from 'cookie-parser';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtRotationExceptionFilter, JwtRotationModule, Public, SessionCookies } from '@app/jwt-rotation';
import { type ExampleApp, startExampleApp } from './support/example-app';

/** One Set-Cookie header, parsed into its name, value and attributes (names lower-cased). */
interface SetCookie {
  name: string;
  value: string;
  attributes: Record<string, string | true>;
}

function setCookies(response: { headers: Record<string, unknown> }): Map<string, SetCookie> {
  const raw = response.headers['set-cookie'];
  const lines = Array.isArray(raw) ? (raw as string[]) : typeof raw === 'string' ? [raw] : [];
  const cookies = new Map<string, SetCookie>();
  for (const line of lines) {
    const [pair, ...parts] = line.split(';').map((p) => p.trim());
    const eq = pair.indexOf('=');
    const attributes: Record<string, string | true> = {};
    for (const part of parts) {
      const i = part.indexOf('=');
      attributes[(i < 0 ? part : part.slice(0, i)).toLowerCase()] = i < 0 ? true : part.slice(i + 1);
    }
    cookies.set(pair.slice(0, eq), { name: pair.slice(0, eq), value: decodeURIComponent(pair.slice(eq + 1)), attributes });
  }
  return cookies;
}

const cookieHeader = (cookies: Map<string, SetCookie>, ...names: string[]) =>
  names.map((n) => `${n}=${encodeURIComponent(cookies.get(n)!.value)}`).join('; ');

const ACCESS = '__Host-access_token';
const REFRESH = '__Secure-refresh_token';
const CSRF = '__Host-csrf_token';

describe('session cookies on Express (the example app)', () => {
  let example: ExampleApp;
  beforeAll(async () => {
    example = await startExampleApp('memory');
  });
  afterAll(() => example?.close());

  const login = async () => {
    const response = await example.http().post('/auth/cookie/login').send({ username: 'alice', password: 'alice-password' }).expect(200);
    return { body: response.body as { expires_in: number; csrf_token: string }, cookies: setCookies(response) };
  };
  const refresh = (cookies: Map<string, SetCookie>, headers: Record<string, string> = {}) =>
    example
      .http()
      .post('/auth/cookie/refresh')
      .set('Cookie', cookieHeader(cookies, REFRESH, CSRF))
      .set(headers);

  it('login sets the tokens as httpOnly, Secure, SameSite=Lax cookies, and the body holds no token', async () => {
    const { body, cookies } = await login();
    expect(Object.keys(body).sort()).toEqual(['csrf_token', 'expires_in']);
    const access = cookies.get(ACCESS)!;
    expect(access.attributes).toMatchObject({
      path: '/',
      httponly: true,
      secure: true,
      samesite: 'Lax',
      'max-age': String(body.expires_in),
    });
    expect(access.attributes.domain).toBeUndefined();
    const refreshCookie = cookies.get(REFRESH)!;
    expect(refreshCookie.attributes).toMatchObject({ path: '/auth/cookie', httponly: true, secure: true, samesite: 'Lax' });
    expect(Number(refreshCookie.attributes['max-age'])).toBeGreaterThan(29 * 86_400);
    const csrf = cookies.get(CSRF)!;
    expect(csrf.value).toBe(body.csrf_token);
    expect(csrf.attributes.httponly).toBeUndefined();
    expect(csrf.attributes).toMatchObject({ path: '/', secure: true, samesite: 'Lax' });
  });

  it('refresh needs the CSRF header matching the CSRF cookie and the session, from the same origin', async () => {
    const { body, cookies } = await login();
    await refresh(cookies).expect(403);
    await refresh(cookies, { 'x-csrf-token': 'x.y' }).expect(403);
    // Another session's CSRF token is worth nothing here.
    const other = await login();
    await refresh(cookies, { 'x-csrf-token': other.body.csrf_token }).expect(403);
    await refresh(cookies, { 'x-csrf-token': body.csrf_token, origin: 'http://evil.test' }).expect(403);
    await refresh(cookies, { 'x-csrf-token': body.csrf_token, 'sec-fetch-site': 'same-site' }).expect(403);
    const refused = await refresh(cookies, { 'x-csrf-token': body.csrf_token, origin: 'null' }).expect(403);
    expect(refused.body).toMatchObject({ statusCode: 403, error: 'csrf_rejected' });

    const ok = await refresh(cookies, { 'x-csrf-token': body.csrf_token, 'sec-fetch-site': 'same-origin' }).expect(200);
    const renewed = setCookies(ok);
    expect(renewed.get(ACCESS)!.value).not.toBe(cookies.get(ACCESS)!.value);
    expect(renewed.get(CSRF)!.value).toBe(ok.body.csrf_token);
  });

  it('refresh with the app origin in Origin passes; without a refresh cookie it is a 401', async () => {
    const { body, cookies } = await login();
    const host = `127.0.0.1:${(example.app.getHttpServer().address() as { port?: number })?.port ?? 0}`;
    await refresh(cookies, { 'x-csrf-token': body.csrf_token, host, origin: `http://${host}` }).expect(200);
    await example.http().post('/auth/cookie/refresh').set('x-csrf-token', body.csrf_token).expect(401);
  });

  it('JwtGuard reads the access cookie, and a state-changing request it authenticates needs the CSRF header; a Bearer one does not', async () => {
    const { body, cookies } = await login();
    const withCookies = () => cookieHeader(cookies, ACCESS, CSRF);
    expect((await example.http().get('/me').set('Cookie', withCookies()).expect(200)).body.sub).toBe('alice');
    const post = () => example.http().post('/articles').send({ title: 't' }).set('Cookie', withCookies());
    expect((await post().expect(403)).body).toMatchObject({ error: 'csrf_rejected' });
    await post().set('x-csrf-token', body.csrf_token).set('origin', 'http://evil.test').expect(403);
    await post().set('x-csrf-token', body.csrf_token).expect(201);
    // The same token as a Bearer header: no browser adds it by itself, so no CSRF check.
    await example
      .http()
      .post('/articles')
      .send({ title: 't' })
      .set('Authorization', `Bearer ${cookies.get(ACCESS)!.value}`)
      .expect(201);
  });

  it('logout clears every cookie, and the old refresh cookie replayed afterwards is a 401', async () => {
    const { body, cookies } = await login();
    await example
      .http()
      .post('/auth/cookie/logout')
      .set('Cookie', cookieHeader(cookies, REFRESH, CSRF))
      .expect(403);
    const out = await example
      .http()
      .post('/auth/cookie/logout')
      .set('Cookie', cookieHeader(cookies, REFRESH, CSRF))
      .set('x-csrf-token', body.csrf_token)
      .expect(204);
    const cleared = setCookies(out);
    for (const name of [ACCESS, REFRESH, CSRF]) {
      expect(cleared.get(name)?.value).toBe('');
      expect(cleared.get(name)?.attributes['max-age']).toBe('0');
    }
    expect(cleared.get(REFRESH)!.attributes.path).toBe('/auth/cookie');
    await refresh(cookies, { 'x-csrf-token': body.csrf_token }).expect(401);
  });
});

@Controller('auth')
class FastifyCookieController {
  constructor(private readonly cookies: SessionCookies) {}
  @Public()
  @Post('login')
  login(@Res({ passthrough: true }) response: unknown) {
    return this.cookies.login(response, 'alice', { roles: ['admin'] });
  }
  @Public()
  @Post('refresh')
  refresh(@Req() req: never, @Res({ passthrough: true }) response: unknown) {
    return this.cookies.refresh(req, response);
  }
}

@Module({
  imports: [
    ScheduleModule.forRoot(),
    CacheModule.register({ isGlobal: true }),
    JwtRotationModule.forRoot({ issuer: 'https://fastify.test', cookies: {} }),
  ],
  controllers: [FastifyCookieController],
  providers: [{ provide: APP_FILTER, useClass: JwtRotationExceptionFilter }],
})
class FastifyCookieModule {}

describe('session cookies on Fastify (@fastify/cookie)', () => {
  let app: NestFastifyApplication | undefined;
  afterAll(() => app?.close());

  it('sets the same cookies, with Max-Age in seconds, and checks CSRF the same way', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [FastifyCookieModule] }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    await app.register(fastifyCookie);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    const server = app.getHttpServer();
    const response = await request(server).post('/auth/login').expect(201);
    const cookies = setCookies(response);
    expect(cookies.get(ACCESS)!.attributes).toMatchObject({ path: '/', httponly: true, secure: true, samesite: 'Lax', 'max-age': '900' });
    expect(cookies.get(REFRESH)!.attributes).toMatchObject({ path: '/auth', httponly: true, secure: true });
    await request(server)
      .post('/auth/refresh')
      .set('Cookie', cookieHeader(cookies, REFRESH, CSRF))
      .expect(403);
    await request(server)
      .post('/auth/refresh')
      .set('Cookie', cookieHeader(cookies, REFRESH, CSRF))
      .set('x-csrf-token', response.body.csrf_token)
      .expect(201);
  });
});

describe('a cookie parser is required once cookies are on', () => {
  const build = async (platform: 'express' | 'fastify'): Promise<INestApplication> => {
    const moduleRef = await Test.createTestingModule({ imports: [FastifyCookieModule] }).compile();
    return platform === 'express'
      ? moduleRef.createNestApplication({ logger: false })
      : moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  };

  it.each(['express', 'fastify'] as const)('stops %s at startup naming the parser to register', async (platform) => {
    const app = await build(platform);
    try {
      await expect(app.init()).rejects.toMatchObject({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringMatching(/cookie-parser.*@fastify\/cookie/s),
      });
    } finally {
      await app.close().catch(() => undefined);
    }
  });

  it('starts once cookie-parser is registered', async () => {
    const app = await build('express');
    app.use(cookieParser());
    await app.init();
    await app.close();
  });
});
