import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { RefreshConflictError, RefreshTokenInvalidError, RefreshTokenReusedError } from '../errors';
import { JWT_ROTATION_OPTIONS, storeKeys } from '../jwt-rotation.constants';
import type { ResolvedJwtRotationOptions } from '../jwt-rotation.options';
import { ROTATION_STORE, type RotationStore } from '../store/rotation-store';
import { TokenService } from '../tokens/token.service';
import { RefreshTokens } from './refresh-token';
import { RevocationService } from './revocation.service';
import { openSession, planRefresh, type SessionLimits, type SessionRecord, sessionEnd } from './session-plan';
import type { IssueSessionOptions, SessionContext, SessionInfo, TokenPair } from './session.types';

/** Session ids are ours (16 random bytes, base64url); anything else names no session. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Compare-and-set attempts of one refresh. A lost attempt reads the winner's commit and hands out
 * its pair, so a second attempt settles every race; a third only under a flood of rotations.
 */
const COMMIT_ATTEMPTS = 3;

const REFUSALS = {
  ended: 'The session of this refresh token has ended',
  'max-lifetime': 'The session has reached its maximum lifetime',
  'unknown-generation': 'The refresh token is not valid',
} as const;

const randomId = (): string => randomBytes(16).toString('base64url');

/**
 * Sessions with single-use refresh tokens: each refresh returns a new pair and retires the refresh
 * token it consumed; a retired refresh token presented again after its successor was used, or after
 * `refreshReuseInterval`, revokes the whole session (OAuth 2.0 Security BCP, RFC 9700 §4.14). A
 * client that retries a refresh, or sends it twice at once, gets the one pair that refresh made.
 * Logout, "log out everywhere" and single-token revocation reach the hot path through the
 * revocation view.
 */
@Injectable()
export class SessionService {
  private readonly logger = new Logger('JwtRotation');
  private readonly keys: ReturnType<typeof storeKeys>;
  private readonly limits: SessionLimits;
  private readonly refreshTokens: RefreshTokens;

  constructor(
    @Inject(JWT_ROTATION_OPTIONS) private readonly options: ResolvedJwtRotationOptions,
    @Inject(ROTATION_STORE) private readonly store: RotationStore,
    private readonly tokens: TokenService,
    private readonly revocations: RevocationService,
  ) {
    this.keys = storeKeys(options.keyPrefix);
    this.limits = options;
    this.refreshTokens = new RefreshTokens(options.keyEncryptionSecret);
  }

  /**
   * Opens a session for `subject` and returns its first token pair. `claims` go into every access
   * token. A subject over `maxSessionsPerSubject` loses its oldest session.
   */
  async issue(subject: string, claims: Record<string, unknown> = {}, options: IssueSessionOptions = {}): Promise<TokenPair> {
    if (typeof subject !== 'string' || subject.length === 0) throw new TypeError('issue() needs the subject as a non-empty string');
    const now = Date.now();
    const fields = { sid: randomId(), sub: subject, audience: options.audience ?? 'default', claims };
    const record = openSession(fields, now, this.limits, randomId(), options.context);
    if (!record) throw new RefreshTokenInvalidError(REFUSALS['max-lifetime']);
    const pair = await this.pair(record, now);
    // A fresh random sid is absent: this only ever writes, and a later refresh compares against it.
    await this.store.setIfVersion(this.keys.session(record.sid), undefined, record, sessionEnd(record, this.limits) - now);
    await this.index(record);
    await this.enforceCap(record);
    return pair;
  }

