// Durations in YAML: "250ms", "30s", "5m", "1h" (a decimal like "1.5s" too),
// or a plain number of milliseconds. Anything else is refused rather than
// guessed at: "30" as a string, "30 s", "1d" and negative values are errors.

import { FormatRegistry } from "@sinclair/typebox";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_TEXT = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
/** setTimeout fires at once for delays above 2^31-1 ms (about 24.8 days), so longer ones are refused. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the error says a duration looks like. */
export const DURATION_EXPECTED = 'a duration like "250ms", "30s", "5m", "1h", or a number of milliseconds (1ms to 24 days)';

/** Milliseconds (rounded to whole ms, 1 to about 24.8 days), or null when `value` is not such a duration. */
export function parseDuration(value: unknown): number | null {
  let ms: number;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) return null;
    ms = value;
  } else if (typeof value === "string") {
    const match = DURATION_TEXT.exec(value);
    if (!match) return null;
    ms = Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
  } else {
    return null;
  }
  // Every duration we configure is an interval or a timeout: zero would spin a timer.
  return ms >= 1 && ms <= MAX_TIMER_MS ? ms : null;
}

/** For values the schema already checked (e.g. `snapshot.interval`). */
export function durationMs(value: string | number): number {
  const ms = parseDuration(value);
  if (ms === null) throw new RangeError(`not a duration: ${JSON.stringify(value)} (expected ${DURATION_EXPECTED})`);
  return ms;
}

/** Format name for TypeBox string schemas holding a duration. */
export const DURATION_FORMAT = "pontoon-duration";
FormatRegistry.Set(DURATION_FORMAT, (text) => parseDuration(text) !== null);
