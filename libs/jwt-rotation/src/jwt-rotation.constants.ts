/** Injection token of the resolved, validated options. */
export const JWT_ROTATION_OPTIONS = Symbol('JWT_ROTATION_OPTIONS');
/** Injection token of the key-encryption helper. */
export const KEY_ENCRYPTION = Symbol('JWT_ROTATION_KEY_ENCRYPTION');

export const ACCESS_TOKEN_TYPE = 'at+jwt';
export const REFRESH_TOKEN_TYPE = 'refresh+jwt';

export const storeKeys = (prefix: string) => ({
  ring: `${prefix}:ring`,
  /** Pub/sub channel of {@link ClusterEvent}s between instances sharing the store. */
  events: `${prefix}:events`,
  /** The capped log (a stream) of the same events, read by an instance that missed some. */
  log: `${prefix}:log`,
  material: (kid: string) => `${prefix}:key:${kid}`,
  /** Every live revocation, as its event, scored by its expiry. */
  revocations: `${prefix}:revocations`,
  session: (sid: string) => `${prefix}:session:${sid}`,
  subjectSessions: (sub: string) => `${prefix}:subject:${Buffer.from(sub, 'utf8').toString('base64url')}:sessions`,
});
