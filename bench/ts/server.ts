/**
 * The bench server: BenchAppModule on Express or Fastify, in its own process, driven by run.mjs
 * over IPC. It answers `sample` with its own CPU time (process.cpuUsage) and store counters, and
 * `token` with a freshly signed access token.
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { TokenService, type JwtAlgorithm } from '../../libs/jwt-rotation/src';
import { BenchAppModule, ResponseClaims } from './bench.module';
import { PRIVATE_CLAIMS, SUBJECT } from './shape';
import { countStoreCommands } from './store-counter';

interface Message {
  id: number;
  type: 'sample' | 'token' | 'exit';
}

async function main(): Promise<void> {
  const adapter = process.env.BENCH_ADAPTER === 'fastify' ? 'fastify' : 'express';
  const module = BenchAppModule.register({
    algorithm: (process.env.BENCH_ALG ?? 'HS256') as JwtAlgorithm,
    rotationInterval: process.env.BENCH_ROTATION_INTERVAL || undefined,
  });
  const options = { logger: ['error', 'warn'] as ('error' | 'warn')[] };
  const app: INestApplication =
    adapter === 'fastify' ? await NestFactory.create(module, new FastifyAdapter(), options) : await NestFactory.create(module, options);
  await app.init();
  const counters = countStoreCommands(app);
  const tokens = app.get(TokenService);
  const sign = (): string => tokens.sign({ ...PRIVATE_CLAIMS }, { subject: SUBJECT });
  const first = sign();
  app.get(ResponseClaims).value = tokens.decode(first).payload;
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;

  const send = (message: object): void => {
    process.send?.(message);
  };
  process.on('message', (message: Message) => {
    if (message.type === 'sample') {
      send({
        id: message.id,
        cpu: process.cpuUsage(),
        wallNs: process.hrtime.bigint().toString(),
        store: { ...counters },
        memory: process.memoryUsage().rss,
      });
    } else if (message.type === 'token') {
      send({ id: message.id, token: sign() });
    } else if (message.type === 'exit') {
      void app.close().finally(() => {
        send({ id: message.id });
        process.exit(0);
      });
    }
  });
  // The parent going away ends the bench: never leave a server behind.
  process.on('disconnect', () => process.exit(0));
  send({ id: 0, ready: true, port, token: first, adapter });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
