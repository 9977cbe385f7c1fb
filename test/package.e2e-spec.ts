import { execFile, type ExecFileOptions, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setPriority, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as a user gets it: `npm run build:lib`, `npm pack`, the tarball unpacked into a
 * fresh app that compiles and runs the README's testing example against it.
 *
 * No network: the fresh app's node_modules holds a symlink to each package of this repository's
 * node_modules (Nest, rxjs, reflect-metadata, supertest, @types/node, ...) and, as a real directory,
 * the unpacked tarball as `nest-jwt-rotation`. Node resolves the symlinks to their real paths, so
 * the app and the package share one @nestjs/common, as an npm install would give them.
 */
const root = process.cwd();
/**
 * Runs a child at the lowest CPU priority: the compilers here must not starve the other e2e files
 * running beside this one (they start servers against deadlines).
 */
function run(file: string, args: string[], options: ExecFileOptions = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { ...options, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stdout, stderr }));
      else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
    if (child.pid !== undefined) setPriority(child.pid, 19);
  });
}
const requireFromRoot = createRequire(join(root, 'package.json'));
/** The oldest TypeScript the package supports (its `typescript` peer range), installed as an alias. */
const OLDEST_TSC = requireFromRoot.resolve('typescript-5.3/bin/tsc');
const CURRENT_TSC = requireFromRoot.resolve('typescript/bin/tsc');
/** Left out of the fresh app; `NODE_PATH` brings them back for the subpaths that need them. */
const OPTIONAL_PEERS_LEFT_OUT = ['@nestjs/swagger', '@nestjs/terminus'];
const EXAMPLE_MARKER = /<!-- testing-example: (\S+) -->\n```ts\n([\s\S]*?)```/g;

const compilerOptions = {
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  strict: true,
  esModuleInterop: true,
  // As `nest new` generates it; syntax the compiler cannot read in a .d.ts is reported all the same.
  skipLibCheck: true,
  target: 'ES2022',
  types: ['node'],
  outDir: 'dist',
};

