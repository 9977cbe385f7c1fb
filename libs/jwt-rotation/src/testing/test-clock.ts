import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { type Duration, parseDuration } from '../duration';
import { KeyRotationService } from '../keys/key-rotation.service';

/**
 * The clock of a {@link JwtRotationTestingModule}: moves the time the library sees (`Date.now()`)
 * forward or to a given moment, then reconciles the key ring as the scheduler would have, so
 * tokens expire, keys rotate and retired keys drop out exactly as they would in production.
 *
 * While shifted, `Date.now()` is replaced for the whole process (time keeps flowing from the
 * shifted moment); {@link restore} — or closing the app — puts the real clock back. Use one shifted
 * clock at a time, and not together with fake timers that replace `Date` too.
 * @example
 * ```ts
 * const token = tokens.mintAccessToken({ sub: 'alice' });
 * await app.get(TestClock).advance('16m'); // past the 15-minute accessTokenTtl
 * await request(app.getHttpServer()).get('/me').auth(token, { type: 'bearer' }).expect(401);
 * ```
 */
@Injectable()
export class TestClock implements OnApplicationShutdown {
  private offsetMs = 0;
  private realNow: (() => number) | undefined;

  constructor(private readonly keys: KeyRotationService) {}

  /** The time the library sees, in epoch milliseconds. */
  now(): number {
    return Date.now();
  }

  /** Moves the clock forward by a duration (`90`, `'15m'`, `'31d'`) and reconciles the key ring. */
  async advance(by: Duration): Promise<void> {
    const ms = parseDuration(by);
    if (ms === undefined) throw new TypeError('TestClock.advance() takes a positive duration such as 90, "15m" or "2d"');
    await this.shift(this.offsetMs + ms);
  }

  /** Sets the clock to a moment (a `Date` or epoch milliseconds), forward or back, and reconciles the key ring. */
  async set(to: Date | number): Promise<void> {
    const target = typeof to === 'number' ? to : to.getTime();
    if (!Number.isFinite(target)) throw new TypeError('TestClock.set() takes a valid Date or epoch milliseconds');
    await this.shift(this.offsetMs + target - Date.now());
  }

  /** Puts the real clock back (the key ring is left as it is). Safe to call more than once. */
  restore(): void {
    if (this.realNow) Date.now = this.realNow;
    this.realNow = undefined;
    this.offsetMs = 0;
  }

  onApplicationShutdown(): void {
    this.restore();
  }

  private async shift(offsetMs: number): Promise<void> {
    const realNow = (this.realNow ??= Date.now);
    this.offsetMs = offsetMs;
    Date.now = () => realNow() + this.offsetMs;
    // No scheduler runs in the testing module: this is the tick that would have run by now.
    await this.keys.reconcile();
  }
}
