#!/usr/bin/env node
/**
 * `npm run bench`: compiles the bench app and the library with tsc (decorator metadata included),
 * then runs, each in its own process:
 *   1. micro: sign/verify per second, every library on the same token, against a node:crypto floor;
 *   2. http: one Nest app holding every route, on Express then Fastify, autocannon from here;
 *   3. rotation: the JwtGuard route while the key ring rotates every few seconds;
 *   4. revocation: the in-memory view with 100,000 revoked sessions: bytes per entry, verify speed;
 * and writes bench/RESULTS.md (the tables are printed too).
 *
 * Environment: BENCH_QUICK=1 for a ~1 minute development run (written to the temp dir, not
 * RESULTS.md, unless BENCH_OUT is set); BENCH_ONLY=micro,http,rotation to run a subset;
 * BENCH_ADAPTERS=express,fastify; BENCH_ALGS=HS256,... (micro); BENCH_OUT=path to write the report
 * elsewhere. `node bench/run.mjs --render file.json` rewrites the report from a run's saved figures.
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureRoutes, ROUTES, startServer } from './lib/http.mjs';
import { renderReport } from './lib/report.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, '..');
const quick = process.env.BENCH_QUICK === '1';
const only = new Set((process.env.BENCH_ONLY ?? 'micro,http,rotation,revocation').split(',').map((s) => s.trim()));
const adapters = (process.env.BENCH_ADAPTERS ?? 'express,fastify').split(',').map((s) => s.trim());

const SETTINGS = quick
  ? {
      http: { connections: 32, seconds: 1, warmupSeconds: 0.5, rounds: 2 },
      rotation: { connections: 32, seconds: 1.5, warmupSeconds: 0.5, rounds: 2, rotationInterval: '3s', tokenEveryMs: 250 },
    }
  : {
      // Many short rounds rather than a few long ones: two cases compared within a round run close
      // together in time, so load that comes and goes on a shared machine hits both alike.
      http: { connections: 32, seconds: 2, warmupSeconds: 1, rounds: 8 },
      rotation: { connections: 32, seconds: 2, warmupSeconds: 1, rounds: 6, rotationInterval: '3s', tokenEveryMs: 250 },
    };

const started = Date.now();
const log = (message) => console.log(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${message}`);
/** The 1-minute load average as each part starts: how much else ran on the machine meanwhile. */
const phases = [];
const phase = (name, description) => {
  phases.push({ name, loadAverage: os.loadavg()[0] });
  log(description);
};

function git(...args) {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** tsc into node_modules/.cache, so the compiled files resolve the project's node_modules. */
function compile() {
  const outDir = path.join(root, 'node_modules', '.cache', 'nest-jwt-rotation-bench', `${process.pid}-${Date.now()}`);
  mkdirSync(outDir, { recursive: true });
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(benchDir, 'tsconfig.json'), '--outDir', outDir], { cwd: root, stdio: 'inherit' });
  } catch {
    rmSync(outDir, { recursive: true, force: true });
    throw new Error('tsc failed on the bench or the library (see above)');
  }
  return outDir;
}

function runMicro(outDir) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(outDir, 'bench', 'ts', 'micro.js'), [], {
      env: { ...process.env, NODE_ENV: 'production', BENCH_QUICK: quick ? '1' : '0' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result;
    child.on('message', (message) => (result = message));
    child.once('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`micro bench exited with code ${code}`))));
  });
}

function runRevocation(outDir) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(outDir, 'bench', 'ts', 'revocation.js'), [], {
      execArgv: ['--expose-gc'],
      env: { ...process.env, NODE_ENV: 'production', BENCH_QUICK: quick ? '1' : '0' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result;
    child.on('message', (message) => (result = message));
    child.once('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`revocation bench exited with code ${code}`))));
  });
}

async function runHttp(outDir, adapter) {
  const server = await startServer(path.join(outDir, 'bench', 'ts', 'server.js'), { BENCH_ADAPTER: adapter });
  try {
    const settings = { ...SETTINGS.http, token: server.token };
    const runs = await measureRoutes(server, ROUTES, settings, log);
    return { runs };
  } finally {
    await server.stop();
  }
}

/**
 * The JwtGuard route while the ring rotates every `rotationInterval`: the load generator sends,
 * request by request, either the newest token (signed by the key that signs now) or one of the
 * tokens signed since the run began (older keys, still valid). Every one of them is valid, so
 * every non-2xx answer is a valid token refused.
 */
