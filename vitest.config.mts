import swc from 'unplugin-swc';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const lib = (path: string): string => fileURLToPath(new URL(`./libs/jwt-rotation/src/${path}`, import.meta.url));
// Subpath entries first: an alias also matches every path under it.
const alias = {
  '@app/jwt-rotation/health': lib('health/index.ts'),
  '@app/jwt-rotation/swagger': lib('swagger/index.ts'),
  '@app/jwt-rotation/testing': lib('testing/index.ts'),
  '@app/jwt-rotation': lib('index.ts'),
};
// SWC compiles the decorators and emits their metadata, which Nest's injector reads.
const plugins = [swc.vite({ module: { type: 'es6' } })];

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        plugins,
        resolve: { alias },
        test: { name: 'unit', include: ['libs/**/*.spec.ts'], globalSetup: ['./test/support/redis.global-setup.ts'], environment: 'node' },
      },
      {
        plugins,
        resolve: { alias },
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e-spec.ts'],
          globalSetup: ['./test/support/redis.global-setup.ts', './test/support/build.global-setup.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
