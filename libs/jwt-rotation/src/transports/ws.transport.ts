import type { VerifiedClaims } from '../tokens/token.types';
import { type JwtTransport, type Refusal, refusalKind } from './jwt-transport';
import { optionalPeer } from './optional-peer';
import { cookieValue, payloadField } from './token-source';

/** A WebSocket client as the guards see it: socket.io's `Socket` (its handshake and `data`), or any other client object. */
export interface SocketLike {
  handshake?: { headers?: Record<string, string | string[] | undefined>; auth?: Record<string, unknown> };
  /** socket.io's per-socket store; verified claims go to `data.user`. */
  data?: { user?: VerifiedClaims; [key: string]: unknown };
}

/** What a refused gateway message sends in its `exception` event. */
export interface WsRefusalPayload {
  readonly status: 'error';
  readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN';
  readonly reason: Refusal['code'];
  readonly message: string;
}

interface WebSocketsPeer {
  WsException: new (error: object) => unknown;
}

/** Claims of clients without socket.io's `data`. */
const claimsOfClient = new WeakMap<object, VerifiedClaims>();

export function wsRefusalPayload(refusal: Refusal): WsRefusalPayload {
  return { status: 'error', code: refusalKind(refusal), reason: refusal.code, message: refusal.description };
}

/** WebSocket gateways: the token of the connection's handshake; a refusal is a `WsException` whose payload has a `code`. */
export const wsTransport: JwtTransport<SocketLike> = {
  request: (context) => context.switchToWs().getClient<SocketLike>(),
  read(client, source, context) {
    const headers = client.handshake?.headers;
    if (source === 'authorization') return typeof headers?.authorization === 'string' ? headers.authorization : undefined;
    if (source === 'handshake') {
      const token = client.handshake?.auth?.token;
      return typeof token === 'string' ? token : undefined;
    }
    if ('cookie' in source) return cookieValue(headers?.cookie, source.cookie);
    return payloadField(context.switchToWs().getData(), source.field);
  },
  attach(client, claims) {
    if (typeof client.data === 'object' && client.data !== null) client.data.user = claims;
    else claimsOfClient.set(client, claims);
  },
  claims: (client) => client.data?.user ?? claimsOfClient.get(client),
  refuse: (_context, refusal) => new (optionalPeer<WebSocketsPeer>('@nestjs/websockets').WsException)(wsRefusalPayload(refusal)),
};
