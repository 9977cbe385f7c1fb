import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { inject } from 'vitest';
import type { AppConfig } from '../../src/app.config';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';

export type StoreKind = 'memory' | 'redis';
export const STORES: readonly StoreKind[] = ['memory', 'redis'];

export interface ExampleApp {
  app: INestApplication;
  config: AppConfig;
  http: () => ReturnType<typeof request>;
  login(username: 'alice' | 'bob', audience?: string): Promise<{ access_token: string; refresh_token: string }>;
  close(): Promise<void>;
}

/**
 * Starts the example app in-process on the given store. Each app gets its own key prefix, so
 * tests sharing one Redis never see each other's keys.
 */
export async function startExampleApp(
  store: StoreKind,
  overrides: Partial<AppConfig> = {},
  beforeInit: (app: INestApplication) => void = () => undefined,
): Promise<ExampleApp> {
  const config: AppConfig = {
    port: 0,
    issuer: 'https://issuer.test',
    keyPrefix: `test-${randomBytes(6).toString('hex')}`,
    ...(store === 'redis' ? { redisUrl: inject('redisUrl'), keyEncryptionSecret: 'a-test-key-encryption-secret-of-32+chars' } : {}),
    ...overrides,
  };
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
  moduleRef.useLogger(false);
  const app = configureApp(moduleRef.createNestApplication({ logger: false }));
  beforeInit(app);
  await app.init();
  const server = app.getHttpServer();
  const http = () => request(server);
  return {
    app,
    config,
    http,
    async login(username, audience) {
      const response = await http()
        .post('/auth/login')
        .send({ username, password: `${username}-password`, ...(audience ? { audience } : {}) })
        .expect(200);
      return response.body as { access_token: string; refresh_token: string };
    },
    close: () => app.close(),
  };
}
