import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedVerificationOptions } from '../jwt-rotation.options';
import { authorizationValues } from '../tokens/claims-profile';
import type { RequestWithClaims } from './claims.decorator';
import { PermissionsMetadata, RolesMetadata } from './metadata.decorators';
import { bearerChallenge, bearerException, setResponseHeader } from './www-authenticate';

/**
 * Requires every value listed by a metadata decorator in one claim of the verified token. Runs
 * after `JwtGuard`; routes without the decorator pass.
 */
abstract class RequiredClaimValuesGuard implements CanActivate {
  protected abstract readonly metadata: typeof RolesMetadata;
  protected abstract claimName(): string;

  constructor(
    protected readonly reflector: Reflector,
    @Inject(JWT_ROTATION_OPTIONS) protected readonly options: ResolvedVerificationOptions,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const required = this.reflector.getAllAndOverride(this.metadata, [context.getHandler(), context.getClass()]);
    if (!required || required.length === 0) return true;
    const http = context.switchToHttp();
    const claims = http.getRequest<RequestWithClaims>().user;
    if (!claims) {
      // No verified token: JwtGuard is missing before this guard or the route is @Public().
      setResponseHeader(http.getResponse(), 'WWW-Authenticate', bearerChallenge(this.options.realm));
      throw bearerException(undefined);
    }
    const isRoles = this.metadata === RolesMetadata;
    // Read where the token's issuer puts them (its claims profile); only scope-style claims split on spaces.
    const held = authorizationValues(this.options, claims as Record<string, unknown>, isRoles ? 'roles' : 'permissions', this.claimName());
    if (required.every((value) => held.has(value))) return true;
    const description = `The access token lacks a required ${isRoles ? 'role' : 'permission'}`;
    setResponseHeader(http.getResponse(), 'WWW-Authenticate', bearerChallenge(this.options.realm, 'insufficient_scope', description));
    throw bearerException('insufficient_scope', description);
  }
}

/** Requires every role named by `@Roles()` in the token's roles claim (option `rolesClaim`); 403 otherwise. */
@Injectable()
export class RolesGuard extends RequiredClaimValuesGuard {
  protected readonly metadata = RolesMetadata;
  protected claimName(): string {
    return this.options.rolesClaim;
  }
}

/** Requires every permission named by `@Permissions()` in the permissions claim (option `permissionsClaim`); 403 otherwise. */
@Injectable()
export class PermissionsGuard extends RequiredClaimValuesGuard {
  protected readonly metadata = PermissionsMetadata;
  protected claimName(): string {
    return this.options.permissionsClaim;
  }
}
