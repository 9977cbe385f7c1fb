import type { SessionContext } from '@app/jwt-rotation';

/** What the example app's auth routes read from a request. */
export interface RequestInfo {
  ip?: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Where a session is opened or refreshed from, as `GET /auth/sessions` lists it. */
export function contextOf(request: RequestInfo): SessionContext {
  const userAgent = request.headers['user-agent'];
  return { userAgent: typeof userAgent === 'string' ? userAgent : undefined, ip: request.ip };
}
