/**
 * Revocation at scale: the in-memory revocation view holding 100,000 revoked sessions.
 *   - memory: heap per entry, measured with a forced GC around filling a fresh view;
 *   - speed: TokenService.verify of a live token with that view against an empty one, the two
 *     alternating round by round in this process (each in its own app context).
 * Needs --expose-gc (run.mjs forks it so).
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { TokenService } from '../../libs/jwt-rotation/src';
import { RevocationView } from '../../libs/jwt-rotation/src/sessions/revocation-view';
import { BenchCoreModule } from './bench.module';
import { PRIVATE_CLAIMS, SUBJECT } from './shape';

const ENTRIES = 100_000;
const quick = process.env.BENCH_QUICK === '1';
const gc = (globalThis as { gc?: () => void }).gc;

/** A session id as the library makes them: 16 random bytes, base64url. */
const sid = () => randomBytes(16).toString('base64url');

function heapPerEntry(): number {
  if (!gc) throw new Error('run with --expose-gc');
  const expiresAt = Date.now() + 3_600_000;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const view = new RevocationView();
  // The ids are made inside the measurement: the view keeps each one, so its string counts.
  for (let i = 0; i < ENTRIES; i++) view.addSession(sid(), expiresAt);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (view.size !== ENTRIES) throw new Error('view not filled');
  return (after - before) / ENTRIES;
}

async function main(): Promise<void> {
  const bytesPerEntry = heapPerEntry();
  const open = () => NestFactory.createApplicationContext(BenchCoreModule.register({ algorithm: 'HS256' }), { logger: ['error'] });
  const [empty, full] = [await open(), await open()];
  const expiresAt = Date.now() + 3_600_000;
  const fullView = full.get(RevocationView);
  for (let i = 0; i < ENTRIES; i++) fullView.addSession(sid(), expiresAt);
  const cases = [empty, full].map((context) => {
    const tokens = context.get(TokenService);
    const token = tokens.sign({ ...PRIVATE_CLAIMS, sid: sid() }, { subject: SUBJECT });
    return () => tokens.verify(token);
  });
  const rounds = quick ? 5 : 15;
  const batch = quick ? 20_000 : 60_000;
  const opsPerSec: [number[], number[]] = [[], []];
  for (let round = -2; round < rounds; round++) {
    for (const index of round % 2 ? [0, 1] : [1, 0]) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) cases[index]();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (round >= 0) opsPerSec[index].push(batch / seconds); // rounds below 0 are warm-up
    }
  }
  await empty.close();
  await full.close();
  process.send!({ entries: ENTRIES, bytesPerEntry, emptyOpsPerSec: opsPerSec[0], fullOpsPerSec: opsPerSec[1] });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
