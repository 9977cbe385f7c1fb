import { describe, expect, it } from 'vitest';
import {
  activationField,
  currentEntry,
  encodeGeneration,
  generationField,
  keyStatus,
  nextEntry,
  parseSchedule,
  plan,
  retirementField,
  revocationField,
  type ScheduleEntry,
} from './key-schedule';

const H = 3_600_000;

function hashOf(...entries: Array<{ g: number; kid: string; from: number; to: number }>): Record<string, string> {
  return Object.fromEntries(
    entries.map((e) => [
      generationField(e.g),
      encodeGeneration({ kid: e.kid, alg: 'HS256', createdAt: e.from - H, activatesAt: e.from, retiresAt: e.to }),
    ]),
  );
}

describe('key schedule', () => {
  it('never plans a generation below firstFreeGeneration (a field there fails authentication)', () => {
    expect(plan([], 10 * H, H, 'HS256', 3)?.generation).toBe(3);
    const entries = parseSchedule(hashOf({ g: 0, kid: 'a', from: 9 * H, to: 11 * H }));
    expect(plan(entries, 10 * H, H, 'HS256', 5)?.generation).toBe(5);
    expect(plan(entries, 10 * H, H, 'HS256', 0)?.generation).toBe(1);
  });

  it('takes a next key whose window was closed before it opened (its material was lost) for no next key', () => {
    const now = 10 * H;
    const hash = hashOf({ g: 0, kid: 'a', from: 9 * H, to: 11 * H }, { g: 1, kid: 'b', from: 11 * H, to: 12 * H });
    hash[retirementField(1)] = String(11 * H);
    const entries = parseSchedule(hash);
    const current = currentEntry(entries, now);
    expect(nextEntry(entries, current, now)).toBeUndefined();
    expect(plan(entries, now, H)).toEqual({ generation: 2, activatesAt: 11 * H, retiresAt: 12 * H });
  });

  it('plans a current key, then a next one that starts when the current retires', () => {
    const now = 10 * H;
    const first = plan([], now, H)!;
    expect(first).toEqual({ generation: 0, activatesAt: now, retiresAt: now + H });
    const entries = parseSchedule(hashOf({ g: 0, kid: 'a', from: now, to: now + H }));
    expect(plan(entries, now, H)).toEqual({ generation: 1, activatesAt: now + H, retiresAt: now + 2 * H });
    const two = parseSchedule(hashOf({ g: 0, kid: 'a', from: now, to: now + H }, { g: 1, kid: 'b', from: now + H, to: now + 2 * H }));
    // KEYS_AHEAD = 2: a second key is published after the next one, so two rotations in a row promote published keys.
    expect(plan(two, now, H)).toEqual({ generation: 2, activatesAt: now + 2 * H, retiresAt: now + 3 * H });
    const full = parseSchedule(
      hashOf(
        { g: 0, kid: 'a', from: now, to: now + H },
        { g: 1, kid: 'b', from: now + H, to: now + 2 * H },
        { g: 2, kid: 'c', from: now + 2 * H, to: now + 3 * H },
      ),
    );
    expect(plan(full, now, H)).toBeUndefined();
  });

  it('hands over from current to next at the window boundary', () => {
    const entries = parseSchedule(hashOf({ g: 0, kid: 'a', from: 0, to: H }, { g: 1, kid: 'b', from: H, to: 2 * H }));
    expect(currentEntry(entries, H - 1)?.kid).toBe('a');
    expect(currentEntry(entries, H)?.kid).toBe('b');
    expect(nextEntry(entries, currentEntry(entries, H - 1), H - 1)?.kid).toBe('b');
  });

  it('keeps the grid of windows after an outage longer than a window', () => {
    const entries = parseSchedule(hashOf({ g: 4, kid: 'a', from: 0, to: H }, { g: 5, kid: 'b', from: H, to: 2 * H }));
    const planned = plan(entries, 5.5 * H, H)!;
    expect(planned).toEqual({ generation: 6, activatesAt: 5 * H, retiresAt: 6 * H });
  });

  it('applies moved activation and retirement times and revocations', () => {
    const hash = {
      ...hashOf({ g: 0, kid: 'a', from: 0, to: H }, { g: 1, kid: 'b', from: H, to: 2 * H }),
      [activationField(1)]: String(H / 2),
      [retirementField(0)]: String(H / 2),
    };
    expect(currentEntry(parseSchedule(hash), H / 2)?.kid).toBe('b');
    const revoked = parseSchedule({ ...hash, [revocationField('b')]: String(H / 2) });
    expect(currentEntry(revoked, H / 2)).toBeUndefined();
    expect(keyStatus(revoked[1], undefined, H / 2)).toBe('revoked');
    expect(keyStatus(revoked[0], undefined, H / 2)).toBe('retired');
  });

  it('skips fields that do not parse instead of trusting them', () => {
    const entries = parseSchedule({
      'g:0': 'not json',
      'g:1': JSON.stringify({ kid: 'x', alg: 'none', createdAt: 0, activatesAt: 0, retiresAt: 1 }),
      'g:x': '{}',
    });
    expect(entries).toEqual([]);
  });

  it('racing planners on the same state plan the same generation', () => {
    const entries: ScheduleEntry[] = parseSchedule(hashOf({ g: 7, kid: 'a', from: 0, to: H }));
    expect(plan(entries, 10, H)?.generation).toBe(plan(entries, 20, H)?.generation);
  });
});
