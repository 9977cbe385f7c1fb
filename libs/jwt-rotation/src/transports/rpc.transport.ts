import type { ArgumentsHost } from '@nestjs/common';
import type { VerifiedClaims } from '../tokens/token.types';
import { type JwtTransport, type Refusal, refusalKind } from './jwt-transport';
import { optionalPeer } from './optional-peer';
import { payloadField } from './token-source';

/**
 * The RPC context of one message or call (`context.switchToRpc().getContext()`): gRPC's `Metadata`,
 * `TcpContext`, `NatsContext`... New for every message, so it is where the verified claims are kept.
 */
export type RpcContextLike = object;

interface GrpcMetadataLike {
  get(key: string): unknown[];
  getMap(): unknown;
}

interface MicroservicesPeer {
  RpcException: new (error: object) => unknown;
}

/** gRPC status codes (`@grpc/grpc-js` `status`). */
const GRPC_UNAUTHENTICATED = 16;
const GRPC_PERMISSION_DENIED = 7;

const claimsOfMessage = new WeakMap<object, VerifiedClaims>();

function isGrpcMetadata(value: unknown): value is GrpcMetadataLike {
  return typeof (value as GrpcMetadataLike).get === 'function' && typeof (value as GrpcMetadataLike).getMap === 'function';
}

/** The `authorization` entry of gRPC metadata, or of a packet's metadata (Nest 12 `TcpContext#getMetadata()` and kin). */
function authorizationOf(rpc: object): string | undefined {
  if (isGrpcMetadata(rpc)) {
    const [value] = rpc.get('authorization');
    return typeof value === 'string' ? value : undefined;
  }
  const metadata = (rpc as { getMetadata?: () => unknown }).getMetadata?.();
  const value = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>).authorization : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** The error object a refused call ends with: gRPC status 16/7, or `{ status, code, reason, message }` elsewhere. */
export function rpcRefusalError(context: ArgumentsHost, refusal: Refusal): object {
  if (isGrpcMetadata(context.switchToRpc().getContext())) {
    return {
      code: refusal.bearerError === 'insufficient_scope' ? GRPC_PERMISSION_DENIED : GRPC_UNAUTHENTICATED,
      message: refusal.description,
    };
  }
  return { status: 'error', code: refusalKind(refusal), reason: refusal.code, message: refusal.description };
}

/** Microservices (TCP, NATS, Redis, RabbitMQ, gRPC...): the token from metadata or a payload field; a refusal is an `RpcException`. */
export const rpcTransport: JwtTransport<RpcContextLike> = {
  request(context) {
    const rpc: unknown = context.switchToRpc().getContext();
    // Every Nest transport passes a context object; without one the claims have nowhere to live.
    return typeof rpc === 'object' && rpc !== null ? rpc : {};
  },
  read(rpc, source, context) {
    if (source === 'authorization') return authorizationOf(rpc);
    if (typeof source === 'object' && 'field' in source) return payloadField(context.switchToRpc().getData(), source.field);
    return undefined;
  },
  attach(rpc, claims) {
    claimsOfMessage.set(rpc, claims);
  },
  claims: (rpc) => claimsOfMessage.get(rpc),
  refuse: (context, refusal) =>
    new (optionalPeer<MicroservicesPeer>('@nestjs/microservices').RpcException)(rpcRefusalError(context, refusal)),
};
