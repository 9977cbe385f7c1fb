import type { TestProject } from 'vitest/node';
import { type RedisServer, startRedisServer } from './redis-server';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let server: RedisServer | undefined;

/**
 * Tests that need Redis talk to a real redis-server. With REDIS_URL set they use it; otherwise this
 * starts a throwaway one on a free port and stops it when the run ends.
 */
export async function setup(project: TestProject): Promise<void> {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return;
  }
  server = await startRedisServer();
  project.provide('redisUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
