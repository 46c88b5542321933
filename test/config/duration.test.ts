// Durations in the YAML: a number of milliseconds or a number with a unit,
// and nothing else.

import { describe, expect, it } from "bun:test";
import { durationMs, parseDuration } from "../../src/config/duration.ts";

describe("parseDuration", () => {
  const accepted: [string | number, number][] = [
    ["250ms", 250],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1.5s", 1500],
    ["0.5ms", 1],
    [1, 1],
    [30_000, 30_000],
    [2 ** 31 - 1, 2 ** 31 - 1],
  ];
  for (const [input, ms] of accepted) {
    it(`reads ${JSON.stringify(input)} as ${ms} ms`, () => expect(parseDuration(input)).toBe(ms));
  }

  const refused: unknown[] = ["30", "30 s", " 30s", "30s ", "30S", "1d", "1h30m", "-5s", "s", "", "0s", "0ms", "0.1ms", 0, -1, 1.5, Number.NaN, Infinity, 2 ** 31, "600h", null, undefined, true, {}, []];
  for (const input of refused) {
    it(`refuses ${JSON.stringify(input) ?? String(input)}`, () => expect(parseDuration(input)).toBeNull());
  }

  it("durationMs throws for a value the schema should have refused, saying what a duration looks like", () => {
    expect(durationMs("30s")).toBe(30_000);
    expect(() => durationMs("soon")).toThrow('not a duration: "soon" (expected a duration like "250ms"');
  });
});
