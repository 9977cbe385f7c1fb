/** Where a session was opened from, as shown in a list of active sessions. */
export interface SessionContext {
  userAgent?: string;
  ip?: string;
}

export interface IssueSessionOptions {
  /** Short audience name of the access tokens. @default 'default' */
  audience?: string;
  /** Request context recorded with the session. */
  context?: SessionContext;
}

/** What login and refresh return (RFC 6749 §5.1 field names). */
export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  /** Seconds until the access token expires. */
  expires_in: number;
}

/** An active session, as `listSessions()` returns it. No token, no hash. */
export interface SessionInfo {
  sid: string;
  createdAt: Date;
  lastUsedAt: Date;
  userAgent: string | null;
  ip: string | null;
}
