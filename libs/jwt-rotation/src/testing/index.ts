// The public API of `nest-jwt-rotation/testing`.
export { JwtRotationTestingModule, TEST_ISSUER } from './jwt-rotation-testing.module';
export { TestClock } from './test-clock';
export { INVALID_TOKEN_CODES, INVALID_TOKEN_REASONS, JwtTestTokens } from './test-tokens';
export type { InvalidTokenReason, MintOptions, TestClaims } from './test-tokens';
export { stubJwtGuard } from './stub-jwt-guard';
export type { StubIdentity } from './stub-jwt-guard';
