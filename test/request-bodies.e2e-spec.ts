import type { INestApplication, LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppModule } from '../src/app.module';
import { configureApp } from '../src/app.setup';
import { DEFAULT_MAX_BODY_DEPTH, JsonDepthPipe } from '../src/json-depth.pipe';

/** Every line the app logs, by level: the test checks that a hostile body logs no error. */
class RecordingLogger implements LoggerService {
  readonly lines: Array<{ level: string; message: string }> = [];
  log = (message: unknown) => this.record('log', message);
  error = (message: unknown, ...rest: unknown[]) => this.record('error', [message, ...rest].map(String).join(' '));
  warn = (message: unknown) => this.record('warn', message);
  debug = (message: unknown) => this.record('debug', message);
  verbose = (message: unknown) => this.record('verbose', message);
  fatal = (message: unknown) => this.record('fatal', message);
  private record(level: string, message: unknown): void {
    this.lines.push({ level, message: String(message) });
  }
}

/** Raw JSON texts nested `depth` levels deep: objects (`{"a":{"a":…}}`, 18 KB at 3,000) and arrays under a field (6 KB). */
const BODIES: Record<string, (depth: number) => string> = {
  objects: (depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  'arrays in a field': (depth) => `{"refresh_token":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`,
};
const CASES = ['/auth/login', '/auth/refresh'].flatMap((path) => Object.keys(BODIES).map((shape) => [path, shape] as const));

/** The example app (in-memory store) on Express or Fastify, as main.ts configures it, logging into `logger`. */
async function startOn(platform: 'express' | 'fastify', logger: LoggerService): Promise<INestApplication> {
  const config = { port: 0, issuer: 'https://issuer.test', keyPrefix: `test-${randomBytes(6).toString('hex')}` };
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
  let app: INestApplication;
  if (platform === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    app = moduleRef.createNestApplication(new FastifyAdapter() as never, { logger });
    const { default: fastifyCookie } = await import('@fastify/cookie');
    await (app as unknown as { register(plugin: unknown): Promise<unknown> }).register(fastifyCookie);
  } else {
    app = moduleRef.createNestApplication({ logger });
  }
  configureApp(app);
  await app.init();
  if (platform === 'fastify') await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
  return app;
}

describe.each(['express', 'fastify'] as const)('request bodies nested deeply, on %s', (platform) => {
  let app: INestApplication;
  const logger = new RecordingLogger();
  beforeAll(async () => {
    app = await startOn(platform, logger);
  });
  afterAll(() => app?.close());

  it.each(CASES)('POST %s with %s nested 3,000 levels deep answers 400 and logs no error', async (path, shape) => {
    logger.lines.length = 0;
    const response = await request(app.getHttpServer()).post(path).set('content-type', 'application/json').send(BODIES[shape](3000));
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      statusCode: 400,
      message: `The request body is nested more than ${DEFAULT_MAX_BODY_DEPTH} levels deep`,
    });
    expect(logger.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });

  it(`lets a body of ${DEFAULT_MAX_BODY_DEPTH} levels through to the ValidationPipe, and refuses ${DEFAULT_MAX_BODY_DEPTH + 1}`, async () => {
    const post = (body: string) => request(app.getHttpServer()).post('/auth/refresh').set('content-type', 'application/json').send(body);
    const within = await post(BODIES['arrays in a field'](DEFAULT_MAX_BODY_DEPTH));
    expect(within.status).toBe(400);
    expect(JSON.stringify(within.body.message)).toContain('refresh_token');
    const beyond = await post(BODIES['arrays in a field'](DEFAULT_MAX_BODY_DEPTH + 1));
    expect(beyond.body.message).toBe(`The request body is nested more than ${DEFAULT_MAX_BODY_DEPTH} levels deep`);
    // A normal login still works.
    await request(app.getHttpServer()).post('/auth/login').send({ username: 'alice', password: 'alice-password' }).expect(200);
  });
});

describe('JsonDepthPipe', () => {
  it('counts objects and arrays, checks only bodies, and handles a body far deeper than the call stack', () => {
    const pipe = new JsonDepthPipe(3);
    const body = { type: 'body' as const };
    expect(pipe.transform({ a: [{ b: 1 }] }, body)).toEqual({ a: [{ b: 1 }] });
    expect(() => pipe.transform({ a: [{ b: [] }] }, body)).toThrow(expect.objectContaining({ status: 400 }));
    expect(pipe.transform({ a: [{ b: [] }] }, { type: 'query' })).toEqual({ a: [{ b: [] }] });
    const deep = JSON.parse(BODIES.objects(200_000)) as unknown;
    expect(() => new JsonDepthPipe().transform(deep, body)).toThrow(expect.objectContaining({ status: 400 }));
  });
});
