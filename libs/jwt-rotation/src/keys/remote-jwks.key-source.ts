import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { JWK } from 'jose';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { TrustedIssuer } from '../tokens/trusted-issuer';
import { isAllowedFetchUrl, type ResolvedTrustedIssuer, type ResolvedVerifierOptions } from '../verifier/jwt-verifier.options';
import { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm } from './algorithms';
import { prepareAsymmetricKey, publicJwkOf } from './asymmetric-key';
import { KeyRing, type RingKey } from './key-ring';
import { type KeySource, UnknownKidReloader } from './key-source';

/** How each trusted issuer's keys stand, for a health check. Never key material or token values. */
export interface TrustedIssuerStatus {
  issuer: string;
  /** `ok`: keys from the last fetch; `stale`: keys held while the JWKS misbehaves; `unavailable`: no key, tokens refused. */
  status: 'ok' | 'stale' | 'unavailable';
  keys: number;
  /** When the JWKS last gave usable keys. */
  lastFetchedAt: Date | undefined;
  /** Why the last fetch gave nothing, when it did. */
  problem: string | undefined;
}

const FETCH_TIMEOUT_MS = 5000;
const LOGGED_KID_LENGTH = 40;

/**
 * A kid (or any value from the network) fit for a log line: at most 40 characters, everything
 * outside printable ASCII escaped, quoted. A JWKS could otherwise forge log lines or flood them.
 */
