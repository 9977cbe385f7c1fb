import { Injectable, Logger } from '@nestjs/common';
import { type Observable, Subject } from 'rxjs';
import type { JwtRotationErrorCode } from '../errors';

/** Why `JwtGuard` refused a request: a verification code, or no usable credential at all. */
export type RejectionCode = JwtRotationErrorCode | 'ERR_TOKEN_MISSING' | 'ERR_AUTHORIZATION_MALFORMED';

/** One refused request. Never the token, a secret or a claim value. */
export interface TokenRejection {
  readonly code: RejectionCode;
  /** `GET /me`: the route's template, not the requested URL. */
  readonly route: string;
  /** The token's kid when it is a plain id; `undefined` when absent or not printable. */
  readonly kid: string | undefined;
}

/**
 * Every token `JwtGuard` refuses, as one structured log line (`{"event":"jwt_rejected",...}` at
 * warn level, at most 100 a second, then a count of those left out), a count per code, and an
 * observable an app can feed to its metrics or alerts.
 * @example
 * ```ts
 * constructor(rejections: TokenRejections) {
 *   rejections.events$.subscribe(({ code }) => counter.inc({ code }));
 * }
 * ```
 */
@Injectable()
export class TokenRejections {
  private readonly logger = new Logger('JwtRotation');
  private readonly subject = new Subject<TokenRejection>();
  private readonly counters = new Map<RejectionCode, number>();
  private second = 0;
  private logged = 0;
  private suppressed = 0;

  /** Each rejection as it happens. */
  readonly events$: Observable<TokenRejection> = this.subject.asObservable();

  /** Rejections so far, by code. */
  counts(): Partial<Record<RejectionCode, number>> {
    return Object.fromEntries(this.counters);
  }

  record(rejection: TokenRejection): void {
    this.counters.set(rejection.code, (this.counters.get(rejection.code) ?? 0) + 1);
    this.subject.next(rejection);
    // A client can send rejections as fast as it likes; the log gets at most a budget per second
    // and then one line saying how many it left out. Counts and events miss none.
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.second) {
      if (this.suppressed > 0) this.logger.warn(JSON.stringify({ event: 'jwt_rejected_suppressed', count: this.suppressed }));
      this.second = second;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged >= LOG_LINES_PER_SECOND) {
      this.suppressed++;
      return;
    }
    this.logged++;
    this.logger.warn(JSON.stringify({ event: 'jwt_rejected', code: rejection.code, route: rejection.route, kid: rejection.kid ?? null }));
  }
}

/** Log lines per second before the rest are only counted. */
const LOG_LINES_PER_SECOND = 100;

const PLAIN_KID = /^[A-Za-z0-9_-]{1,128}$/;

/** The kid of a token that failed, if its header parses and the kid is a plain id: safe to log. */
export function loggableKid(token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 1024) return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header?.kid === 'string' && PLAIN_KID.test(header.kid) ? header.kid : undefined;
  } catch {
    return undefined;
  }
}
