import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { VerifiedClaims } from '../tokens/token.types';
import { claimsOf } from '../transports/transport-registry';

/** Where `JwtGuard` puts the verified claims on an HTTP request (the convention Passport set). */
export interface RequestWithClaims {
  user?: VerifiedClaims;
}

/**
 * The verified claims of the request's token, or one claim by name, in any transport (HTTP
 * controllers, GraphQL resolvers, gateways, microservice handlers). Needs `JwtGuard` on the route.
 * @example
 * ```ts
 * @UseGuards(JwtGuard)
 * @Get('me')
 * me(@Claims() claims: VerifiedClaims, @Claims('sub') username: string) {}
 * ```
 */
// Typed explicitly so the emitted declaration names no type that only Nest 12 has.
export const Claims: (claim?: string) => ParameterDecorator = createParamDecorator(
  (claim: string | undefined, context: ExecutionContext): unknown => {
    const claims = context.getType() === 'http' ? context.switchToHttp().getRequest<RequestWithClaims>().user : claimsOf(context);
    return claim === undefined ? claims : claims?.[claim as keyof VerifiedClaims];
  },
);
