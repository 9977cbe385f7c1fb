/**
 * Micro benchmark: sign and verify per second for each algorithm of BENCH_ALGORITHMS, every case
 * on the same token shape, in one process. Cases alternate within each round (the order rotates
 * every round); run.mjs turns the per-round figures into medians and same-round ratios.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { JwtSecretRequestType, JwtService } from '@nestjs/jwt';
import { createSigner, createVerifier } from 'fast-jwt';
import { importJWK, jwtVerify, SignJWT } from 'jose';
import type { Algorithm as JsonWebTokenAlgorithm } from 'jsonwebtoken';
import { randomBytes } from 'node:crypto';
import { ACCESS_TOKEN_TYPE, TokenService } from '../../libs/jwt-rotation/src';
import { BENCH_ALGORITHMS, type BenchAlgorithm, EXTRA_BENCH_ALGORITHMS, keyForms, PENDING_ALGORITHMS } from './algorithms';
import { BenchCoreModule } from './bench.module';
import { readSigningKey } from './key-material';
import { countStoreCommands } from './store-counter';
import { AUDIENCE, ISSUER, PRIVATE_CLAIMS, SUBJECT, TOKEN_TTL_SECONDS } from './shape';

interface Case {
  /** Stable id, used by run.mjs for ratios. */
  id: string;
  label: string;
  run: () => unknown;
  async: boolean;
}

interface Settings {
  rounds: number;
  batchMs: number;
  warmupMs: number;
}

export interface CaseResult {
  id: string;
  label: string;
  /** Operations per second, one figure per round. */
  opsPerSec: number[];
  /** Operations run, warm-up included. */
  operations: number;
}

export interface AlgorithmResult {
  alg: string;
  verify: CaseResult[];
  sign: CaseResult[];
  tokenBytes: number;
  /** Store commands counted while the library's cases ran. */
  store: { commands: number; outsideReconcile: number; unknownKidReloads: number; libraryOperations: number };
}

let sink: unknown;

