import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { RefreshTokenInvalidError, RefreshTokenReusedError, TokenVerificationError } from '../errors';
import { JWT_ROTATION_OPTIONS, storeKeys } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { ROTATION_STORE, type RotationStore } from '../store/rotation-store';
import { TokenService } from '../tokens/token.service';
import { RevocationService } from './revocation.service';
import type { IssueSessionOptions, SessionContext, SessionInfo, TokenPair } from './session.types';

/** A session as stored. The refresh token is kept only as a SHA-256 hash. */
interface SessionRecord {
  sid: string;
  sub: string;
  audience: string;
  claims: Record<string, unknown>;
  createdAt: number;
  lastUsedAt: number;
  /** How many refreshes the session has had; the generation the current refresh token belongs to. */
  generation: number;
  refreshHash: string;
  /** Hash of the refresh token consumed by the last refresh, and when (for refreshReuseInterval). */
  previousHash: string | undefined;
  rotatedAt: number | undefined;
  userAgent: string | undefined;
  ip: string | undefined;
}

/** Session ids are ours (16 random bytes, base64url); anything else names no session. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

const hash = (token: string): string => createHash('sha256').update(token).digest('base64url');

function sameHash(a: string | undefined, b: string): boolean {
  return a !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/**
 * Sessions with single-use refresh tokens: each refresh returns a new pair and retires the refresh
 * token it consumed; a retired refresh token presented again revokes the whole session (OAuth 2.0
 * Security BCP, RFC 9700 §4.14). Logout, "log out everywhere" and single-token revocation reach the
 * hot path through the revocation view.
 */
