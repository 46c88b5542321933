// Durations in YAML: "250ms", "30s", "5m", "1h", or a number of milliseconds.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Milliseconds, or null when `value` is not a duration. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : null;
  if (typeof value !== "string") return null;
  const m = DURATION.exec(value.trim());
  return m ? Math.round(Number(m[1]) * UNITS[m[2]!]!) : null;
}

/** For values the schema already checked. */
export function durationMs(value: string | number): number {
  const ms = parseDuration(value);
  if (ms === null) throw new Error(`not a duration: ${String(value)}`);
  return ms;
}