function timeSync(run: () => unknown, n: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink = run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function timeAsync(run: () => unknown, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink = await run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const time = (c: Case, n: number): Promise<number> | number => (c.async ? timeAsync(c.run, n) : timeSync(c.run, n));

/** Warm-up, then `rounds` rounds of one batch per case, the case order rotating each round. */
async function measure(cases: Case[], settings: Settings): Promise<CaseResult[]> {
  const batch = new Map<string, number>();
  const operations = new Map<string, number>();
  for (const c of cases) {
    // Warm-up doubles as calibration: how many operations fill one batch.
    let n = 64;
    let spent = 0;
    let done = 0;
    while (spent * 1000 < settings.warmupMs) {
      spent += await time(c, n);
      done += n;
      n = Math.min(n * 2, 1 << 16);
    }
    batch.set(c.id, Math.max(64, Math.round((done / spent) * (settings.batchMs / 1000))));
    operations.set(c.id, done);
  }
  const results = cases.map((c) => ({ id: c.id, label: c.label, opsPerSec: [] as number[], operations: 0 }));
  for (let round = 0; round < settings.rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const index = (i + round) % cases.length;
      const n = batch.get(cases[index].id)!;
      results[index].opsPerSec.push(n / (await time(cases[index], n)));
    }
  }
  for (const r of results) r.operations = operations.get(r.id)! + batch.get(r.id)! * settings.rounds;
  void sink;
  return results;
}

function check(condition: unknown, message: string): void {
  if (!condition) throw new Error(`bench self-check failed: ${message}`);
}

async function benchAlgorithm(algorithm: BenchAlgorithm, settings: Settings): Promise<AlgorithmResult> {
  const { alg } = algorithm;
  const context = await NestFactory.createApplicationContext(BenchCoreModule.register({ algorithm: alg }), { logger: ['error', 'warn'] });
  try {
    const counters = countStoreCommands(context);
    const tokens = context.get(TokenService);
    const { kid, jwk } = await readSigningKey(context);
    const keys = algorithm.keys(jwk);
    const forms = keyForms(keys);
    const floor = algorithm.floor(keys);

    const token = tokens.sign({ ...PRIVATE_CLAIMS }, { subject: SUBJECT });
    const signingInput = token.slice(0, token.lastIndexOf('.'));
    // jsonwebtoken names fewer algorithms than the library (no EdDSA); the entries measured are ones both know.
    const jwsAlg = alg as JsonWebTokenAlgorithm;
    const verifyOptions = { algorithms: [jwsAlg], issuer: ISSUER, audience: AUDIENCE };
    const joseVerifyKey = await importJWK(forms.verifyJwk, alg);
    const joseSignKey = await importJWK(forms.signJwk, alg);
    const fastVerify = createVerifier({
      key: forms.verifyBytes,
      algorithms: [alg],
      allowedIss: ISSUER,
      allowedAud: AUDIENCE,
      cache: false,
    });
    const fastSign = createSigner({
      key: forms.signBytes,
      algorithm: alg,
      kid,
      header: { alg, typ: ACCESS_TOKEN_TYPE },
      iss: ISSUER,
      aud: AUDIENCE,
      sub: SUBJECT,
      expiresIn: TOKEN_TTL_SECONDS * 1000,
      notBefore: 0,
    });
    // As documented (a secret as bytes or string), jsonwebtoken first tries the secret as a public
    // key and catches the failure on every call; a KeyObject skips that. Both are measured.
    const nestJwt = new JwtService(
      keys.sign.type === 'secret' ? { secret: forms.verifyBytes } : { privateKey: forms.signBytes, publicKey: forms.verifyBytes },
    );
    const nestJwtKeyObject = new JwtService({
      secretOrKeyProvider: (requestType) => (requestType === JwtSecretRequestType.SIGN ? keys.sign : keys.verify),
    });
    const jti = (): string => randomBytes(16).toString('base64url');
    const nestSignOptions = {
      algorithm: jwsAlg,
      keyid: kid,
      header: { alg, typ: ACCESS_TOKEN_TYPE },
      issuer: ISSUER,
      audience: AUDIENCE,
      subject: SUBJECT,
      expiresIn: TOKEN_TTL_SECONDS,
      notBefore: 0,
    };
    const joseSign = (): Promise<string> => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ ...PRIVATE_CLAIMS })
        .setProtectedHeader({ alg, kid, typ: ACCESS_TOKEN_TYPE })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(SUBJECT)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + TOKEN_TTL_SECONDS)
        .setJti(jti())
        .sign(joseSignKey);
    };

    let verifyCases: Case[] = [
      { id: 'floor', label: floor.labels.verify, run: () => floor.verify(token), async: false },
      { id: 'floor-signature-only', label: floor.labels.signatureOnly, run: () => floor.signatureOnly(token), async: false },
      { id: 'library-sync', label: 'TokenService.verify (sync)', run: () => tokens.verify(token), async: false },
      { id: 'library-async', label: 'TokenService.verifyAsync', run: () => tokens.verifyAsync(token), async: true },
      {
        id: 'jose',
        label: 'jose jwtVerify (imported CryptoKey)',
        run: () => jwtVerify(token, joseVerifyKey, { ...verifyOptions, typ: ACCESS_TOKEN_TYPE }),
        async: true,
      },
      { id: 'fast-jwt', label: 'fast-jwt createVerifier (no cache)', run: () => fastVerify(token), async: false },
      {
        id: 'nestjs-jwt',
        label: '@nestjs/jwt JwtService.verifyAsync (secret bytes, as documented)',
        run: () => nestJwt.verifyAsync(token, verifyOptions),
        async: true,
      },
      {
        id: 'nestjs-jwt-keyobject',
        label: '@nestjs/jwt JwtService.verifyAsync (KeyObject)',
        run: () => nestJwtKeyObject.verifyAsync(token, verifyOptions),
        async: true,
      },
    ];
    let signCases: Case[] = [
      { id: 'floor', label: floor.labels.sign, run: () => floor.sign(signingInput), async: false },
      {
        id: 'library-sync',
        label: 'TokenService.sign (sync)',
        run: () => tokens.sign({ ...PRIVATE_CLAIMS }, { subject: SUBJECT }),
        async: false,
      },
      {
        id: 'library-async',
        label: 'TokenService.signAsync',
        run: () => tokens.signAsync({ ...PRIVATE_CLAIMS }, { subject: SUBJECT }),
        async: true,
      },
      { id: 'jose', label: 'jose SignJWT (imported CryptoKey)', run: joseSign, async: true },
      { id: 'fast-jwt', label: 'fast-jwt createSigner', run: () => fastSign({ ...PRIVATE_CLAIMS, jti: jti() }), async: false },
      {
        id: 'nestjs-jwt',
        label: '@nestjs/jwt JwtService.signAsync (secret bytes, as documented)',
        run: () => nestJwt.signAsync({ ...PRIVATE_CLAIMS }, { ...nestSignOptions, jwtid: jti() }),
        async: true,
      },
      {
        id: 'nestjs-jwt-keyobject',
        label: '@nestjs/jwt JwtService.signAsync (KeyObject)',
        run: () => nestJwtKeyObject.signAsync({ ...PRIVATE_CLAIMS }, { ...nestSignOptions, jwtid: jti() }),
        async: true,
      },
    ];

    const supported = (c: Case): boolean => !algorithm.unsupported?.includes(c.id);
    verifyCases = verifyCases.filter(supported);
    signCases = signCases.filter(supported);

    // Every verifier accepts the library's token and returns its claims; every signer's token is
    // one the library verifies, so all cases do the same work on the same shape.
    check(floor.verify(token), 'floor rejects the token');
    for (const c of verifyCases.filter((v) => !v.id.startsWith('floor'))) {
      const result = (await c.run()) as { sub?: string; payload?: { sub?: string } };
      check((result.payload ?? result).sub === SUBJECT, `${c.label} did not return the claims`);
    }
    check(tokens.verify(floor.sign(signingInput)).sub === SUBJECT, 'floor signature differs');
    for (const c of signCases.filter((s) => s.id !== 'floor')) {
      const signed = (await c.run()) as string;
      const claims = tokens.verify(signed) as Record<string, unknown>;
      check(claims.sub === SUBJECT && claims.sid === PRIVATE_CLAIMS.sid, `${c.label} signs another shape`);
      check(Object.keys(claims).length === Object.keys(tokens.decode(token).payload).length, `${c.label} signs another claim set`);
    }

    const before = { ...counters };
    const verifyResults = await measure(verifyCases, settings);
    const signResults = await measure(signCases, settings);
    return {
      alg,
      verify: verifyResults,
      sign: signResults,
      tokenBytes: token.length,
      store: {
        commands: counters.commands - before.commands,
        outsideReconcile: counters.outsideReconcile - before.outsideReconcile,
        unknownKidReloads: counters.unknownKidReloads - before.unknownKidReloads,
        libraryOperations: [...verifyResults, ...signResults]
          .filter((r) => r.id.startsWith('library'))
          .reduce((sum, r) => sum + r.operations, 0),
      },
    };
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  const quick = process.env.BENCH_QUICK === '1';
  const settings: Settings = quick ? { rounds: 4, batchMs: 40, warmupMs: 120 } : { rounds: 13, batchMs: 120, warmupMs: 400 };
  const results: AlgorithmResult[] = [];
  // BENCH_ALGS=HS256,ES256 limits a development run to some entries.
  const only = process.env.BENCH_ALGS?.split(',').map((alg) => alg.trim());
  for (const algorithm of [...BENCH_ALGORITHMS, ...EXTRA_BENCH_ALGORITHMS]) {
    const asked = only ? only.includes(algorithm.alg) : BENCH_ALGORITHMS.includes(algorithm);
    if (asked) results.push(await benchAlgorithm(algorithm, settings));
  }
  process.send?.({ settings, results, pending: PENDING_ALGORITHMS });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
