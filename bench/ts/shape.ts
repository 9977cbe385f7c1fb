/** What every case signs and verifies: one token shape for every library. */
export const ISSUER = 'https://bench.nest-jwt-rotation.test';
export const AUDIENCE = 'https://bench.nest-jwt-rotation.test/api';
export const SUBJECT = 'user-4711';
/** Claims besides the registered ones (iss, aud, iat, nbf, exp, jti, sub). */
export const PRIVATE_CLAIMS = { sid: 'c2Vzc2lvbi0wMDAwMDAwMDAwNDI', roles: ['reader', 'writer'] } as const;
/** The role the guarded routes require (RolesGuard). */
export const REQUIRED_ROLE = 'reader';
/** Access token lifetime, seconds. */
export const TOKEN_TTL_SECONDS = 900;
