import * as jose from 'jose';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fixture server answers on one path: a JSON body, a status, or a hand-made response. */
export type Route = { status?: number; body?: unknown; raw?: string } | ((request: IncomingMessage, response: ServerResponse) => void);

/**
 * A plain node:http server on a free loopback port that plays an identity provider's metadata and
 * JWKS endpoints, or a hostile one: routes can be changed while the test runs.
 */
export class FixtureServer {
  readonly routes = new Map<string, Route>();
  readonly hits = new Map<string, number>();
  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  static async start(): Promise<FixtureServer> {
    const holder: { self?: FixtureServer } = {};
    const server = createServer((request, response) => holder.self!.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    holder.self = new FixtureServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return holder.self;
  }

  set(path: string, route: Route): void {
    this.routes.set(path, route);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', this.origin).pathname;
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
    const route = this.routes.get(path);
    if (typeof route === 'function') return route(request, response);
    if (!route) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(route.status ?? 200, { 'content-type': 'application/json' });
    response.end(route.raw ?? JSON.stringify(route.body));
  }
}

/** A signing key of a fixture provider, with its public JWK as the provider would publish it. */
export interface FixtureKey {
  kid: string;
  alg: string;
  privateKey: Awaited<ReturnType<typeof jose.generateKeyPair>>['privateKey'];
  publicJwk: jose.JWK;
}

export async function fixtureKey(alg: 'RS256' | 'ES256' | 'PS256' | 'EdDSA', kid: string): Promise<FixtureKey> {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** Signs claims with a header as given: the test decides `typ` (or none) exactly as the provider does. */
export function signWith(key: FixtureKey, header: Record<string, unknown>, claims: Record<string, unknown>): Promise<string> {
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header } as jose.JWTHeaderParameters)
    .sign(key.privateKey);
}

export const now = () => Math.floor(Date.now() / 1000);