@Injectable()
export class SessionService {
  private readonly logger = new Logger('JwtRotation');
  private readonly keys: ReturnType<typeof storeKeys>;

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
    @Inject(ROTATION_STORE) private readonly store: RotationStore,
    private readonly tokens: TokenService,
    private readonly revocations: RevocationService,
  ) {
    this.keys = storeKeys(options.keyPrefix);
  }

  /** Opens a session for `subject` and returns its first token pair. `claims` go into every access token. */
  async issue(subject: string, claims: Record<string, unknown> = {}, options: IssueSessionOptions = {}): Promise<TokenPair> {
    if (typeof subject !== 'string' || subject.length === 0) throw new TypeError('issue() needs the subject as a non-empty string');
    const now = Date.now();
    const sid = randomBytes(16).toString('base64url');
    const record: SessionRecord = {
      sid,
      sub: subject,
      audience: options.audience ?? 'default',
      claims: { ...claims },
      createdAt: now,
      lastUsedAt: now,
      generation: 0,
      refreshHash: '',
      previousHash: undefined,
      rotatedAt: undefined,
      userAgent: truncate(options.context?.userAgent, 256),
      ip: truncate(options.context?.ip, 64),
    };
    const pair = await this.sign(record, now);
    await this.save(record, now);
    await this.index(record);
    return pair;
  }

  /**
   * Trades a refresh token for a new pair. Throws `RefreshTokenInvalidError` for a token that does
   * not verify or whose session is gone, and `RefreshTokenReusedError` (after revoking the session)
   * for a refresh token presented again after it was used.
   */
  async refresh(refreshToken: string, context: SessionContext = {}): Promise<TokenPair> {
    let claims: { sid?: unknown; sub?: unknown };
    try {
      claims = await this.tokens.verifyAsync(refreshToken, { kind: 'refresh' });
    } catch (error) {
      if (error instanceof TokenVerificationError) throw new RefreshTokenInvalidError('The refresh token is not valid', { cause: error });
      throw error;
    }
    if (typeof claims.sid !== 'string') throw new RefreshTokenInvalidError('The refresh token belongs to no session');
    const now = Date.now();
    const record = await this.load(claims.sid, now);
    if (!record || record.sub !== claims.sub) throw new RefreshTokenInvalidError('The session of this refresh token has ended');

    const presented = hash(refreshToken);
    if (sameHash(record.refreshHash, presented)) {
      // Create-if-absent on the generation: of many refreshes racing with one token, one wins.
      const marker = `g:${record.generation}`;
      const rotations = this.keys.refreshRotations(record.sid);
      const won = await this.store.hashSetIfAbsent(rotations, marker, String(now), this.sessionEnd(record) - now);
      if (won) {
        return this.rotate(record, now, context).catch(async (error: unknown) => {
          // The rotation did not happen: free the marker so a retry with the same token can win.
          await this.store.hashDelete(rotations, [marker]).catch(() => undefined);
          throw error;
        });
      }
      // Lost a race with a concurrent refresh of the same token: that one gets the pair. This is a
      // duplicate in flight, not a replay of a retired token, so the session stays.
      throw new RefreshTokenInvalidError('The refresh token is being used by a concurrent request');
    }
    return this.reuse(record, now, sameHash(record.previousHash, presented) ? record.rotatedAt : undefined, context);
  }

  /** The subject's live sessions, oldest first. */
  async listSessions(subject: string): Promise<SessionInfo[]> {
    const index = this.keys.subjectSessions(subject);
    const now = Date.now();
    const sids = Object.keys(await this.store.hashGetAll(index));
    const records = await Promise.all(sids.map((sid) => this.load(sid, now)));
    const gone = sids.filter((_, i) => !records[i] || records[i].sub !== subject);
    if (gone.length > 0) await this.store.hashDelete(index, gone);
    return records
      .filter((r): r is SessionRecord => r !== undefined && r.sub === subject)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((r) => ({
        sid: r.sid,
        createdAt: new Date(r.createdAt),
        lastUsedAt: new Date(r.lastUsedAt),
        userAgent: r.userAgent ?? null,
        ip: r.ip ?? null,
      }));
  }

  /**
   * Ends a session: its refresh token stops working and its access tokens stop verifying at once.
   * With `subject`, only a session of that subject is ended. @returns false when there was none.
   */
  async revokeSession(sid: string, subject?: string): Promise<boolean> {
    if (!SESSION_ID.test(sid)) return false;
    const record = await this.store.get<SessionRecord>(this.keys.session(sid));
    if (!record || (subject !== undefined && record.sub !== subject)) {
      // Without a subject the caller holds a token of this session (a logout): whatever the store
      // says of the record, that token and its siblings must stop.
      if (subject === undefined) await this.revocations.revokeSession(sid);
      return false;
    }
    await this.end(record);
    return true;
  }

  /** "Log out everywhere": every session of the subject ends, and every token issued before now stops verifying. */
  async revokeAllSessions(subject: string): Promise<void> {
    await this.revocations.revokeSubject(subject);
    const index = this.keys.subjectSessions(subject);
    const sids = Object.keys(await this.store.hashGetAll(index));
    const records = await Promise.all(sids.map((sid) => this.store.get<SessionRecord>(this.keys.session(sid))));
    await Promise.all(records.filter((r): r is SessionRecord => r?.sub === subject).map((r) => this.end(r, false)));
    await this.store.hashDelete(index, sids);
  }

  /** Revokes a single access (or refresh) token by its `jti`; `exp` bounds how long the entry is kept. */
  revokeToken(jti: string, exp: number): Promise<void> {
    return this.revocations.revokeToken(jti, exp);
  }

  /** `retry`: a grace-period retry of the token consumed last; it stays the previous one, so later retries also pass. */
  private async rotate(record: SessionRecord, now: number, context: SessionContext, retry = false): Promise<TokenPair> {
    const next: SessionRecord = {
      ...record,
      generation: record.generation + 1,
      previousHash: retry ? record.previousHash : record.refreshHash,
      rotatedAt: retry ? record.rotatedAt : now,
      lastUsedAt: now,
      userAgent: truncate(context.userAgent, 256) ?? record.userAgent,
      ip: truncate(context.ip, 64) ?? record.ip,
    };
    const pair = await this.sign(next, now);
    const ended = this.keys.sessionEnded(record.sid);
    if (await this.store.get(ended)) throw new RefreshTokenInvalidError('The session of this refresh token has ended');
    await this.save(next, now);
    await this.index(next);
    if (await this.store.get(ended)) {
      // Ended while this refresh ran (logout, or a replay of the token just consumed): the save
      // must not bring the session back. The pair is already dead through its revoked sid.
      await this.store.delete(this.keys.session(record.sid));
    }
    // Only the last generations matter for racing refreshes; older markers go.
    if (record.generation >= 2) await this.store.hashDelete(this.keys.refreshRotations(record.sid), [`g:${record.generation - 2}`]);
    return pair;
  }

  private async reuse(record: SessionRecord, now: number, rotatedAt: number | undefined, context: SessionContext): Promise<TokenPair> {
    const grace = this.options.refreshReuseIntervalMs;
    if (grace > 0 && rotatedAt !== undefined && now - rotatedAt <= grace) {
      // The client lost the response of a refresh it just made: give it a working pair. Of
      // several such retries the latest pair's refresh token is the one that stays valid.
      const latest = (await this.load(record.sid, now)) ?? record;
      return this.rotate(latest, now, context, true);
    }
    this.logger.warn(`Refresh token reuse on session ${record.sid}: session revoked`);
    await this.end(record);
    throw new RefreshTokenReusedError('The refresh token was already used: the session has been revoked');
  }

  private async end(record: SessionRecord, unindex = true): Promise<void> {
    // The tombstone comes first: a refresh that won a race saves after this and must see it.
    await this.store.set(this.keys.sessionEnded(record.sid), 1, this.options.refreshTokenTtlMs);
    await this.revocations.revokeSession(record.sid);
    await this.store.delete(this.keys.session(record.sid));
    await this.store.delete(this.keys.refreshRotations(record.sid));
    if (unindex) await this.store.hashDelete(this.keys.subjectSessions(record.sub), [record.sid]);
  }

  /** Signs a pair for the record and sets its refresh hash. Tokens never outlive the session. */
  private async sign(record: SessionRecord, now: number): Promise<TokenPair> {
    const remaining = Math.floor((this.sessionEnd(record) - now) / 1000);
    if (remaining < 1) throw new RefreshTokenInvalidError('The session has reached its maximum lifetime');
    const accessSeconds = Math.min(Math.ceil(this.options.accessTokenTtlMs / 1000), remaining);
    const refreshSeconds = Math.min(Math.ceil(this.options.refreshTokenTtlMs / 1000), remaining);
    const access_token = await this.tokens.signAsync(
      { ...record.claims, sid: record.sid },
      { subject: record.sub, audience: record.audience, expiresIn: accessSeconds },
    );
    const refresh_token = await this.tokens.signAsync(
      { sid: record.sid },
      { subject: record.sub, kind: 'refresh', expiresIn: refreshSeconds },
    );
    record.refreshHash = hash(refresh_token);
    return { access_token, refresh_token, token_type: 'Bearer', expires_in: accessSeconds };
  }

  /** When the session ends if it is never refreshed again: the refresh TTL, idle timeout and max lifetime, whichever comes first. */
  private sessionEnd(record: SessionRecord): number {
    const { refreshTokenTtlMs, sessionIdleTimeoutMs, sessionMaxLifetimeMs } = this.options;
    return Math.min(
      record.lastUsedAt + refreshTokenTtlMs,
      sessionIdleTimeoutMs === undefined ? Infinity : record.lastUsedAt + sessionIdleTimeoutMs,
      sessionMaxLifetimeMs === undefined ? Infinity : record.createdAt + sessionMaxLifetimeMs,
    );
  }

  /** The subject's index of sessions lives as long as its latest session could. */
  private async index(record: SessionRecord): Promise<void> {
    await this.store.hashSet(
      this.keys.subjectSessions(record.sub),
      { [record.sid]: String(record.createdAt) },
      this.options.refreshTokenTtlMs,
    );
  }

  private async save(record: SessionRecord, now: number): Promise<void> {
    await this.store.set(this.keys.session(record.sid), record, this.sessionEnd(record) - now);
  }

  private async load(sid: string, now: number): Promise<SessionRecord | undefined> {
    const record = await this.store.get<SessionRecord>(this.keys.session(sid));
    return record && this.sessionEnd(record) > now ? record : undefined;
  }
}

function truncate(value: string | undefined, length: number): string | undefined {
  return typeof value === 'string' ? value.slice(0, length) : undefined;
}
