// The short Jepsen-style run of `npm test` (npm run jepsen runs long ones):
// real processes, mixed faults, every key's history checked for
// linearizability and every node's final state compared.

import { describe, expect, it } from "bun:test";
import { runJepsen } from "./jepsen.ts";

describe("jepsen (short)", () => {
  it("under kills, pauses and cut links, every key stays linearizable and the nodes converge", async () => {
    const result = await runJepsen({ seconds: 15, nemesis: "mixed", clients: 4, keys: 3, maxSteps: 5_000_000 });
    expect(result.faults.length).toBeGreaterThan(0);
    expect(result.acknowledged).toBeGreaterThan(100);
    expect(result.violations).toEqual([]);
    expect(result.divergence).toEqual([]);
  }, 120_000);
});
