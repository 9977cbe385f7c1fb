/** A duration: whole seconds as a number, or a string such as `90s`, `15m`, `12h`, `15d`. */
export type Duration = number | string;

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;
const DURATION_PATTERN = /^(\d{1,12})\s*([smhd]?)$/;

/** Parses a duration to milliseconds; `undefined` when the value is not a valid positive duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value > 0 ? value * 1000 : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match) return undefined;
  const unit = (match[2] || 's') as keyof typeof UNIT_SECONDS;
  const ms = Number(match[1]) * UNIT_SECONDS[unit] * 1000;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}
