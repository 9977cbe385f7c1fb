import type { ExecutionContext } from '@nestjs/common';
import { graphqlTransport } from './graphql.transport';
import { httpTransport } from './http.transport';
import type { JwtTransport } from './jwt-transport';
import { rpcTransport } from './rpc.transport';
import { wsTransport } from './ws.transport';

const transports = new Map<string, JwtTransport>([
  ['http', httpTransport as JwtTransport],
  ['graphql', graphqlTransport as JwtTransport],
  ['ws', wsTransport as JwtTransport],
  ['rpc', rpcTransport],
]);

/** Adds or replaces the transport of a context type (option `transports`). */
export function registerTransport(type: string, transport: JwtTransport): void {
  transports.set(type, transport);
}

/** The transport of a request, by `context.getType()`. */
export function transportFor(context: ExecutionContext): JwtTransport {
  const type = context.getType<string>();
  const transport = transports.get(type);
  if (transport === undefined) {
    throw new TypeError(
      `nest-jwt-rotation has no transport for the context type "${type}": pass one in JwtRotationModule's transports option, e.g. transports: { ${type}: myTransport }`,
    );
  }
  return transport;
}

/** The verified claims of a request of any transport; `undefined` before a guard verified its token. */
export function claimsOf(context: ExecutionContext): ReturnType<JwtTransport['claims']> {
  const transport = transportFor(context);
  return transport.claims(transport.request(context));
}
