/**
 * HTTP bench: the bench server in a child process (one Nest app, every route), autocannon in
 * this process as the load generator, and the server's own CPU time sampled over IPC around
 * every measured run.
 */
import autocannon from 'autocannon';
import { fork } from 'node:child_process';

/** The routes, all answering the same body; `id` is what the report and the ratios use. */
export const ROUTES = [
  { id: 'bare', path: '/bare', label: '/bare (no guard)' },
  { id: 'noop', path: '/noop', label: '/noop (reference guard: Bearer header present)' },
  { id: 'floor', path: '/floor', label: '/floor (crypto floor guard: the node:crypto signature check alone, no JSON, no claims)' },
  { id: 'jwt', path: '/jwt', label: 'JwtGuard' },
  { id: 'jwt-roles', path: '/jwt-roles', label: 'JwtGuard + RolesGuard' },
  {
    id: 'passport-documented',
    path: '/passport-documented',
    label: "@nestjs/passport AuthGuard('jwt') + passport-jwt, as documented (secretOrKey: the secret)",
  },
  { id: 'nestjs-jwt-documented', path: '/nestjs-jwt-documented', label: 'guard calling @nestjs/jwt verifyAsync, as documented (secret)' },
  { id: 'passport', path: '/passport', label: "@nestjs/passport AuthGuard('jwt') + passport-jwt, given a KeyObject (its fastest form)" },
  { id: 'nestjs-jwt', path: '/nestjs-jwt', label: 'guard calling @nestjs/jwt verifyAsync, given a KeyObject (its fastest form)' },
];

/** A bench server process; `request` sends one IPC message and waits for its answer. */
export async function startServer(script, env) {
  const child = fork(script, [], {
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map();
  let nextId = 1;
  const ready = new Promise((resolve, reject) => {
    child.on('message', (message) => {
      if (message.id === 0) resolve(message);
      pending.get(message.id)?.(message);
      pending.delete(message.id);
    });
    child.once('exit', (code) => reject(new Error(`bench server exited with code ${code} before it was ready`)));
  });
  const { port, token } = await ready;
  const request = (type) =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ id, type });
    });
  return {
    port,
    token,
    sample: () => request('sample'),
    newToken: async () => (await request('token')).token,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ id: nextId++, type: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function cannon(options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

/**
 * One measured run against one route: requests per second, p99 latency, non-2xx count, and the
 * server's CPU time per request from process.cpuUsage() sampled in the server before and after.
 */
export async function measureRoute(server, path, { connections, seconds, token, tokenFor }) {
  const before = await server.sample();
  const result = await cannon({
    url: `http://127.0.0.1:${server.port}${path}`,
    connections,
    duration: seconds,
    pipelining: 1,
    timeout: 10,
    ...(tokenFor
      ? {
          requests: [
            {
              method: 'GET',
              path,
              setupRequest(request) {
                request.headers = { ...request.headers, authorization: `Bearer ${tokenFor()}` };
                return request;
              },
            },
          ],
        }
      : { headers: { authorization: `Bearer ${token}` } }),
  });
  const after = await server.sample();
  const cpuMicros = after.cpu.user - before.cpu.user + (after.cpu.system - before.cpu.system);
  const wallMicros = Number(BigInt(after.wallNs) - BigInt(before.wallNs)) / 1000;
  const requests = result.requests.total;
  return {
    rps: requests / result.duration,
    requests,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    p99Ms: result.latency.p99,
    cpuPerRequestUs: cpuMicros / requests,
    serverBusy: cpuMicros / wallMicros,
    store: {
      commands: after.store.commands - before.store.commands,
      outsideReconcile: after.store.outsideReconcile - before.store.outsideReconcile,
      unknownKidReloads: after.store.unknownKidReloads - before.store.unknownKidReloads,
      reconciles: after.store.reconciles - before.store.reconciles,
    },
  };
}

/**
 * Warm-up, then `rounds` rounds of one run per route, the route order rotating each round so no
 * route always runs first or right after another.
 */
export async function measureRoutes(server, routes, settings, log) {
  for (const route of routes) {
    await measureRoute(server, route.path, { ...settings, seconds: settings.warmupSeconds });
  }
  const runs = Object.fromEntries(routes.map((route) => [route.id, []]));
  for (let round = 0; round < settings.rounds; round++) {
    for (let i = 0; i < routes.length; i++) {
      const route = routes[(i + round) % routes.length];
      const run = await measureRoute(server, route.path, settings);
      runs[route.id].push(run);
      log?.(
        `  round ${round + 1}/${settings.rounds} ${route.id.padEnd(10)} ${Math.round(run.rps).toString().padStart(6)} req/s  ${run.cpuPerRequestUs.toFixed(1).padStart(6)} µs CPU/req  p99 ${run.p99Ms} ms  non-2xx ${run.non2xx}`,
      );
    }
  }
  return runs;
}