  /**
   * Trades a refresh token for a new pair. The same token presented again within
   * `refreshReuseInterval` of that refresh, while the new pair's refresh token is unused, gets that
   * same pair again (a retry after a 503 or a lost answer); so does a duplicate racing it. Throws
   * `RefreshTokenInvalidError` for a token that is not ours or whose session is gone,
   * `RefreshTokenReusedError` (after revoking the session) for a consumed token presented later, and
   * `RefreshConflictError` (retryable) when the session kept changing under this request.
   */
  async refresh(refreshToken: string, context: SessionContext = {}): Promise<TokenPair> {
    const presented = this.refreshTokens.decode(refreshToken);
    if (!presented) throw new RefreshTokenInvalidError('The refresh token is not valid');
    const key = this.keys.session(presented.sid);
    let lostRace = false;
    for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
      const now = Date.now();
      const stored = await this.store.getVersioned<SessionRecord>(key);
      const plan = planRefresh(
        { record: stored?.value, presented: presented.generation, now, lostRace, jti: randomId(), context },
        this.limits,
      );
      if (plan.action === 'refuse') throw new RefreshTokenInvalidError(REFUSALS[plan.reason]);
      if (plan.action === 'reissue') return this.pair(plan.record, now);
      if (plan.action === 'revoke') {
        this.logger.warn(`Refresh token reuse on session ${plan.record.sid}: session revoked`);
        await this.end(plan.record);
        throw new RefreshTokenReusedError('The refresh token was already used: the session has been revoked');
      }
      // Signed before the commit: a pair that cannot be signed (no key yet) consumes nothing.
      const pair = await this.pair(plan.next, now);
      // One atomic write decides the race and the outcome alike: if it times out here but runs
      // later, a retry reads the committed record and is handed this same pair.
      if (await this.store.setIfVersion(key, stored!.version, plan.next, sessionEnd(plan.next, this.limits) - now)) {
        await this.index(plan.next);
        return pair;
      }
      lostRace = true;
    }
    throw new RefreshConflictError('The session changed under concurrent refreshes: retry with the same refresh token');
  }

  /**
   * The session a refresh token names, when the token is one this service made (its MAC holds);
   * `undefined` otherwise. Reads nothing from the store: whether the session is live, and whether
   * the token is still its current one, is for {@link refresh} to say.
   */
  sessionOf(refreshToken: string): string | undefined {
    return this.refreshTokens.decode(refreshToken)?.sid;
  }

  /** The subject's live sessions, oldest first; at most `maxSessionsPerSubject` (plus logins racing the cap). */
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
    const record = (await this.store.getVersioned<SessionRecord>(this.keys.session(sid)))?.value;
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
    const records = await Promise.all(
      sids.map(async (sid) => (await this.store.getVersioned<SessionRecord>(this.keys.session(sid)))?.value),
    );
    await Promise.all(records.filter((r): r is SessionRecord => r?.sub === subject).map((r) => this.end(r, false)));
    await this.store.hashDelete(index, sids);
  }

  /** Revokes a single access token by its `jti`; `exp` bounds how long the entry is kept. */
  revokeToken(jti: string, exp: number): Promise<void> {
    return this.revocations.revokeToken(jti, exp);
  }

  /**
   * The pair of the record's current generation, the same each time it is asked for: the refresh
   * token is derived from sid and generation, the access token re-signed with the stored claims.
   */
  private async pair(record: SessionRecord, now: number): Promise<TokenPair> {
    const { jti, iat, exp } = record.access;
    const access_token = await this.tokens.signAsync(
      { ...record.claims, sid: record.sid },
      { subject: record.sub, audience: record.audience, expiresIn: exp - iat, jwtid: jti, issuedAt: iat },
    );
    const refresh_token = this.refreshTokens.encode(record.sid, record.generation);
    return { access_token, refresh_token, token_type: 'Bearer', expires_in: Math.max(0, exp - Math.floor(now / 1000)) };
  }

  private async end(record: SessionRecord, unindex = true): Promise<void> {
    // Deleting the record first leaves no version for a racing refresh to commit against: nothing
    // brings an ended session back. A pair such a refresh handed out dies with the sid revocation.
    await this.store.delete(this.keys.session(record.sid));
    await this.revocations.revokeSession(record.sid);
    if (unindex) await this.store.hashDelete(this.keys.subjectSessions(record.sub), [record.sid]);
  }

  /**
   * Over `maxSessionsPerSubject`, the oldest sessions end. The subject index maps sid to creation
   * time, so the oldest are found without loading a record; its size is what the cap bounds.
   */
  private async enforceCap(newest: SessionRecord): Promise<void> {
    const index = this.keys.subjectSessions(newest.sub);
    const entries = Object.entries(await this.store.hashGetAll(index)).filter(([sid]) => sid !== newest.sid);
    const excess = entries.length + 1 - this.options.maxSessionsPerSubject;
    if (excess <= 0) return;
    const oldest = entries.sort(([a, at], [b, bt]) => Number(at) - Number(bt) || (a < b ? -1 : 1)).slice(0, excess);
    for (const [sid] of oldest) {
      const record = (await this.store.getVersioned<SessionRecord>(this.keys.session(sid)))?.value;
      // A sid whose record is gone (expired) has no token left that could verify: unindex it only.
      if (record?.sub === newest.sub) await this.end(record);
      else await this.store.hashDelete(index, [sid]);
    }
  }

  /** The subject's index of sessions lives as long as its latest session could. */
  private async index(record: SessionRecord): Promise<void> {
    await this.store.hashSet(
      this.keys.subjectSessions(record.sub),
      { [record.sid]: String(record.createdAt) },
      this.options.refreshTokenTtlMs,
    );
  }

  private async load(sid: string, now: number): Promise<SessionRecord | undefined> {
    const record = (await this.store.getVersioned<SessionRecord>(this.keys.session(sid)))?.value;
    return record && sessionEnd(record, this.limits) > now ? record : undefined;
  }
}