describe('the packed package in a fresh app', () => {
  let work: string;
  let app: string;
  let tarball: string;
  let files: string[];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'jwt-rotation-package-'));
    await run(process.execPath, [join(root, 'scripts/build-lib.mjs')], { cwd: root });
    const packed = JSON.parse(
      execFileSync('npm', ['pack', './libs/jwt-rotation', '--pack-destination', work, '--json', '--ignore-scripts'], {
        cwd: root,
        encoding: 'utf8',
      }),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(work, packed[0].filename);
    files = packed[0].files.map((file) => file.path);

    app = join(work, 'app');
    const modules = join(app, 'node_modules');
    mkdirSync(modules, { recursive: true });
    for (const entry of readdirSync(join(root, 'node_modules'))) {
      if (entry === '.bin' || entry === 'nest-jwt-rotation') continue;
      if (!entry.startsWith('@')) {
        symlinkSync(join(root, 'node_modules', entry), join(modules, entry));
        continue;
      }
      // Scopes one package at a time, leaving out the optional peers: the app must run without them.
      mkdirSync(join(modules, entry));
      for (const name of readdirSync(join(root, 'node_modules', entry))) {
        if (OPTIONAL_PEERS_LEFT_OUT.includes(`${entry}/${name}`)) continue;
        symlinkSync(join(root, 'node_modules', entry, name), join(modules, entry, name));
      }
    }
    const installed = join(modules, 'nest-jwt-rotation');
    mkdirSync(installed);
    execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);

    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true }));
    // TypeScript before 5.8 cannot compile a CommonJS app against ESM-only Nest 12 under nodenext,
    // so the oldest compiler gets the classic CommonJS setup; the current one gets nodenext.
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'commonjs', moduleResolution: 'node10' }, include: ['src', 'test'] }),
    );
    writeFileSync(
      join(app, 'tsconfig.nodenext.json'),
      JSON.stringify({ extends: './tsconfig.json', compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', noEmit: true } }),
    );
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const [, path, code] of readme.matchAll(EXAMPLE_MARKER)) {
      mkdirSync(dirname(join(app, path)), { recursive: true });
      writeFileSync(join(app, path), code);
    }
  }, 180_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds the package README, the LICENSE and dist, with no spec or internal test helper', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist/index.js', 'dist/testing/index.d.ts']));
    expect(files.filter((file) => !file.startsWith('dist/') && !['README.md', 'LICENSE', 'package.json'].includes(file))).toEqual([]);
    expect(files.filter((file) => /\.spec\.|testing\/test-module/.test(file))).toEqual([]);
    const readme = readFileSync(join(app, 'node_modules/nest-jwt-rotation/README.md'), 'utf8');
    expect(readme).toContain('## Install');
    expect(readme).toContain('npm pack ./libs/jwt-rotation');
    expect(readme).not.toMatch(/git clone|npm test|npm run bench/);
  });

  it('ships source maps that carry their sources', () => {
    const maps = files.filter((file) => file.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(app, 'node_modules/nest-jwt-rotation', map), 'utf8')) as {
        sources: string[];
        sourcesContent?: Array<string | null>;
      };
      expect(sourcesContent, map).toHaveLength(sources.length);
      expect(
        sourcesContent?.every((content) => typeof content === 'string' && content.length > 0),
        map,
      ).toBe(true);
    }
  });

  it('states the TypeScript floor as an optional peer, and marks every optional peer', () => {
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules/nest-jwt-rotation/package.json'), 'utf8')) as {
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    expect(manifest.peerDependencies.typescript).toBe('>=5.3');
    const oldest = JSON.parse(readFileSync(join(root, 'node_modules/typescript-5.3/package.json'), 'utf8')) as { version: string };
    expect(oldest.version).toMatch(/^5\.3\./);
    for (const name of Object.keys(manifest.peerDependenciesMeta)) expect(manifest.peerDependencies).toHaveProperty(name);
    expect(manifest.peerDependenciesMeta.typescript).toEqual({ optional: true });
  });

  it('compiles the README testing example with the oldest supported TypeScript (5.3) and with the current one (nodenext)', async () => {
    expect(readdirSync(join(app, 'test'))).toEqual(['me.e2e-spec.ts']);
    // One after the other, not side by side: the machine is shared with the rest of the suite.
    for (const [tsc, project] of [
      [OLDEST_TSC, 'tsconfig.json'],
      [CURRENT_TSC, 'tsconfig.nodenext.json'],
    ]) {
      await run(process.execPath, [tsc, '-p', project], { cwd: app }).catch((error: { stdout?: string; stderr?: string }) => {
        throw new Error(`${project}: tsc failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
      });
    }
  }, 120_000);

  it('runs the README testing example green against the packed package', async () => {
    const { stdout } = await run(process.execPath, ['--test', 'dist/test/'], { cwd: app }).catch(
      (error: { stdout?: string; stderr?: string }) => {
        throw new Error(`the example spec failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
      },
    );
    expect(stdout).toMatch(/^# pass 4$/m);
    expect(stdout).toMatch(/^# fail 0$/m);
    // It ran the packed package, not this repository's sources.
    const resolved = createRequire(join(app, 'test', 'x.js')).resolve('nest-jwt-rotation/testing');
    expect(resolved).toBe(join(app, 'node_modules/nest-jwt-rotation/dist/testing/index.js'));
  }, 60_000);

  it('loads the swagger and health entries only where their optional peers are installed', async () => {
    const load = "require('nest-jwt-rotation/swagger'); require('nest-jwt-rotation/health'); console.log('loaded')";
    const without = await run(process.execPath, ['-e', load], { cwd: app }).then(
      () => 'loaded',
      (error: { stderr?: string }) => error.stderr ?? '',
    );
    expect(without).toMatch(/Cannot find (module|package) '@nestjs\/(swagger|terminus)'/);
    const { stdout } = await run(process.execPath, ['-e', load], {
      cwd: app,
      env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
    });
    expect(stdout.trim()).toBe('loaded');
  }, 60_000);
});
