/** Turns the bench results into bench/RESULTS.md: targets first, then every table. */
import { fixed, int, median, pairedDifferences, pairedRatios, ratioCell, table } from './stats.mjs';
import { ROUTES } from './http.mjs';

const ADAPTER_NAMES = { express: 'Express', fastify: 'Fastify' };
/** Required JwtGuard ÷ /bare request rate per adapter (issue 5). */
const BARE_RATIO_TARGET = { express: 0.85, fastify: 0.8 };
/** Required TokenService.verify ÷ node:crypto floor per algorithm (issue 5). */
const VERIFY_FLOOR_TARGET = { HS256: 0.6, ES256: 0.9, EdDSA: 0.9, RS256: 0.9 };

const series = (cases, id) => cases.find((c) => c.id === id)?.opsPerSec ?? [];
const field = (runs, name) => runs.map((run) => run[name]);
const sum = (values) => values.reduce((a, b) => a + b, 0);

function atLeast(name, values, target, digits = 3) {
  const measured = median(values);
  const met = measured >= target;
  const pct = ((measured / target - 1) * 100).toFixed(0);
  return {
    name,
    measured: ratioCell(values, digits),
    required: `≥ ${target}`,
    met,
    margin: met ? `met, ${pct}% above` : `missed, ${-pct}% below`,
  };
}

function atMost(name, values, target, unit) {
  const measured = median(values);
  const met = measured <= target;
  const gap = Math.abs(target - measured).toFixed(1);
  return {
    name,
    measured: `${ratioCell(values, 1)} ${unit}`,
    required: `≤ ${target} ${unit}`,
    met,
    margin: met ? `met, ${gap} ${unit} to spare` : `missed by ${gap} ${unit}`,
  };
}

function zero(name, count, context) {
  return { name, measured: `${count} ${context}`, required: '0', met: count === 0, margin: count === 0 ? 'met' : `missed (${count})` };
}

/** `TokenService.<kind>` ÷ the node:crypto floor, with fast-jwt (the fastest library compared) as its bound. */
function floorTarget(algorithm, kind, target) {
  const library = series(algorithm[kind], 'library-sync');
  const floor = series(algorithm[kind], 'floor');
  const fast = series(algorithm[kind], 'fast-jwt');
  return {
    ...atLeast(`TokenService.${kind} ÷ node:crypto floor, ${algorithm.alg} (micro)`, pairedRatios(library, floor), target),
    bound:
      `fast-jwt${kind === 'verify' ? ' (no cache)' : ''} ${ratioCell(pairedRatios(fast, floor))}; ` +
      `TokenService.${kind} ÷ fast-jwt ${ratioCell(pairedRatios(library, fast))}`,
  };
}

function microTargets(micro, targets) {
  for (const algorithm of micro.results) {
    if (VERIFY_FLOOR_TARGET[algorithm.alg]) targets.push(floorTarget(algorithm, 'verify', VERIFY_FLOOR_TARGET[algorithm.alg]));
    if (algorithm.alg !== 'HS256') continue;
    targets.push(
      atLeast(
        'TokenService.verifyAsync ÷ verify, HS256 (micro; within 10%)',
        pairedRatios(series(algorithm.verify, 'library-async'), series(algorithm.verify, 'library-sync')),
        0.9,
      ),
    );
    targets.push(floorTarget(algorithm, 'sign', 0.5));
    const store = algorithm.store;
    targets.push(
      zero(
        'Store commands per verify/sign call, HS256 (micro)',
        store.outsideReconcile + store.unknownKidReloads,
        `in ${int(store.libraryOperations)} calls`,
      ),
    );
  }
}

