import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freePort, stopChild } from './redis-server';

// Vitest runs from the repository root.
const root = process.cwd();
const buildDir = join(root, '.test-build');

/**
 * Compiles the example app once per run into .test-build (tsc, not nest build, so dist/ is left
 * alone), with a package shim so its `@app/jwt-rotation` imports resolve to the compiled library.
 */
export function buildExampleApp(): string {
  const main = join(buildDir, 'src', 'main.js');
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  execFileSync(
    process.execPath,
    [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', buildDir, '--sourceMap', 'false', '--declaration', 'false'],
    {
      stdio: 'inherit',
    },
  );
  const shim = join(buildDir, 'node_modules', '@app', 'jwt-rotation');
  if (!existsSync(shim)) mkdirSync(shim, { recursive: true });
  writeFileSync(join(shim, 'package.json'), JSON.stringify({ name: '@app/jwt-rotation', main: '../../../libs/jwt-rotation/src/index.js' }));
  // The library's subpath entries (`@app/jwt-rotation/health`, ...), one directory each.
  for (const subpath of ['health', 'swagger', 'testing']) {
    mkdirSync(join(shim, subpath), { recursive: true });
    writeFileSync(join(shim, subpath, 'package.json'), JSON.stringify({ main: `../../../../libs/jwt-rotation/src/${subpath}/index.js` }));
  }
  return main;
}

/** One example-app process listening on its own port. */
export interface ExampleProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

export async function startExampleProcess(main: string, env: Record<string, string>): Promise<ExampleProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, NODE_ENV: 'production', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`example app exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`example app did not start within 20 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    output: () => output,
    stop: () => stopChild(child),
  };
}
