import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The transports' packages: optional peers of the library, never loaded by an HTTP-only app. */
const OPTIONAL = [
  '@nestjs/graphql',
  '@nestjs/apollo',
  'graphql',
  '@nestjs/websockets',
  '@nestjs/microservices',
  'socket.io',
  '@grpc/grpc-js',
];

/**
 * Runs in a child process against the compiled library (.test-build, from the e2e global setup),
 * with the optional peers made unresolvable, as if they were not installed: the library loads, and
 * an HTTP app with JwtGuard verifies and refuses tokens.
 */
const CHILD = `
const Module = require('node:module');
const blocked = ${JSON.stringify(OPTIONAL)};
const attempts = [];
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (blocked.some((name) => request === name || request.startsWith(name + '/'))) {
    attempts.push(request);
    const error = new Error("Cannot find module '" + request + "'");
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return resolve.call(this, request, ...rest);
};
require('reflect-metadata');
const lib = require(process.argv[1]);
const { Controller, Get, Module: NestModule, UseGuards } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { CacheModule } = require('@nestjs/cache-manager');
const { ScheduleModule } = require('@nestjs/schedule');
(async () => {
  class Probe { get() { return { ok: true }; } }
  Get()(Probe.prototype, 'get', Object.getOwnPropertyDescriptor(Probe.prototype, 'get'));
  UseGuards(lib.JwtGuard)(Probe);
  Controller('probe')(Probe);
  class App {}
  NestModule({
    imports: [ScheduleModule.forRoot(), CacheModule.register({ isGlobal: true }), lib.JwtRotationModule.forRoot({ issuer: 'https://peers.test' })],
    controllers: [Probe],
  })(App);
  const app = await NestFactory.create(App, { logger: false });
  await app.listen(0, '127.0.0.1');
  const url = 'http://127.0.0.1:' + app.getHttpServer().address().port + '/probe';
  const token = await app.get(lib.TokenService).signAsync({}, { subject: 'carol' });
  const ok = await fetch(url, { headers: { authorization: 'Bearer ' + token } });
  const refused = await fetch(url, { headers: { authorization: 'Bearer a.b.c' } });
  const missing = await fetch(url);
  await app.close();
  console.log(JSON.stringify({ statuses: [ok.status, refused.status, missing.status], body: await ok.json(), attempts }));
})().catch((error) => {
  console.log(JSON.stringify({ error: String(error && error.stack || error), attempts }));
  process.exitCode = 1;
});
`;

describe('the library without its optional peers', () => {
  it('loads and guards HTTP routes when @nestjs/graphql, @nestjs/websockets and @nestjs/microservices are not installed', () => {
    const library = join(process.cwd(), '.test-build', 'libs', 'jwt-rotation', 'src', 'index.js');
    const output = execFileSync(process.execPath, ['-e', CHILD, library], { encoding: 'utf8', timeout: 60_000 });
    const result = JSON.parse(output.trim().split('\n').at(-1)!) as {
      statuses?: number[];
      body?: unknown;
      attempts: string[];
      error?: string;
    };
    expect(result.error).toBeUndefined();
    expect(result.statuses).toEqual([200, 401, 401]);
    expect(result.body).toEqual({ ok: true });
    // Not even tried: no require of an optional peer at load time or on an HTTP request.
    expect(result.attempts).toEqual([]);
  });
});
