import type { CanActivate, INestApplication, Type } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { APP_GUARD, MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { ApiBearerAuth, ApiResponse, type OpenAPIObject, type SwaggerDocumentOptions, SwaggerModule } from '@nestjs/swagger';
import { PermissionsGuard, RolesGuard } from '../http/claim-values.guard';
import { JwtGuard } from '../http/jwt.guard';
import { PermissionsMetadata, Public, RolesMetadata } from '../http/metadata.decorators';
import { bearerChallenge } from '../http/www-authenticate';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';

/** Name of the security scheme the document gets, as `components.securitySchemes.bearer`. */
export const BEARER_SECURITY_SCHEME = 'bearer';

type GuardRef = Type<CanActivate> | CanActivate;

/** Handlers already given their security metadata: the swagger decorators append, so once each. */
const documented = new WeakSet<object>();

/**
 * `SwaggerModule.createDocument` with the library's security: adds the `bearer` scheme (HTTP
 * bearer, JWT), marks exactly the routes `JwtGuard` protects — through `APP_GUARD` or
 * `@UseGuards()` on the controller or the route — and leaves `@Public()` routes unmarked. Each
 * protected route documents its 401 (and, behind `RolesGuard` / `PermissionsGuard` with roles or
 * permissions, its 403) with the RFC 6750 `WWW-Authenticate` challenge it sends.
 *
 * Call it after the app is created and before `listen()`. Do not also call
 * `addSecurityRequirements()` on the config: a global requirement would mark public routes too.
 * @example
 * ```ts
 * const document = createJwtSwaggerDocument(app, new DocumentBuilder().setTitle('My API').build());
 * SwaggerModule.setup('docs', app, document); // UI at /docs, JSON at /docs-json
 * ```
 */
export function createJwtSwaggerDocument(
  app: INestApplication,
  config: Omit<OpenAPIObject, 'paths'>,
  options?: SwaggerDocumentOptions,
): OpenAPIObject {
  documentGuardedRoutes(app);
  const withScheme: Omit<OpenAPIObject, 'paths'> = {
    ...config,
    components: {
      ...config.components,
      securitySchemes: {
        ...config.components?.securitySchemes,
        [BEARER_SECURITY_SCHEME]: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An access token (typ at+jwt) from this API',
        },
      },
    },
  };
  return SwaggerModule.createDocument(app, withScheme, options);
}

function documentGuardedRoutes(app: INestApplication): void {
  const options = app.get<ResolvedJwtRotationOptions>(JWT_ROTATION_OPTIONS, { strict: false });
  const reflector = app.get(Reflector, { strict: false });
  const modules = app.get(ModulesContainer);
  const globalGuards: object[] = [];
  for (const moduleRef of modules.values()) {
    for (const [token, wrapper] of moduleRef.providers) {
      if (typeof token === 'string' && token.startsWith(APP_GUARD) && wrapper.instance) globalGuards.push(wrapper.instance as object);
    }
  }
  const scanner = new MetadataScanner();
  const unauthorized = responseOf(
    401,
    'No valid access token',
    bearerChallenge(options.realm, 'invalid_token', 'The access token expired'),
  );
  const forbidden = responseOf(
    403,
    'The access token lacks a required role or permission',
    bearerChallenge(options.realm, 'insufficient_scope', 'The access token lacks a required role'),
  );
  for (const moduleRef of modules.values()) {
    for (const wrapper of moduleRef.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (!controller?.prototype) continue;
      const prototype = controller.prototype as Record<string, unknown>;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        if (typeof handler !== 'function' || documented.has(handler)) continue;
        if (Reflect.getMetadata(PATH_METADATA, handler) === undefined || Reflect.getMetadata(METHOD_METADATA, handler) === undefined)
          continue;
        const guards: Array<GuardRef | object> = [
          ...globalGuards,
          ...((Reflect.getMetadata(GUARDS_METADATA, controller) as GuardRef[] | undefined) ?? []),
          ...((Reflect.getMetadata(GUARDS_METADATA, handler) as GuardRef[] | undefined) ?? []),
        ];
        const targets = [handler, controller];
        if (!guards.some((guard) => isGuard(guard, JwtGuard)) || reflector.getAllAndOverride(Public, targets)) continue;
        const descriptor: PropertyDescriptor = { value: handler };
        ApiBearerAuth(BEARER_SECURITY_SCHEME)(prototype, name, descriptor);
        ApiResponse(unauthorized)(prototype, name, descriptor);
        const needsRoles =
          guards.some((guard) => isGuard(guard, RolesGuard)) && nonEmpty(reflector.getAllAndOverride(RolesMetadata, targets));
        const needsPermissions =
          guards.some((guard) => isGuard(guard, PermissionsGuard)) && nonEmpty(reflector.getAllAndOverride(PermissionsMetadata, targets));
        if (needsRoles || needsPermissions) ApiResponse(forbidden)(prototype, name, descriptor);
        documented.add(handler);
      }
    }
  }
}

/** A guard class, a subclass of it, or an instance of either. */
function isGuard(guard: unknown, kind: abstract new (...args: never[]) => unknown): boolean {
  if (typeof guard === 'function') return guard === kind || guard.prototype instanceof kind;
  return guard instanceof kind;
}

function nonEmpty(values: readonly string[] | undefined): boolean {
  return values !== undefined && values.length > 0;
}

function responseOf(status: 401 | 403, description: string, challenge: string): Parameters<typeof ApiResponse>[0] {
  const error = status === 401 ? 'invalid_token' : 'insufficient_scope';
  return {
    status,
    description: `${description} (RFC 6750 §3.1 \`${error}\`; the challenge is in \`WWW-Authenticate\`)`,
    headers: {
      'WWW-Authenticate': {
        description: 'RFC 6750 Bearer challenge: realm, error and a fixed error_description',
        schema: { type: 'string', example: challenge },
      },
    },
    schema: {
      type: 'object',
      properties: {
        statusCode: { type: 'integer', example: status },
        error: { type: 'string', example: error },
        message: { type: 'string', example: challenge.match(/error_description="([^"]*)"/)?.[1] ?? '' },
      },
    },
  };
}
