import { Injectable } from '@nestjs/common';
import { type Observable, Subject } from 'rxjs';

/** The claims the revocation check reads. */
export interface RevocableClaims {
  sid?: unknown;
  sub?: unknown;
  jti?: unknown;
  iat?: unknown;
}

export type RevocationReason = 'session' | 'subject' | 'token';

/**
 * The in-memory view of revocations that the hot path checks: revoked sessions, subjects logged
 * out everywhere (with the second before which their tokens stop verifying) and revoked `jti`s.
 * Each entry carries its expiry (epoch ms) and is dropped once what it revokes could not be valid.
 */
@Injectable()
export class RevocationView {
  private readonly sessions = new Map<string, number>();
  private readonly tokens = new Map<string, number>();
  private readonly subjects = new Map<string, { cutoff: number; expiresAt: number }>();

  private readonly added = new Subject<void>();

  /**
   * Emits each time a revocation is added or widened here or by another instance (never for one
   * already known, so a resync is silent): what holds verified claims for long, such as an open
   * WebSocket, checks them again with {@link check}.
   */
  readonly added$: Observable<void> = this.added.asObservable();

  get size(): number {
    return this.sessions.size + this.tokens.size + this.subjects.size;
  }

  /** Why the token is revoked, or undefined when it is not. */
  check(claims: RevocableClaims): RevocationReason | undefined {
    if (this.sessions.size > 0 && typeof claims.sid === 'string' && this.sessions.has(claims.sid)) return 'session';
    if (this.tokens.size > 0 && typeof claims.jti === 'string' && this.tokens.has(claims.jti)) return 'token';
    if (this.subjects.size > 0 && typeof claims.sub === 'string') {
      const subject = this.subjects.get(claims.sub);
      // Tokens issued in an earlier second than the logout stop; a login in the same second after
      // it goes on (its session was not among those revoked, and sid revocations cover the rest).
      if (subject && typeof claims.iat === 'number' && claims.iat < subject.cutoff) return 'subject';
    }
    return undefined;
  }

  addSession(sid: string, expiresAt: number): void {
    const known = this.sessions.has(sid);
    this.sessions.set(sid, Math.max(expiresAt, this.sessions.get(sid) ?? 0));
    if (!known) this.added.next();
  }

  addToken(jti: string, expiresAt: number): void {
    const known = this.tokens.has(jti);
    this.tokens.set(jti, Math.max(expiresAt, this.tokens.get(jti) ?? 0));
    if (!known) this.added.next();
  }

  addSubject(sub: string, cutoff: number, expiresAt: number): void {
    const known = this.subjects.get(sub);
    this.subjects.set(sub, { cutoff: Math.max(cutoff, known?.cutoff ?? 0), expiresAt: Math.max(expiresAt, known?.expiresAt ?? 0) });
    if (known === undefined || cutoff > known.cutoff) this.added.next();
  }

  /** Drops entries whose revoked tokens have all expired. */
  prune(now = Date.now()): void {
    for (const [id, expiresAt] of this.sessions) if (expiresAt <= now) this.sessions.delete(id);
    for (const [id, expiresAt] of this.tokens) if (expiresAt <= now) this.tokens.delete(id);
    for (const [id, entry] of this.subjects) if (entry.expiresAt <= now) this.subjects.delete(id);
  }
}