function httpTargets(http, targets) {
  for (const [adapter, { runs }] of Object.entries(http.adapters)) {
    const name = ADAPTER_NAMES[adapter] ?? adapter;
    const rps = (id) => field(runs[id], 'rps');
    const cpu = (id) => field(runs[id], 'cpuPerRequestUs');
    // Runs saved before the /floor route existed have no floor figures.
    const floorBound = (text) => (runs.floor ? text() : undefined);
    if (BARE_RATIO_TARGET[adapter])
      targets.push({
        ...atLeast(`JwtGuard ÷ /bare req/s, ${name}`, pairedRatios(rps('jwt'), rps('bare')), BARE_RATIO_TARGET[adapter]),
        bound: floorBound(() => `/floor (signature check alone) ÷ /bare ${ratioCell(pairedRatios(rps('floor'), rps('bare')))}`),
      });
    targets.push({
      ...atLeast(`JwtGuard ÷ passport-jwt (as documented) req/s, ${name}`, pairedRatios(rps('jwt'), rps('passport-documented')), 4),
      bound: `no guard at all (/bare) ÷ passport-jwt ${ratioCell(pairedRatios(rps('bare'), rps('passport-documented')))}`,
    });
    targets.push({
      ...atMost(`Server CPU of JwtGuard over /noop, HS256, ${name}`, pairedDifferences(cpu('jwt'), cpu('noop')), 6, 'µs/req'),
      bound: floorBound(
        () => `/floor (signature check alone) over /noop ${ratioCell(pairedDifferences(cpu('floor'), cpu('noop')), 1)} µs/req`,
      ),
    });
    const verified = [...runs.jwt, ...runs['jwt-roles']];
    const fromRequests = sum(verified.map((run) => run.store.outsideReconcile + run.store.unknownKidReloads));
    targets.push(
      zero(`Store commands per verified request, ${name}`, fromRequests, `in ${int(sum(field(verified, 'requests')))} requests`),
    );
  }
}

function rotationTargets(rotation, targets) {
  for (const [adapter, result] of Object.entries(rotation.adapters)) {
    const runs = result.runs.jwt;
    targets.push(
      zero(
        `Valid tokens refused under rotation (non-2xx), ${ADAPTER_NAMES[adapter] ?? adapter}`,
        sum(field(runs, 'non2xx')) + sum(field(runs, 'errors')),
        `in ${int(sum(field(runs, 'requests')))} requests, ${result.newKeysDuringRuns} new keys`,
      ),
    );
  }
}

function microSection(micro) {
  const lines = ['## Micro: sign and verify per second', ''];
  const s = micro.settings;
  lines.push(
    `One process, one token shape (header alg, kid, typ; claims sub, iat, nbf, exp, iss, aud, jti, sid, roles). ` +
      `Each case: ${s.warmupMs} ms warm-up, then ${s.rounds} rounds of a ~${s.batchMs} ms batch, the case order rotating every round. ` +
      `ops/s is the median over rounds; "× floor" is the median of the per-round ratios to the node:crypto floor of the same round ` +
      `(min–max in parentheses). Async cases are awaited one at a time.`,
    '',
  );
  for (const algorithm of micro.results) {
    for (const kind of ['verify', 'sign']) {
      const cases = algorithm[kind];
      const floor = series(cases, 'floor');
      const library = series(cases, 'library-sync');
      lines.push(`### ${algorithm.alg} ${kind} (token of ${algorithm.tokenBytes} bytes)`, '');
      lines.push(
        table(
          ['Case', 'ops/s', '× floor', `TokenService.${kind} ÷ case`],
          cases.map((c) => [
            c.label,
            int(median(c.opsPerSec)),
            ratioCell(pairedRatios(c.opsPerSec, floor)),
            c.id === 'library-sync' ? '1' : ratioCell(pairedRatios(library, c.opsPerSec), 1),
          ]),
          ['l', 'r', 'r', 'r'],
        ),
        '',
      );
    }
  }
  if (micro.pending?.length)
    lines.push(
      `Not measured yet: ${micro.pending.join(', ')} — pending asymmetric keys in the library (one entry in bench/ts/algorithms.ts each).`,
      '',
    );
  return lines;
}

