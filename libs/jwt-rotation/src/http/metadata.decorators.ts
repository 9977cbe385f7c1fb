import type { CustomDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { TokenSource } from '../transports/token-source';

/**
 * Skips `JwtGuard` for a route or controller.
 * @example
 * ```ts
 * @Public()
 * @Get('health')
 * health() { return { ok: true }; }
 * ```
 */
export const Public = Reflector.createDecorator<true>({ transform: () => true });

/**
 * Requires tokens issued for this audience (a short name from the `audiences` option). Routes
 * without it require `default`.
 * @example
 * ```ts
 * @Audience('api')
 * @Get('ping')
 * ping() { return 'pong'; }
 * ```
 */
export const Audience = Reflector.createDecorator<string>();

/**
 * Requires every listed role in the token's roles claim; checked by `RolesGuard`.
 * @example
 * ```ts
 * @UseGuards(JwtGuard, RolesGuard)
 * @Roles('admin')
 * @Get('admin')
 * admin() {}
 * ```
 */
export const Roles = (...roles: string[]): CustomDecorator => RolesMetadata(roles);
export const RolesMetadata = Reflector.createDecorator<string[]>();

/**
 * Requires every listed permission in the token's permissions claim; checked by `PermissionsGuard`.
 * @example
 * ```ts
 * @UseGuards(JwtGuard, PermissionsGuard)
 * @Permissions('articles:write')
 * @Post('articles')
 * create() {}
 * ```
 */
export const Permissions = (...permissions: string[]): CustomDecorator => PermissionsMetadata(permissions);
export const PermissionsMetadata = Reflector.createDecorator<string[]>();

/**
 * Where this route or controller reads the access token, in order; overrides the `tokenFrom`
 * option. Never the URL query string.
 * @example
 * ```ts
 * @TokenFrom({ cookie: 'access_token' }, 'authorization')
 * @Get('me')
 * me(@Claims('sub') sub: string) {}
 * ```
 */
export const TokenFrom = (...sources: TokenSource[]): CustomDecorator => TokenFromMetadata(sources);
export const TokenFromMetadata = Reflector.createDecorator<TokenSource[]>();
