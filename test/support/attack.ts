import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Agent, type IncomingHttpHeaders, request as httpRequest, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { KeyRing } from '../../libs/jwt-rotation/src/keys/key-ring';
import type { RotationStore } from '../../libs/jwt-rotation/src/store/rotation-store';

/** The base64url alphabet (RFC 4648 §5), in value order: `BASE64URL[v]` encodes the 6-bit value `v`. */
export const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url of a text (UTF-8) or of bytes, for hand-built tokens whose JSON is written as raw text. */
export const b64url = (value: string | Uint8Array): string => Buffer.from(value).toString('base64url');

/** A random base64url string of `bytes` bytes (a signature of an HS256 token is 32 bytes). */
export const randomB64 = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** `header.payload.signature` from raw JSON texts (so they can hold duplicate members, 1e400, ...). */
export function compact(headerJson: string, payloadJson: string, sign: (signingInput: string) => string): string {
  const input = `${b64url(headerJson)}.${b64url(payloadJson)}`;
  return `${input}.${sign(input)}`;
}

export interface ServerSigner {
  /** kid of the key the server signs with right now. */
  kid: string;
  /** base64url HMAC of the signing input with that key: what the server itself would put in a token. */
  sign(signingInput: string): string;
}

/** The key the app signs with now, taken from its in-memory key ring (nothing is read from the store). */
export function serverSigner(app: INestApplication): ServerSigner {
  const signer = app.get(KeyRing).signer(Date.now());
  if (!signer) throw new Error('the app has no signing key');
  return { kid: signer.entry.kid, sign: (input) => signer.key.sign(input) };
}

/** Raw JSON text of an object with one more member at the start (`first`) or the end (`last`): a duplicate, when the object has it already. */
export function withMember(json: string, name: string, rawValue: string, where: 'first' | 'last'): string {
  if (!json.startsWith('{') || !json.endsWith('}')) throw new TypeError('not a JSON object text');
  const member = `${JSON.stringify(name)}:${rawValue}`;
  const body = json.slice(1, -1);
  if (body.length === 0) return `{${member}}`;
  return where === 'first' ? `{${member},${body}}` : `{${body},${member}}`;
}

/** Raw JSON text of an object with the value of `name` (a top-level member) replaced by raw JSON text. */
export function withRawValue(value: Record<string, unknown>, name: string, rawValue: string): string {
  const marker = `\u0001raw-${randomB64(8)}\u0001`;
  const text = JSON.stringify({ ...value, [name]: marker });
  return text.replace(JSON.stringify(marker), rawValue);
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A small seeded PRNG (mulberry32): the same mutations on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The first `count` items of a deterministic shuffle of `items`. */
export function sample<T>(items: readonly T[], count: number, seed: number): T[] {
  const random = seededRandom(seed);
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, count);
}

export interface Mutation {
  token: string;
  /** 0 header, 1 payload, 2 signature. */
  segment: number;
  /** Index of the character changed, in the whole token. */
  index: number;
  how: string;
}

/** Segment number (0, 1, 2) of every character of a compact token; -1 for the dots. */
function segmentsOf(token: string): number[] {
  let segment = 0;
  return [...token].map((c) => (c === '.' ? (segment++, -1) : segment));
}

const at = (token: string, index: number, replacement: string) => token.slice(0, index) + replacement + token.slice(index + 1);

/** Every single-bit flip of the 6-bit value of every base64url character: the result is always another base64url character. */
export function bitFlips(token: string): Mutation[] {
  const segments = segmentsOf(token);
  const out: Mutation[] = [];
  for (let index = 0; index < token.length; index++) {
    const value = BASE64URL.indexOf(token[index]);
    if (segments[index] < 0 || value < 0) continue;
    for (let bit = 0; bit < 6; bit++) {
      out.push({ token: at(token, index, BASE64URL[value ^ (1 << bit)]), segment: segments[index], index, how: `flip bit ${bit}` });
    }
  }
  return out;
}

