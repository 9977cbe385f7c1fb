import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { JWT_ROTATION_OPTIONS } from '../jwt-rotation.constants';
import type { ResolvedVerificationOptions } from '../jwt-rotation.options';
import { authorizationValues } from '../tokens/claims-profile';
import type { VerifiedClaims } from '../tokens/token.types';
import type { Refusal } from '../transports/jwt-transport';
import { claimsOf, transportFor } from '../transports/transport-registry';
import { PermissionsMetadata, RolesMetadata } from './metadata.decorators';

/**
 * Requires every value listed by a metadata decorator in one claim of the verified token, in any
 * transport. Runs after `JwtGuard`; routes without the decorator pass.
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
    const claims: VerifiedClaims | undefined = claimsOf(context);
    // No verified token: JwtGuard is missing before this guard or the route is @Public().
    if (!claims) throw this.onUnauthenticated(context);
    // Read where the token's issuer puts them (its claims profile); only scope-style claims split on spaces.
    const kind = this.metadata === RolesMetadata ? 'roles' : 'permissions';
    const held = authorizationValues(this.options, claims as Record<string, unknown>, kind, this.claimName());
    if (required.every((value) => held.has(value))) return true;
    throw this.onForbidden(context, required);
  }

  /** The exception for a route reached without verified claims (401 over HTTP). */
  protected onUnauthenticated(context: ExecutionContext): unknown {
    return this.refuse(context, {
      bearerError: undefined,
      code: 'ERR_TOKEN_MISSING',
      description: 'Authentication required',
      realm: this.options.realm,
    });
  }

  /** The exception for a token that lacks a required value (403 `insufficient_scope` over HTTP, `FORBIDDEN` elsewhere). */
  protected onForbidden(context: ExecutionContext, required: readonly string[]): unknown {
    void required;
    const description = `The access token lacks a required ${this.claimName() === this.options.rolesClaim ? 'role' : 'permission'}`;
    return this.refuse(context, {
      bearerError: 'insufficient_scope',
      code: 'ERR_INSUFFICIENT_SCOPE',
      description,
      realm: this.options.realm,
    });
  }

  private refuse(context: ExecutionContext, refusal: Refusal): unknown {
    return transportFor(context).refuse(context, refusal);
  }
}

/** Requires every role named by `@Roles()` in the token's roles claim (option `rolesClaim`); 403 / `FORBIDDEN` otherwise. */
@Injectable()
export class RolesGuard extends RequiredClaimValuesGuard {
  protected readonly metadata = RolesMetadata;
  protected claimName(): string {
    return this.options.rolesClaim;
  }
}

/** Requires every permission named by `@Permissions()` in the permissions claim (option `permissionsClaim`); 403 / `FORBIDDEN` otherwise. */
@Injectable()
export class PermissionsGuard extends RequiredClaimValuesGuard {
  protected readonly metadata = PermissionsMetadata;
  protected claimName(): string {
    return this.options.permissionsClaim;
  }
}
