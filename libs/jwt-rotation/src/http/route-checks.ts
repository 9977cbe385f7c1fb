import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { APP_GUARD, DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { ConfigurationError } from '../errors';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { tokenSourceProblems } from '../transports/token-source';
import { registerTransport } from '../transports/transport-registry';
import { PermissionsGuard, RolesGuard } from './claim-values.guard';
import { JwtGuard } from './jwt.guard';
import { Audience, PermissionsMetadata, RolesMetadata, TokenFromMetadata } from './metadata.decorators';

/** `@UseGuards()` metadata (`GUARDS_METADATA` of @nestjs/common). */
const GUARDS_METADATA = '__guards__';

type Guard = abstract new (...args: never[]) => unknown;
/** What Reflector reads metadata from: a handler or a class. */
type Target = Parameters<Reflector['getAllAndOverride']>[1][number];

function isGuard(entry: unknown, guard: Guard): boolean {
  if (typeof entry === 'function') return entry === guard || entry.prototype instanceof guard;
  return entry instanceof guard;
}

/**
 * Mistakes in route metadata, found once at startup instead of on every request: an `@Audience()`
 * name missing from the `audiences` option (or a bad `@TokenFrom()`) stops the app, naming the class
 * and handler; `@Roles()` / `@Permissions()` where no `JwtGuard` runs before the guard that checks
 * them, or where that guard never runs, is logged as a warning.
 */
@Injectable()
export class RouteChecks implements OnModuleInit {
  private readonly logger = new Logger('JwtRotation');

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {
    for (const [type, transport] of Object.entries(options.transports)) registerTransport(type, transport);
  }

  onModuleInit(): void {
    const globalGuards = this.discovery
      .getProviders()
      .filter((wrapper) => typeof wrapper.token === 'string' && wrapper.token.startsWith(APP_GUARD))
      .map((wrapper) => wrapper.instance ?? wrapper.metatype);
    const problems: string[] = [];
    const seen = new Set<unknown>();
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      const type = wrapper.metatype;
      if (typeof type !== 'function' || seen.has(type) || !type.prototype) continue;
      seen.add(type);
      const methods = this.scanner.getAllMethodNames(type.prototype);
      for (const name of methods) {
        const handler = (type.prototype as Record<string, unknown>)[name];
        if (typeof handler !== 'function') continue;
        problems.push(...this.checkHandler(type as Guard, name, handler as Target, globalGuards));
      }
    }
    if (problems.length > 0) throw new ConfigurationError(problems);
  }

  private checkHandler(controller: Guard, name: string, handler: Target, globalGuards: unknown[]): string[] {
    const targets: Target[] = [handler, controller as Target];
    const where = `${controller.name}.${name}`;
    const problems: string[] = [];
    const audience = this.reflector.getAllAndOverride(Audience, targets);
    if (audience !== undefined && !Object.hasOwn(this.options.audiences, audience)) {
      problems.push(
        `@Audience('${String(audience).slice(0, 64)}') on ${where}: no audience of that name in the audiences option ` +
          `(known: ${Object.keys(this.options.audiences).join(', ')}); add it to audiences or fix the name`,
      );
    }
    const sources = this.reflector.getAllAndOverride(TokenFromMetadata, targets);
    if (sources !== undefined) problems.push(...tokenSourceProblems(sources, `@TokenFrom() on ${where}`));
    for (const [metadata, guard, decorator] of [
      [RolesMetadata, RolesGuard, '@Roles()'],
      [PermissionsMetadata, PermissionsGuard, '@Permissions()'],
    ] as const) {
      const required = this.reflector.getAllAndOverride(metadata, targets);
      if (!required || required.length === 0) continue;
      const guards: unknown[] = [
        ...globalGuards,
        ...((Reflect.getMetadata(GUARDS_METADATA, controller) as unknown[] | undefined) ?? []),
        ...((Reflect.getMetadata(GUARDS_METADATA, handler) as unknown[] | undefined) ?? []),
      ];
      const checker = guards.findIndex((entry) => isGuard(entry, guard));
      const verifier = guards.findIndex((entry) => isGuard(entry, JwtGuard));
      if (checker < 0) {
        this.logger.warn(`${decorator} on ${where} is never checked: add ${guard.name} to @UseGuards() there (after JwtGuard)`);
      } else if (verifier < 0 || verifier > checker) {
        this.logger.warn(
          `${decorator} on ${where} has no JwtGuard in front of ${guard.name}, so every request is refused: ` +
            `register JwtGuard as APP_GUARD or list it first in @UseGuards(JwtGuard, ${guard.name})`,
        );
      }
    }
    return problems;
  }
}
