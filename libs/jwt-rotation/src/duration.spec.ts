import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    [90, 90_000],
    ['90', 90_000],
    ['90s', 90_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['15d', 1_296_000_000],
  ])('reads %s as %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([0, -1, 1.5, '0s', '', 'abc', '15 days', '1w', '-5m', null, {}, Number.NaN])('refuses %s', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});