export function loggable(value: unknown): string {
  const text = String(value);
  const cut = text.length > LOGGED_KID_LENGTH ? `${text.slice(0, LOGGED_KID_LENGTH)}` : text;
  const escaped = cut.replace(/[^\x20-\x7e]|["\\]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `"${escaped}"${text.length > LOGGED_KID_LENGTH ? '…' : ''}`;
}

/**
 * The key sets of a verifier's trusted issuers, each fetched (or discovered) from its issuer and
 * held in a ring of its own. Keys never sign here. A misbehaving issuer does not take the service
 * down: it starts without keys when the JWKS is unreachable (and refuses tokens until they come),
 * and keeps the keys it holds when a fetch fails or gives no usable key, for at most
 * `maxStaleness`.
 */
@Injectable()
export class RemoteJwksKeySource implements KeySource, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('JwtRotation');
  /** One per trusted issuer, in the order configured. */
  readonly issuers: readonly RemoteIssuerKeys[];
  private readonly timers: NodeJS.Timeout[] = [];
  private loaded: Promise<void> | undefined;

  constructor(@Inject(JWT_ROTATION_OPTIONS) options: ResolvedVerifierOptions) {
    this.issuers = options.issuers.map((issuer) => new RemoteIssuerKeys(issuer, options, this.logger));
  }

  async onModuleInit(): Promise<void> {
    // The first load never fails startup: a service whose issuer is down starts, says so in its
    // health, and accepts tokens as soon as keys arrive.
    this.loaded = Promise.all(this.issuers.map((issuer) => issuer.refresh())).then(() => undefined);
    await this.loaded;
    for (const issuer of this.issuers) {
      const timer = setInterval(() => void issuer.refresh(), issuer.config.refreshIntervalMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  onApplicationShutdown(): void {
    for (const timer of this.timers) clearInterval(timer);
  }

  ready(): Promise<void> {
    return this.loaded ?? Promise.resolve();
  }

  reloadForUnknownKid(): Promise<void> {
    return Promise.all(this.issuers.map((issuer) => issuer.reloadForUnknownKid())).then(() => undefined);
  }

  /** Where each issuer's keys stand, for a health endpoint. */
  status(): TrustedIssuerStatus[] {
    return this.issuers.map((issuer) => issuer.status());
  }
}

/** The keys of one trusted issuer. */
export class RemoteIssuerKeys implements TrustedIssuer {
  readonly ring = new KeyRing();
  readonly issuer: string;
  readonly algorithms: ReadonlySet<string>;
  readonly audiences: Readonly<Record<string, string>>;
  readonly profile: ResolvedTrustedIssuer['profile'];
  readonly maxLifetimeSec = undefined;
  private jwksUri: URL | undefined;
  private lastUsableAt = 0;
  private problem: string | undefined = 'not fetched yet';
  /** Kids already reported as refused, so a refresh every few minutes does not repeat the line. */
  private readonly reported = new Set<string>();
  private readonly reloader = new UnknownKidReloader(() => this.load());

  constructor(
    readonly config: ResolvedTrustedIssuer,
    private readonly limits: Pick<ResolvedVerifierOptions, 'jwksMaxBytes' | 'jwksMaxKeys'>,
    private readonly logger: Logger,
  ) {
    this.issuer = config.issuer;
    this.algorithms = new Set(config.algorithms);
    this.audiences = config.audiences;
    this.profile = config.profile;
    this.jwksUri = config.jwksUri;
  }

  reloadForUnknownKid(): Promise<void> {
    return this.reloader.reload().catch(() => undefined);
  }

  /** A scheduled fetch: failures are logged, never thrown. */
  refresh(): Promise<void> {
    return this.load().catch(() => undefined);
  }

  status(): TrustedIssuerStatus {
    const keys = this.ring.size;
    return {
      issuer: this.issuer,
      status: keys === 0 ? 'unavailable' : this.problem ? 'stale' : 'ok',
      keys,
      lastFetchedAt: this.lastUsableAt ? new Date(this.lastUsableAt) : undefined,
      problem: this.problem,
    };
  }

  private async load(): Promise<void> {
    try {
      this.jwksUri ??= await discoverJwksUri(this.issuer, this.limits.jwksMaxBytes);
      const document = await fetchJson(this.jwksUri, this.limits.jwksMaxBytes);
      const keys = this.usableKeys(document);
      if (keys.length === 0) throw new Error('the JWKS has no usable key');
      this.ring.replace(keys);
      this.lastUsableAt = Date.now();
      this.problem = undefined;
    } catch (error) {
      this.problem = error instanceof Error ? error.message : String(error);
      this.ageOut();
      this.logger.warn(
        `JWKS of issuer ${loggable(this.issuer)}: ${this.problem}; ` +
          (this.ring.size > 0 ? `keeping the ${this.ring.size} key(s) held` : 'no key held, its tokens are refused until one arrives'),
      );
      throw error;
    }
  }

  /** Keys held longer than maxStaleness without a good fetch are dropped: a bound on trusting what the issuer may have withdrawn. */
  private ageOut(): void {
    if (this.ring.size === 0 || Date.now() - this.lastUsableAt <= this.config.maxStalenessMs) return;
    this.logger.error(
      `JWKS of issuer ${loggable(this.issuer)}: no good fetch for longer than maxStaleness; dropping the ${this.ring.size} key(s) held`,
    );
    this.ring.replace([]);
  }

  private usableKeys(document: unknown): RingKey[] {
    const list = (document as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(list)) throw new Error('the JWKS is not a JSON object with a "keys" array');
    if (list.length > this.limits.jwksMaxKeys)
      throw new Error(`the JWKS has ${list.length} keys, more than jwksMaxKeys (${this.limits.jwksMaxKeys})`);
    const keys: RingKey[] = [];
    const kids = new Set<string>();
    for (const [index, item] of list.entries()) {
      const jwk = (typeof item === 'object' && item !== null ? item : {}) as JWK & { use?: unknown };
      const { kid, use } = jwk;
      // Encryption keys (Keycloak publishes them beside its signing keys) are not ours to use.
      if (use !== undefined && use !== 'sig') continue;
      if (typeof kid !== 'string' || kid.length === 0) {
        this.refuse(`#${index}`, 'it has no kid');
        continue;
      }
      if (kids.has(kid)) {
        this.refuse(kid, 'its kid appears twice in the set');
        continue;
      }
      const alg = this.algorithmOf(jwk);
      if (typeof alg !== 'string') {
        this.refuse(kid, alg.reason);
        continue;
      }
      try {
        const key = prepareAsymmetricKey(kid, alg, publicJwkOf(jwk), { foreignSigner: true });
        kids.add(kid);
        const entry = { generation: index, kid, alg, createdAt: 0, activatesAt: Infinity, retiresAt: Infinity, revokedAt: undefined };
        keys.push({ entry, key, expiresAt: Infinity });
      } catch (error) {
        this.refuse(kid, error instanceof Error ? error.message : 'it does not parse');
      }
    }
    return keys;
  }

  /** The key's own `alg` when accepted; without one, the single accepted algorithm its key type and curve fit. */
  private algorithmOf(jwk: JWK): AsymmetricAlgorithm | { reason: string } {
    if (jwk.alg !== undefined) {
      return this.algorithms.has(jwk.alg) ? (jwk.alg as AsymmetricAlgorithm) : { reason: `its alg ${loggable(jwk.alg)} is not accepted` };
    }
    const fitting = [...this.algorithms].filter((alg) => fits(alg as AsymmetricAlgorithm, jwk)) as AsymmetricAlgorithm[];
    if (fitting.length === 1) return fitting[0];
    return {
      reason:
        fitting.length === 0
          ? 'it has no alg and its key type fits no accepted algorithm'
          : `it has no alg and its key type fits ${fitting.join(', ')}: set the issuer's algorithms to the one it signs with`,
    };
  }

  private refuse(kid: string, reason: string): void {
    if (this.reported.has(kid)) return;
    if (this.reported.size < 1000) this.reported.add(kid);
    this.logger.warn(`JWKS of issuer ${loggable(this.issuer)}: key ${loggable(kid)} skipped: ${reason}`);
  }
}

function fits(alg: AsymmetricAlgorithm, jwk: JWK): boolean {
  const spec = ASYMMETRIC_ALGORITHMS[alg];
  if (spec.kind === 'rsa') return jwk.kty === 'RSA';
  if (spec.kind === 'ec')
    return jwk.kty === 'EC' && jwk.crv === { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }[spec.nodeCurve];
  return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
}

/**
 * The issuer's `jwks_uri` from its metadata: OIDC Discovery (`<issuer>/.well-known/openid-configuration`),
 * then RFC 8414 with the well-known segment inserted before the issuer's path, then appended to it.
 * The metadata must name the same issuer (OIDC Discovery §4.3, RFC 8414 §3.3).
 */
export async function discoverJwksUri(issuer: string, maxBytes: number): Promise<URL> {
  const base = new URL(issuer);
  const path = base.pathname.replace(/\/$/, '');
  const candidates = [
    new URL(`${path}/.well-known/openid-configuration`, base.origin),
    new URL(`/.well-known/oauth-authorization-server${path}`, base.origin),
    new URL(`${path}/.well-known/oauth-authorization-server`, base.origin),
  ];
  const failures: string[] = [];
  for (const candidate of candidates) {
    let metadata: unknown;
    try {
      metadata = await fetchJson(candidate, maxBytes);
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
      continue;
    }
    const { issuer: named, jwks_uri: jwksUri } = (metadata ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
    if (named !== issuer) throw new Error(`the metadata at ${candidate.pathname} names another issuer`);
    let url: URL;
    try {
      url = new URL(String(jwksUri));
    } catch {
      throw new Error(`the metadata at ${candidate.pathname} has no valid jwks_uri`);
    }
    if (!isAllowedFetchUrl(url)) throw new Error('the metadata jwks_uri is not https');
    return url;
  }
  throw new Error(`discovery found no metadata (${failures.join('; ')})`);
}

/** GETs a JSON document of at most `maxBytes`; no redirects (they could leave https), a 5 s timeout. */
async function fetchJson(url: URL, maxBytes: number): Promise<unknown> {
  const response = await fetch(url, {
    redirect: 'error',
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    headers: { accept: 'application/json' },
  }).catch((error: unknown) => {
    throw new Error(`GET ${url.pathname} failed (${error instanceof Error ? error.name : 'network error'})`);
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${url.pathname} answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new Error(`GET ${url.pathname} is larger than jwksMaxBytes (${maxBytes})`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new Error(`GET ${url.pathname} is larger than jwksMaxBytes (${maxBytes})`);
    }
    chunks.push(value);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Error(`GET ${url.pathname} is not JSON`);
  }
}
