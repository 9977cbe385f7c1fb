import type { AsymmetricAlgorithm } from '../keys/algorithms';

/** Claims of a verified token, as the profile reads them. */
export type TokenClaims = Readonly<Record<string, unknown>>;

/**
 * Where roles or permissions are read: a claim name or dotted path (`realm_access.roles`), several
 * of them (values are merged), or a function of the verified claims. A name that exists as a
 * top-level claim is taken as is, so namespaced claims such as `https://example.com/roles` work.
 * Only scope-style claims (`scope`, `scp`) are split on spaces; any other string is one value.
 */
export type ClaimSource = string | readonly string[] | ((claims: TokenClaims) => readonly string[]);

/** Which tokens an issuer's profile takes for access tokens, and where it reads their claims. */
export interface ClaimsProfileOptions {
  /**
   * Accepted `typ` header values, compared as RFC 7515 §4.1.9 says (case-insensitive, `application/`
   * optional); `null` accepts a token without `typ`. @default ['at+jwt']
   */
  types?: ReadonlyArray<string | null>;
  /**
   * A token whose `typ` is not `at+jwt` must pass this test, which keeps the issuer's ID tokens out
   * (they share its keys and often its `typ`). Required as soon as `types` accepts more than `at+jwt`.
   */
  accessTokenWhen?: (claims: TokenClaims) => boolean;
  /** Whether `jti` must be present. @default false for a foreign issuer */
  requireJti?: boolean;
  /** The claim that names the token's audience. @default 'aud' */
  audienceClaim?: string;
  /** Where `@Roles()` reads roles. @default 'roles' */
  roles?: ClaimSource;
  /** Where `@Permissions()` reads permissions. @default 'scope' */
  permissions?: ClaimSource;
}

/** Named profiles of identity providers' access tokens. */
export type ClaimsPreset = 'rfc9068' | 'auth0' | 'keycloak' | 'cognito' | 'entra';

/** A profile ready for the hot path: every default filled in, the `typ` list normalised. */
export interface ClaimsProfile {
  /** Normalised accepted types; `''` stands for no `typ`. */
  readonly types: ReadonlySet<string>;
  readonly accessTokenWhen: ((claims: TokenClaims) => boolean) | undefined;
  readonly requireJti: boolean;
  readonly audienceClaim: string;
  readonly roles: (claims: TokenClaims) => ReadonlySet<string>;
  readonly permissions: (claims: TokenClaims) => ReadonlySet<string>;
}

/** What a preset needs to know of its issuer's configuration. */
interface PresetContext {
  /** The audience values accepted (Keycloak: the clients whose roles count). */
  readonly audiences: readonly string[];
}

const hasString = (claims: TokenClaims, name: string) => typeof claims[name] === 'string';

/**
 * The presets, from each provider's documentation of its access tokens:
 * - rfc9068: RFC 9068 (`typ: at+jwt`, `scope`, `roles`).
 * - auth0: https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles — the default
 *   profile signs `typ: JWT` with `scope` and `permissions` (RBAC), the RFC 9068 profile `at+jwt`;
 *   ID tokens have no `azp` when they name one audience, access tokens always carry it.
 * - keycloak: https://www.keycloak.org/docs/latest/server_admin/#_oidc_token_and_saml_assertion_mappers —
 *   `typ: JWT` in the header and `typ: "Bearer"` (ID tokens `"ID"`) in the claims, roles in
 *   `realm_access.roles` and `resource_access.<client>.roles`.
 * - cognito: https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html —
 *   no `typ`, `token_use: "access"` (ID tokens `"id"`), no `aud` but `client_id`, groups in `cognito:groups`.
 * - entra: https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference —
 *   `typ: JWT`, no `jti`, delegated permissions in `scp`, app roles in `roles`; JWKS keys without `alg`.
 */
const PRESETS: Readonly<Record<ClaimsPreset, (context: PresetContext) => ClaimsProfileOptions & { algorithms?: AsymmetricAlgorithm[] }>> = {
  rfc9068: () => ({ types: ['at+jwt'], roles: 'roles', permissions: 'scope' }),
  auth0: () => ({
    types: ['at+jwt', 'JWT'],
    accessTokenWhen: (claims) => hasString(claims, 'azp'),
    roles: 'roles',
    permissions: ['permissions', 'scope'],
    algorithms: ['RS256', 'PS256'],
  }),
  keycloak: ({ audiences }) => ({
    types: ['at+jwt', 'JWT'],
    accessTokenWhen: (claims) => claims.typ === 'Bearer',
    roles: (claims) => [
      ...valuesAt(claims, 'realm_access.roles'),
      ...audiences.flatMap((client) => valuesAt(claims, ['resource_access', client, 'roles'])),
    ],
    permissions: 'scope',
  }),
  cognito: () => ({
    types: [null, 'at+jwt', 'JWT'],
    accessTokenWhen: (claims) => claims.token_use === 'access',
    audienceClaim: 'client_id',
    roles: 'cognito:groups',
    permissions: 'scope',
    algorithms: ['RS256'],
  }),
  entra: () => ({
    types: ['at+jwt', 'JWT'],
    accessTokenWhen: (claims) => hasString(claims, 'scp') || Array.isArray(claims.roles),
    roles: 'roles',
    permissions: 'scp',
    algorithms: ['RS256'],
  }),
};

