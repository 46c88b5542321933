// The core must stay pure so the simulation can replay it exactly: it may
// import only its own files, and never touch timers, clocks, randomness,
// promises or I/O. This test fails the moment someone reaches for one.

import { describe, expect, it } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const coreDir = join(import.meta.dir, "../../src/raft/core");
const forbidden: [RegExp, string][] = [
  [/\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/, "timers"],
  [/\bDate\b|\bperformance\b|\bBun\.nanoseconds\b/, "clocks"],
  [/\bMath\.random\b|\bcrypto\b/, "global randomness"],
  [/\bPromise\b|\basync\b|\bawait\b/, "promises"],
  [/bun:sqlite|node:|"fs"|"net"|\bBun\.(file|write|listen|connect|spawn)\b|\bfetch\(/, "I/O"],
];

describe("the Raft core's purity", () => {
  const files = readdirSync(coreDir).filter((f) => f.endsWith(".ts"));

  it("has files to check", () => {
    expect(files.length).toBeGreaterThan(5);
  });

  for (const file of files) {
    it(`${file} imports only from src/raft/core and uses no timers, clocks, randomness, promises or I/O`, () => {
      const source = readFileSync(join(coreDir, file), "utf8");
      const code = source.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
      for (const m of code.matchAll(/from\s+"([^"]+)"/g)) expect(m[1]!.startsWith("./")).toBe(true);
      for (const [pattern, what] of forbidden) {
        const hit = code.match(pattern);
        expect(hit ? `${file} uses ${what}: ${hit[0]}` : "clean").toBe("clean");
      }
    });
  }
});
