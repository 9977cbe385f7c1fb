import swc from 'unplugin-swc';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const alias = { '@app/jwt-rotation': fileURLToPath(new URL('./libs/jwt-rotation/src/index.ts', import.meta.url)) };
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