/** Names of the presets, for validation messages. */
export const CLAIMS_PRESETS = Object.keys(PRESETS) as ClaimsPreset[];

/** The algorithms a preset expects of its provider's keys, when it restricts them. */
export function presetAlgorithms(preset: ClaimsPreset, context: PresetContext): AsymmetricAlgorithm[] | undefined {
  return PRESETS[preset](context).algorithms;
}

/**
 * `typ` as RFC 7515 §4.1.9 compares it: media types are case-insensitive and a value without a
 * `/` means `application/<value>`. A missing `typ` is `''`.
 */
export function normalizeType(typ: unknown): string | undefined {
  if (typ === undefined || typ === null) return '';
  if (typeof typ !== 'string' || typ.length === 0) return undefined;
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
}

/**
 * Resolves a preset and custom options into a profile; problems are pushed with `path` naming the
 * option, so the caller reports them all at once.
 */
export function resolveClaimsProfile(
  preset: ClaimsPreset | undefined,
  custom: ClaimsProfileOptions | undefined,
  context: PresetContext,
  path: string,
  problems: string[],
): ClaimsProfile | undefined {
  if (preset !== undefined && !CLAIMS_PRESETS.includes(preset)) {
    problems.push(`${path}.preset must be one of ${CLAIMS_PRESETS.join(', ')}`);
    return undefined;
  }
  const { algorithms: _, ...base } = preset ? PRESETS[preset](context) : { algorithms: undefined };
  const options: ClaimsProfileOptions = { ...base, ...stripUndefined(custom ?? {}) };
  const types = new Set<string>();
  for (const typ of options.types ?? ['at+jwt']) {
    const normalized = normalizeType(typ);
    if (normalized === undefined) problems.push(`${path}.claims.types must hold media types such as "at+jwt", or null for none`);
    else types.add(normalized);
  }
  const onlyAccessTokenType = [...types].every((t) => t === 'application/at+jwt');
  if (!onlyAccessTokenType && typeof options.accessTokenWhen !== 'function') {
    problems.push(
      `${path}.claims.accessTokenWhen is required when types accepts more than "at+jwt": ID tokens of the same issuer share its keys, ` +
        'and this test tells its access tokens apart (e.g. claims => claims.token_use === "access")',
    );
  }
  const roles = claimSource(options.roles ?? 'roles', `${path}.claims.roles`, problems);
  const permissions = claimSource(options.permissions ?? 'scope', `${path}.claims.permissions`, problems);
  const audienceClaim = options.audienceClaim ?? 'aud';
  if (typeof audienceClaim !== 'string' || audienceClaim.length === 0) problems.push(`${path}.claims.audienceClaim must be a claim name`);
  if (!roles || !permissions) return undefined;
  return {
    types,
    accessTokenWhen: onlyAccessTokenType ? undefined : options.accessTokenWhen,
    requireJti: options.requireJti ?? false,
    audienceClaim,
    roles,
    permissions,
  };
}

/** The profile of this library's own tokens: `at+jwt`, `jti` required, roles and permissions from the configured claims. */
export function ownClaimsProfile(rolesClaim: string, permissionsClaim: string): ClaimsProfile {
  const problems: string[] = [];
  const profile = resolveClaimsProfile(
    undefined,
    { types: ['at+jwt'], requireJti: true, roles: rolesClaim, permissions: permissionsClaim },
    { audiences: [] },
    'options',
    problems,
  );
  if (!profile) throw new TypeError(problems.join('; '));
  return profile;
}

function claimSource(source: ClaimSource, path: string, problems: string[]): ((claims: TokenClaims) => ReadonlySet<string>) | undefined {
  if (typeof source === 'function') return (claims) => new Set(source(claims).filter((v) => typeof v === 'string'));
  const paths = typeof source === 'string' ? [source] : source;
  if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string' && p.length > 0)) {
    problems.push(`${path} must be a claim name, a dotted path, a list of them, or a function of the claims`);
    return undefined;
  }
  return (claims) => new Set(paths.flatMap((p) => valuesAt(claims, p)));
}

/** The string values at a claim path; only the scope-style claims `scope` and `scp` split on spaces. */
export function valuesAt(claims: TokenClaims, path: string | readonly string[]): string[] {
  const segments = typeof path !== 'string' ? path : Object.hasOwn(claims, path) ? [path] : path.split('.');
  let value: unknown = claims;
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, segment)) return [];
    value = (value as Record<string, unknown>)[segment];
  }
  const last = segments[segments.length - 1];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value !== 'string') return [];
  return last === 'scope' || last === 'scp' ? value.split(' ').filter(Boolean) : [value];
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The roles or permissions a verified token grants, read where its issuer's profile says: on a
 * verifier the profile of the trusted issuer named by `iss`, on an issuer the claim `claimName`.
 */
export function authorizationValues(
  options: { readonly role: 'issuer' | 'verifier' },
  claims: TokenClaims,
  kind: 'roles' | 'permissions',
  claimName: string,
): ReadonlySet<string> {
  if (options.role === 'issuer') return new Set(valuesAt(claims, claimName));
  const issuers = (options as { readonly issuers?: ReadonlyArray<{ readonly issuer: string; readonly profile: ClaimsProfile }> }).issuers;
  const profile = issuers?.find((issuer) => issuer.issuer === claims.iss)?.profile;
  return profile ? profile[kind](claims) : new Set();
}
