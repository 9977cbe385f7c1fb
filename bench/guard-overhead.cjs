// Usage: node bench/guard-overhead.cjs <old checkout> <new checkout> (each with its .test-build from the e2e setup).
// Guard overhead alone: JwtGuard.canActivate with a TokenService whose verify returns fixed claims,
// on a fake HTTP ExecutionContext, old build vs new build, alternating. ns per call.
const path = require('node:path');
const roots = process.argv.slice(2).map((root) => path.resolve(root));
function load(root) {
  const req = (p) => require(path.join(root, '.test-build/libs/jwt-rotation/src', p));
  const { JwtGuard } = req('http/jwt.guard.js');
  const { TokenRejections } = req('http/token-rejections.js');
  const { resolveOptions } = req('jwt-rotation.options.js');
  const { Reflector } = require(path.join(root, 'node_modules/@nestjs/core'));
  const claims = { sub: 'carol' };
  const tokens = { verify: () => claims };
  const guard = new JwtGuard(tokens, new Reflector(), resolveOptions({ issuer: 'https://t.test' }), new TokenRejections());
  class Ctl {
    handler() {}
  }
  const request = { headers: { authorization: 'Bearer aaaa.bbbb.cccc' }, method: 'GET' };
  const http = { getRequest: () => request, getResponse: () => ({}) };
  const context = { getType: () => 'http', getHandler: () => Ctl.prototype.handler, getClass: () => Ctl, switchToHttp: () => http };
  return () => guard.canActivate(context);
}
const runs = roots.map((root) => ({ root, fn: load(root), ns: [] }));
const N = 2_000_000;
for (let round = 0; round < 6; round++) {
  for (const run of runs) {
    for (let i = 0; i < 50_000; i++) run.fn();
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) run.fn();
    run.ns.push(Number(process.hrtime.bigint() - t) / N);
  }
}
for (const run of runs) {
  const sorted = [...run.ns].sort((a, b) => a - b);
  console.log(
    `${run.root}: median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ns/call, min ${sorted[0].toFixed(1)}, rounds ${run.ns.map((n) => n.toFixed(1)).join(' ')}`,
  );
}
