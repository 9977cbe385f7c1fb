import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { JwtRotationError, TokenVerificationError } from '../errors';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { RevocationView } from '../sessions/revocation-view';
import { TokenService } from '../tokens/token.service';
import type { VerifiedClaims } from '../tokens/token.types';
import type { Refusal } from './jwt-transport';
import { cookieValue, type TokenSource } from './token-source';
import { type SocketLike, wsRefusalPayload } from './ws.transport';
import { ERROR_DESCRIPTIONS } from './www-authenticate';

/** The parts of a socket.io `Socket` the handshake check uses. */
export interface HandshakeSocket extends SocketLike {
  emit(event: string, payload: unknown): unknown;
  disconnect(close?: boolean): unknown;
  once(event: 'disconnect', listener: () => void): unknown;
}

/** A socket.io `Server` or `Namespace`: what a gateway's `afterInit(server)` receives. */
export interface MiddlewareHost {
  use(middleware: (socket: HandshakeSocket, next: (error?: Error) => void) => void): unknown;
}

/** Options of {@link SocketIoAuth.bind}. */
export interface SocketIoAuthOptions {
  /** Audience name (from the `audiences` option) handshake tokens must carry. @default 'default' */
  audience?: string;
  /** Where the handshake token is read. @default the `tokenFrom` option (`'authorization'`, then `'handshake'`) */
  tokenFrom?: TokenSource[];
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Authenticates socket.io connections at the handshake and ends them when their session is revoked.
 * A handshake without a valid token is refused: the client gets `connect_error` whose `message`
 * says why and whose `data` is `{ code: 'UNAUTHENTICATED', reason }`. An accepted socket carries
 * its claims in `socket.data.user`; when its session, subject or token is revoked (logout,
 * logout-all, refresh-token theft) on any instance, it gets an `exception` event and is
 * disconnected. Messages are checked by `JwtGuard` as usual (an expired token is refused there).
 * @example
 * ```ts
 * @WebSocketGateway()
 * export class EventsGateway implements OnGatewayInit {
 *   constructor(private readonly auth: SocketIoAuth) {}
 *   afterInit(server: Server) {
 *     this.auth.bind(server);
 *   }
 * }
 * ```
 */
@Injectable()
export class SocketIoAuth implements OnModuleDestroy {
  private readonly sockets = new Set<HandshakeSocket>();
  private revocations: Subscription | undefined;

  constructor(
    private readonly tokens: TokenService,
    private readonly view: RevocationView,
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
  ) {}

  /** Installs the handshake check on a socket.io server or namespace. */
  bind(server: MiddlewareHost, options: SocketIoAuthOptions = {}): void {
    const audience = options.audience ?? 'default';
    if (!Object.hasOwn(this.options.audiences, audience)) {
      throw new TypeError(`SocketIoAuth.bind(): no audience "${audience.slice(0, 64)}" in the audiences option`);
    }
    const sources = options.tokenFrom ?? this.options.tokenFrom;
    server.use((socket, next) => {
      this.authenticate(socket, sources, audience).then(
        (claims) => {
          if (typeof socket.data === 'object' && socket.data !== null) socket.data.user = claims;
          this.sockets.add(socket);
          socket.once('disconnect', () => this.sockets.delete(socket));
          next();
        },
        (error: unknown) => next(handshakeError(error, this.options.realm)),
      );
    });
    this.revocations ??= this.view.added$.subscribe(() => this.dropRevoked());
  }

  /** Open sockets this instance authenticated. */
  get size(): number {
    return this.sockets.size;
  }

  onModuleDestroy(): void {
    this.revocations?.unsubscribe();
    this.sockets.clear();
  }

  private async authenticate(socket: HandshakeSocket, sources: readonly TokenSource[], audience: string): Promise<VerifiedClaims> {
    const token = handshakeToken(socket, sources);
    return this.tokens.verifyAsync(token, { audience });
  }

  private dropRevoked(): void {
    for (const socket of this.sockets) {
      const claims = socket.data?.user;
      if (claims === undefined || this.view.check(claims) === undefined) continue;
      const refusal: Refusal = {
        bearerError: 'invalid_token',
        code: 'ERR_JWT_REVOKED',
        description: ERROR_DESCRIPTIONS.ERR_JWT_REVOKED!,
        realm: this.options.realm,
      };
      socket.emit('exception', wsRefusalPayload(refusal));
      socket.disconnect(true);
      this.sockets.delete(socket);
    }
  }
}

class HandshakeRefusal extends JwtRotationError {
  constructor(
    readonly code: 'ERR_TOKEN_MISSING' | 'ERR_AUTHORIZATION_MALFORMED',
    message: string,
  ) {
    super(message);
  }
}

/** The handshake's token; functions and payload fields are message-time sources and are skipped here. */
function handshakeToken(socket: HandshakeSocket, sources: readonly TokenSource[]): string {
  const headers = socket.handshake?.headers;
  for (const source of sources) {
    let value: unknown;
    if (source === 'authorization') {
      const header = headers?.authorization;
      if (typeof header !== 'string' || !/^Bearer(?: |$)/i.test(header)) continue;
      const match = BEARER.exec(header);
      if (!match) throw new HandshakeRefusal('ERR_AUTHORIZATION_MALFORMED', 'The Authorization header must be Bearer and one token');
      return match[1];
    }
    if (source === 'handshake') value = socket.handshake?.auth?.token;
    else if (typeof source === 'object' && 'cookie' in source) value = cookieValue(headers?.cookie, source.cookie);
    if (typeof value !== 'string' || value === '') continue;
    if (!B64TOKEN.test(value)) throw new HandshakeRefusal('ERR_AUTHORIZATION_MALFORMED', 'The access token is malformed');
    return value;
  }
  throw new HandshakeRefusal(
    'ERR_TOKEN_MISSING',
    'Authentication required: send the access token in auth.token or an Authorization header',
  );
}

/** What socket.io sends the client in `connect_error`: a message that says why and `data`, never a stack. */
function handshakeError(error: unknown, realm: string): Error {
  let refusal: Refusal;
  if (error instanceof HandshakeRefusal) refusal = { bearerError: undefined, code: error.code, description: error.message, realm };
  else if (error instanceof TokenVerificationError) {
    refusal = {
      bearerError: 'invalid_token',
      code: error.code,
      description: ERROR_DESCRIPTIONS[error.code] ?? 'The access token is invalid',
      realm,
    };
  } else {
    return Object.assign(new Error('Authentication is unavailable right now; try again shortly'), { data: { code: 'UNAVAILABLE' } });
  }
  const payload = wsRefusalPayload(refusal);
  return Object.assign(new Error(payload.message), { data: { code: payload.code, reason: payload.reason } });
}