function httpSection(http) {
  const s = http.settings;
  const lines = [
    '## HTTP: one Nest app, every route',
    '',
    `autocannon in the parent process, the server in its own; ${s.connections} connections, no pipelining; ` +
      `${s.warmupSeconds} s warm-up per route, then ${s.rounds} rounds of ${s.seconds} s per route, the route order rotating every round. ` +
      `Every route answers the same JSON body (the token's claims) to the same request (same Authorization header). ` +
      `Server CPU is the server process's own user+system CPU time (process.cpuUsage(), sampled in the server over IPC ` +
      `before and after each run) divided by the requests of that run. req/s, CPU and p99 are medians over rounds; ` +
      `"× /bare" and "over /noop" are medians of per-round ratios and differences (min–max in parentheses). ` +
      `"Server busy" is server CPU time ÷ wall time: near 100% means the server, not the load generator, was the bottleneck.`,
    '',
  ];
  for (const [adapter, { runs }] of Object.entries(http.adapters)) {
    const bare = field(runs.bare, 'rps');
    const noopCpu = field(runs.noop, 'cpuPerRequestUs');
    lines.push(`### ${ADAPTER_NAMES[adapter] ?? adapter}`, '');
    lines.push(
      table(
        ['Route', 'req/s', '× /bare', 'server CPU µs/req', 'CPU over /noop µs/req', 'p99 ms', 'non-2xx', 'server busy'],
        ROUTES.map((route) => {
          const r = runs[route.id];
          const cpu = field(r, 'cpuPerRequestUs');
          return [
            route.label,
            int(median(field(r, 'rps'))),
            route.id === 'bare' ? '1' : ratioCell(pairedRatios(field(r, 'rps'), bare)),
            fixed(median(cpu)),
            route.id === 'noop' ? '0' : ratioCell(pairedDifferences(cpu, noopCpu), 1),
            fixed(median(field(r, 'p99Ms')), 0),
            String(sum(field(r, 'non2xx')) + sum(field(r, 'errors'))),
            `${fixed(median(field(r, 'serverBusy')) * 100, 0)}%`,
          ];
        }),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
    );
    const jwtOver = pairedDifferences(field(runs.jwt, 'cpuPerRequestUs'), noopCpu);
    const passportOver = pairedDifferences(field(runs.passport, 'cpuPerRequestUs'), noopCpu);
    lines.push(
      `JwtGuard ÷ passport-jwt as documented, req/s: ${ratioCell(pairedRatios(field(runs.jwt, 'rps'), field(runs['passport-documented'], 'rps')))}; ` +
        `÷ passport-jwt given a KeyObject: ${ratioCell(pairedRatios(field(runs.jwt, 'rps'), field(runs.passport, 'rps')))}; ` +
        `no guard at all could do better than /bare ÷ passport-jwt: ${ratioCell(pairedRatios(bare, field(runs.passport, 'rps')))}; ` +
        `guard cost alone (CPU over /noop), passport-jwt ÷ JwtGuard: ${ratioCell(pairedRatios(passportOver, jwtOver), 1)}; ` +
        `@nestjs/jwt guard ÷ JwtGuard: ${ratioCell(pairedRatios(pairedDifferences(field(runs['nestjs-jwt'], 'cpuPerRequestUs'), noopCpu), jwtOver), 1)}.`,
      '',
    );
    if (runs.floor) {
      const floorCpu = field(runs.floor, 'cpuPerRequestUs');
      lines.push(
        `The signature alone, inside this server: /floor costs ${ratioCell(pairedDifferences(floorCpu, noopCpu), 1)} µs/req over /noop ` +
          `and serves ${ratioCell(pairedRatios(field(runs.floor, 'rps'), bare))} × /bare, the most any verifying guard could; ` +
          `JwtGuard's own work beyond it (header, JSON, claims, revocations, request.user) is ` +
          `${ratioCell(pairedDifferences(field(runs.jwt, 'cpuPerRequestUs'), floorCpu), 1)} µs/req.`,
        '',
      );
    }
    const verified = [...runs.jwt, ...runs['jwt-roles']];
    const storeAll = sum(verified.map((run) => run.store.commands));
    lines.push(
      `Store commands during the JwtGuard runs: ${sum(verified.map((run) => run.store.outsideReconcile))} outside reconciles, ` +
        `${sum(verified.map((run) => run.store.unknownKidReloads))} unknown-kid reloads, ${storeAll} in all ` +
        `(${sum(verified.map((run) => run.store.reconciles))} scheduled reconciles) for ${int(sum(field(verified, 'requests')))} verified requests.`,
      '',
    );
  }
  return lines;
}

function rotationSection(rotation) {
  const s = rotation.settings;
  const lines = [
    '## Under key rotation',
    '',
    `A fresh server with rotationInterval ${s.rotationInterval} (the reconcile tick runs every interval ÷ 8). The parent asks the server for a ` +
      `newly signed token every ${s.tokenEveryMs} ms; every other request carries the newest token (the key signing now), the rest a random ` +
      `one of the tokens issued so far (older keys, retired but still valid). Every token sent is valid, so every non-2xx answer is a ` +
      `valid token refused. ${s.rounds} rounds of ${s.seconds} s, /jwt and /bare alternating (same requests).`,
    '',
  ];
  lines.push(
    table(
      [
        'Adapter',
        'measured for',
        'new signing keys',
        'tokens issued',
        'JwtGuard requests',
        'refused (non-2xx + errors)',
        'JwtGuard ÷ /bare req/s',
        'store commands (outside reconciles)',
      ],
      Object.entries(rotation.adapters).map(([adapter, result]) => {
        const jwt = result.runs.jwt;
        const all = [...jwt, ...result.runs.bare];
        return [
          ADAPTER_NAMES[adapter] ?? adapter,
          `${fixed(result.seconds, 0)} s`,
          String(result.newKeysDuringRuns),
          String(result.tokensIssued),
          int(sum(field(jwt, 'requests'))),
          String(sum(field(jwt, 'non2xx')) + sum(field(jwt, 'errors'))),
          ratioCell(pairedRatios(field(jwt, 'rps'), field(result.runs.bare, 'rps'))),
          `${sum(all.map((r) => r.store.commands))} (${sum(all.map((r) => r.store.outsideReconcile))})`,
        ];
      }),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
  );
  return lines;
}

export function renderReport(results) {
  const { meta } = results;
  const targets = [];
  if (results.micro) microTargets(results.micro, targets);
  if (results.http) httpTargets(results.http, targets);
  if (results.rotation) rotationTargets(results.rotation, targets);
  if (results.revocation) targets.push(atMost('Revocation view, bytes per revoked session', [results.revocation.bytesPerEntry], 150, 'B'));

  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run.mjs); method in [docs/benchmarks.md](../docs/benchmarks.md).`,
    '',
    `- Date: ${meta.date}`,
    `- Node: ${meta.node} on ${meta.platform}`,
    `- Cores: ${meta.cores} (${meta.cpuModel})`,
    `- Run: ${meta.mode}, ${meta.durationSeconds} s; commit ${meta.commit || 'unknown'}${meta.dirty ? ' with uncommitted changes' : ''}`,
    `- Load average (1, 5, 15 min) at start / end: ${meta.loadAverageAtStart} / ${meta.loadAverageAtEnd}; ` +
      `1-min load as each part started: ${(meta.phases ?? []).map((p) => `${p.name} ${p.loadAverage.toFixed(2)}`).join(', ')}. ` +
      `Above ${meta.cores}, other work shared the cores: expect wider ranges (every comparison is still a same-run ratio).`,
    '',
    '## Targets',
    '',
    'Every figure is a ratio or difference of cases measured in the same run: the median over rounds of per-round figures, min–max in parentheses.',
    '',
    'The last column is the same figure for the cheapest possible code in the same run, where there is one: what the target is up against on this machine.',
    '',
    table(
      ['Target', 'Measured', 'Required', 'Result', 'Bound in this run'],
      targets.map((t) => [
        t.name,
        t.measured,
        t.required,
        t.met ? `**${t.margin}**` : `**MISSED**${t.margin.slice('missed'.length)}`,
        t.bound ?? '',
      ]),
    ),
    '',
  ];
  if (results.micro) lines.push(...microSection(results.micro));
  if (results.http) lines.push(...httpSection(results.http));
  if (results.rotation) lines.push(...rotationSection(results.rotation));
  if (results.revocation) lines.push(...revocationSection(results.revocation));
  return {
    markdown: lines.join('\n'),
    failed: targets.filter((t) => !t.met).map((t) => `${t.name}: ${t.measured} (required ${t.required})`),
  };
}

function revocationSection(r) {
  const ratios = r.fullOpsPerSec.map((ops, i) => ops / r.emptyOpsPerSec[i]);
  return [
    '## Revocation: 100,000 revoked sessions in the in-memory view',
    '',
    `One process, \`node --expose-gc\`. Memory: heap growth, after forced GCs, of a fresh \`RevocationView\` filled with ${r.entries.toLocaleString('en-US')} ` +
      'revoked sessions (22-character ids, as the library makes them), divided by the entries. Speed: `TokenService.verify` of a live token ' +
      'with that view against an empty one, alternating round by round.',
    '',
    table(
      ['Figure', 'Value'],
      [
        ['Bytes per revoked session (target ≤ 150)', r.bytesPerEntry.toFixed(0)],
        ['verify ops/s, empty view (median)', Math.round(median(r.emptyOpsPerSec)).toLocaleString('en-US')],
        ['verify ops/s, 100,000 revoked sessions (median)', Math.round(median(r.fullOpsPerSec)).toLocaleString('en-US')],
        [
          'full ÷ empty (median, min–max)',
          `${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
        ],
      ],
    ),
    '',
  ];
}