async function runRotation(outDir, adapter) {
  const settings = SETTINGS.rotation;
  const server = await startServer(path.join(outDir, 'bench', 'ts', 'server.js'), {
    BENCH_ADAPTER: adapter,
    BENCH_ROTATION_INTERVAL: settings.rotationInterval,
  });
  const pool = [server.token];
  let refreshing = false;
  const refresh = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    server
      .newToken()
      .then((token) => pool.push(token))
      .finally(() => (refreshing = false));
  }, settings.tokenEveryMs);
  let turn = 0;
  const tokenFor = () => (turn++ & 1 ? pool[pool.length - 1] : pool[Math.floor(Math.random() * pool.length)]);
  try {
    const routes = ROUTES.filter((route) => route.id === 'jwt' || route.id === 'bare');
    const startedAt = Date.now();
    const runs = await measureRoutes(server, routes, { ...settings, tokenFor }, log);
    const kids = new Set(pool.map(kidOf));
    // The first key signed before the load began; every other one took over during the runs.
    return { runs, seconds: (Date.now() - startedAt) / 1000, tokensIssued: pool.length, newKeysDuringRuns: kids.size - 1 };
  } finally {
    clearInterval(refresh);
    await server.stop();
  }
}

function kidOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')).kid;
}

/** `node bench/run.mjs --render results.json`: writes the report again from a run's saved figures. */
function render(file) {
  const results = JSON.parse(readFileSync(file, 'utf8'));
  const out = process.env.BENCH_OUT ? path.resolve(process.env.BENCH_OUT) : path.join(benchDir, 'RESULTS.md');
  writeFileSync(out, renderReport(results).markdown);
  console.log(`report of the run of ${results.meta.date} written to ${out}`);
}

async function main() {
  const renderAt = process.argv.indexOf('--render');
  if (renderAt !== -1) return render(process.argv[renderAt + 1]);
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
    mode: quick ? 'quick (BENCH_QUICK=1)' : 'full',
    commit: git('rev-parse', '--short', 'HEAD'),
    dirty: git('status', '--porcelain').length > 0,
    settings: SETTINGS,
  };
  log(`compiling the bench and the library (tsc) — ${meta.mode} run, Node ${meta.node}, ${meta.cores} cores`);
  const outDir = compile();
  const results = { meta };
  try {
    if (only.has('micro')) {
      phase('micro', 'micro: sign and verify per second');
      results.micro = await runMicro(outDir);
    }
    if (only.has('http')) {
      results.http = { settings: SETTINGS.http, adapters: {} };
      for (const adapter of adapters) {
        phase(`http ${adapter}`, `http: ${adapter}`);
        results.http.adapters[adapter] = await runHttp(outDir, adapter);
      }
    }
    if (only.has('rotation')) {
      results.rotation = { settings: SETTINGS.rotation, adapters: {} };
      for (const adapter of adapters) {
        phase(`rotation ${adapter}`, `rotation: ${adapter}, keys rotating every ${SETTINGS.rotation.rotationInterval}`);
        results.rotation.adapters[adapter] = await runRotation(outDir, adapter);
      }
    }
    if (only.has('revocation')) {
      phase('revocation', 'revocation: 100,000 revoked sessions in the in-memory view');
      results.revocation = await runRevocation(outDir);
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  meta.durationSeconds = Math.round((Date.now() - started) / 1000);
  meta.loadAverageAtEnd = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  meta.phases = phases;

  const { markdown, failed } = renderReport(results);
  const out = process.env.BENCH_OUT
    ? path.resolve(process.env.BENCH_OUT)
    : quick || only.size < 4
      ? path.join(os.tmpdir(), 'nest-jwt-rotation-bench-RESULTS.partial.md')
      : path.join(benchDir, 'RESULTS.md');
  const raw = path.join(os.tmpdir(), `nest-jwt-rotation-bench-${quick ? 'quick' : 'full'}.json`);
  writeFileSync(out, markdown);
  writeFileSync(raw, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n${markdown}`);
  log(`report written to ${path.relative(process.cwd(), out) || out}; every per-round figure in ${raw}`);
  log(failed.length === 0 ? 'every target met' : `targets missed: ${failed.join('; ')}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
