import { ConfigurationError } from '../errors';

const loaded = new Map<string, unknown>();

/**
 * An optional peer dependency, required the first time a request of its transport arrives and never
 * when the library loads: an HTTP-only app does not install `@nestjs/graphql`, `@nestjs/websockets`
 * or `@nestjs/microservices`.
 */
export function optionalPeer<T>(name: string): T {
  let module = loaded.get(name) as T | undefined;
  if (module === undefined) {
    try {
      // A lazy require on purpose: a static import would make the peer mandatory.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      module = require(name) as T;
    } catch {
      throw new ConfigurationError([`this transport needs the package ${name}: install it with \`npm install ${name}\``]);
    }
    loaded.set(name, module);
  }
  return module;
}
