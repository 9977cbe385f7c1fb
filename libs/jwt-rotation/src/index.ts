export { JwtRotationModule } from './jwt-rotation.module';
export { JWT_ROTATION_ASYNC_OPTIONS_TYPE, JWT_ROTATION_OPTIONS_TYPE } from './jwt-rotation.module-definition';
export type { JwtRotationModuleOptions, ResolvedJwtRotationOptions, ResolvedVerificationOptions } from './jwt-rotation.options';
export { JwtVerifierModule } from './verifier/jwt-verifier.module';
export type { JwtVerifierModuleOptions, TrustedIssuerOptions, ResolvedVerifierOptions } from './verifier/jwt-verifier.options';
export type { ClaimSource, ClaimsPreset, ClaimsProfileOptions, TokenClaims } from './tokens/claims-profile';
export { RemoteJwksKeySource } from './keys/remote-jwks.key-source';
export type { TrustedIssuerStatus } from './keys/remote-jwks.key-source';
export { JWT_ROTATION_OPTIONS, ACCESS_TOKEN_TYPE, REFRESH_TOKEN_TYPE } from './jwt-rotation.constants';
export type { Duration } from './duration';
export { SUPPORTED_ALGORITHMS } from './keys/algorithms';
export type { AsymmetricAlgorithm, JwtAlgorithm } from './keys/algorithms';

export { KeyRotationService } from './keys/key-rotation.service';
export type { KeyInfo } from './keys/key-rotation.service';
export type { KeyStatus } from './keys/key-schedule';
export { TokenService } from './tokens/token.service';
export { SessionService } from './sessions/session.service';
export { SessionCookies } from './cookies/session-cookies.service';
export type { CookieSessionResponse } from './cookies/session-cookies.service';
export type { SessionCookieOptions } from './cookies/cookie.options';
export type { IssueSessionOptions, SessionContext, SessionInfo, TokenPair } from './sessions/session.types';
export type { DecodedToken, SignOptions, TokenKind, VerifiedClaims, VerifyOptions } from './tokens/token.types';

export { JwtGuard } from './http/jwt.guard';
export type { JwtRequest } from './http/jwt.guard';
export { GraphQLRefusalError } from './transports/graphql.transport';
export { SocketIoAuth } from './transports/socket-io.auth';
export type { HandshakeSocket, MiddlewareHost, SocketIoAuthOptions } from './transports/socket-io.auth';
export type { JwtTransport, Refusal, RefusalKind } from './transports/jwt-transport';
export type { HttpRequestLike } from './transports/http.transport';
export type { GraphQLRequestLike } from './transports/graphql.transport';
export type { SocketLike, WsRefusalPayload } from './transports/ws.transport';
export type { RpcContextLike } from './transports/rpc.transport';
export type { BuiltInTokenSource, TokenSource, TokenSourceFunction } from './transports/token-source';
export { JwksController } from './http/jwks.controller';
export { IssuerMetadataController, issuerMetadataController } from './http/issuer-metadata.controller';
export type { IssuerMetadata } from './http/issuer-metadata.controller';
export { TokenRejections } from './http/token-rejections';
export type { RejectionCode, TokenRejection } from './http/token-rejections';
export type { JsonWebKeySet } from './http/jwks.controller';
export { RolesGuard, PermissionsGuard } from './http/claim-values.guard';
export { Claims } from './http/claims.decorator';
export { JwtRotationExceptionFilter } from './http/jwt-rotation-exception.filter';
export type { RequestWithClaims } from './http/claims.decorator';
export { Audience, Permissions, Public, Roles, TokenFrom } from './http/metadata.decorators';

export { ROTATION_STORE, InjectRotationStore } from './store/rotation-store';
export type { RotationStore } from './store/rotation-store';

export {
  AlgorithmNotAllowedError,
  ConfigurationError,
  CsrfRejectedError,
  MalformedAuthorizationError,
  TokenMissingError,
  InvalidAudienceError,
  InvalidClaimError,
  InvalidIssuerError,
  InvalidSignatureError,
  InvalidTokenTypeError,
  JwtRotationError,
  RefreshConflictError,
  RefreshTokenInvalidError,
  RefreshTokenReusedError,
  TokenRevokedError,
  KeyDecryptionError,
  MalformedTokenError,
  NoSigningKeyError,
  RevokedKeyError,
  StoreUnavailableError,
  TokenExpiredError,
  TokenIssuedInFutureError,
  TokenNotYetValidError,
  TokenTooOldError,
  TokenVerificationError,
  UnknownKeyError,
  UnsupportedHeaderError,
} from './errors';
export type { CredentialRejectionError, JwtRotationErrorCode } from './errors';
