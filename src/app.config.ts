import type { ClaimsPreset, JwtAlgorithm } from '@app/jwt-rotation';

/** Everything the example app reads from its environment. */
export interface AppConfig {
  port: number;
  /** Unset: the in-memory cache store. Set: Redis through @keyv/redis. */
  redisUrl?: string;
  algorithm?: JwtAlgorithm;
  rotationInterval?: string;
  accessTokenTtl?: string;
  refreshTokenTtl?: string;
  clockTolerance?: string;
  issuer: string;
  keyEncryptionSecret?: string;
  keyPrefix?: string;
  refreshReuseInterval?: string;
  sessionIdleTimeout?: string;
  sessionMaxLifetime?: string;
  maxSessionsPerSubject?: number;
  /** Set: verify-only mode, keys from this JWKS URL of the issuer (asymmetric algorithms). */
  jwksUri?: string;
  jwksRefreshInterval?: string;
  /** false: session cookies without `Secure`, for http:// development on browsers other than Chromium and Firefox. */
  cookieSecure?: boolean;
  /** Set: verifier of a foreign identity provider, found by discovery from this issuer URL. */
  trustIssuer?: string;
  /** Where that provider puts its claims: auth0, keycloak, cognito, entra or rfc9068 (the default). */
  trustPreset?: ClaimsPreset;
  /** The audience (Cognito: the app client id) its tokens must carry. */
  trustAudience?: string;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): AppConfig {
  return {
    port: Number(env.PORT ?? 3000),
    redisUrl: env.REDIS_URL || undefined,
    algorithm: (env.JWT_ALGORITHM || undefined) as JwtAlgorithm | undefined,
    rotationInterval: env.JWT_ROTATION_INTERVAL || undefined,
    accessTokenTtl: env.JWT_ACCESS_TOKEN_TTL || undefined,
    refreshTokenTtl: env.JWT_REFRESH_TOKEN_TTL || undefined,
    clockTolerance: env.JWT_CLOCK_TOLERANCE || undefined,
    issuer: env.JWT_ISSUER || 'http://localhost:3000',
    keyEncryptionSecret: env.JWT_KEY_ENCRYPTION_SECRET || undefined,
    keyPrefix: env.JWT_KEY_PREFIX || undefined,
    refreshReuseInterval: env.JWT_REFRESH_REUSE_INTERVAL || undefined,
    sessionIdleTimeout: env.JWT_SESSION_IDLE_TIMEOUT || undefined,
    sessionMaxLifetime: env.JWT_SESSION_MAX_LIFETIME || undefined,
    maxSessionsPerSubject: env.JWT_MAX_SESSIONS_PER_SUBJECT ? Number(env.JWT_MAX_SESSIONS_PER_SUBJECT) : undefined,
    jwksUri: env.JWT_JWKS_URI || undefined,
    jwksRefreshInterval: env.JWT_JWKS_REFRESH_INTERVAL || undefined,
    cookieSecure: env.JWT_COOKIE_SECURE === 'false' ? false : undefined,
    trustIssuer: env.JWT_TRUST_ISSUER || undefined,
    trustPreset: (env.JWT_TRUST_PRESET || undefined) as ClaimsPreset | undefined,
    trustAudience: env.JWT_TRUST_AUDIENCE || undefined,
  };
}