/** Every character of every segment replaced by every other character of `alphabet`. */
export function replacements(token: string, alphabet: string = BASE64URL): Mutation[] {
  const segments = segmentsOf(token);
  const out: Mutation[] = [];
  for (let index = 0; index < token.length; index++) {
    if (segments[index] < 0) continue;
    for (const c of alphabet) {
      if (c !== token[index])
        out.push({ token: at(token, index, c), segment: segments[index], index, how: `replace with ${JSON.stringify(c)}` });
    }
  }
  return out;
}

/** Every character deleted, and a base64url character inserted before every character. */
export function deletionsAndInsertions(token: string): Mutation[] {
  const segments = segmentsOf(token);
  const out: Mutation[] = [];
  for (let index = 0; index < token.length; index++) {
    const segment = Math.max(segments[index], 0);
    out.push({ token: token.slice(0, index) + token.slice(index + 1), segment, index, how: 'delete' });
    out.push({ token: token.slice(0, index) + BASE64URL[index % 64] + token.slice(index), segment, index, how: 'insert' });
  }
  return out;
}

/** Listens on an ephemeral loopback port (once) so raw sockets and a keep-alive client can reach the app; returns the port. */
export async function listen(app: INestApplication): Promise<number> {
  const server = app.getHttpServer() as Server;
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A response as the bulk and raw clients return it; the same shape as supertest's (`status`, `headers`, `text`). */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/**
 * A keep-alive HTTP client for the bulk tests: supertest opens a connection per request, which
 * makes thousands of requests several times slower without testing anything more.
 */
export class KeepAliveClient {
  private readonly agent: Agent;

  constructor(
    private readonly port: number,
    maxSockets = 64,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  request(method: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: this.port, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: flatten(res.headers), text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

/**
 * Sends raw bytes as one HTTP/1.1 request (no client-side validation, so control characters and
 * non-ASCII bytes reach the server as they are) and parses the response head.
 */
export function rawRequest(port: number, head: Buffer, timeoutMs = 3000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('raw request timed out')), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const [headText, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = headText.split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status, headers, text: rest.join('\r\n\r\n') });
    });
    socket.end(head);
  });
}

/** A GET request head with an Authorization header given as raw bytes. */
export function rawGet(path: string, authorization: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: `, 'latin1'),
    authorization,
    Buffer.from('\r\n\r\n', 'latin1'),
  ]);
}

const STORE_METHODS = [
  'get',
  'set',
  'delete',
  'hashSetIfAbsent',
  'hashSet',
  'hashGetAll',
  'hashDelete',
  'sortedAdd',
  'sortedRangeAbove',
  'sortedRemoveUpTo',
  'logAppend',
  'logRead',
  'logTail',
] as const;
export type StoreMethod = (typeof STORE_METHODS)[number];

export interface StoreSpy {
  /** Every call made through the store while the spy was on: the method and its first argument (the key). */
  readonly calls: ReadonlyArray<{ method: StoreMethod; key: unknown }>;
  count(method?: StoreMethod): number;
  reset(): void;
  restore(): void;
}

/**
 * Wraps the methods of the app's real store (the very instance the library's services hold) with
 * recording wrappers that call through. Nothing is mocked: every call still reaches the store.
 */
export function spyOnStore(store: RotationStore): StoreSpy {
  const calls: Array<{ method: StoreMethod; key: unknown }> = [];
  const target = store as unknown as Record<string, unknown>;
  const originals = new Map<StoreMethod, { own: boolean; fn: unknown }>();
  for (const method of STORE_METHODS) {
    const fn = target[method];
    if (typeof fn !== 'function') continue;
    originals.set(method, { own: Object.hasOwn(target, method), fn });
    target[method] = (...args: unknown[]): unknown => {
      calls.push({ method, key: args[0] });
      return (fn as (...a: unknown[]) => unknown).apply(store, args);
    };
  }
  return {
    calls,
    count: (method) => (method === undefined ? calls.length : calls.filter((c) => c.method === method).length),
    reset: () => void calls.splice(0),
    restore: () => {
      for (const [method, original] of originals) {
        if (original.own) target[method] = original.fn;
        else delete target[method];
      }
    },
  };
}
