// The short version of `npm run bench`: the HTTP benchmark runs end to end
// against a real 3-node cluster (1 s per row, no etcd, BENCHMARKS.md left
// alone) and prints its table, with the servers' CPU per operation where
// /proc exists. It guards the script, not a speed: no figure is asserted.

import { describe, expect, it } from "bun:test";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

describe("bench/http.ts", () => {
  it("measures puts and linearizable gets on a 3-node cluster and prints the table", async () => {
    const proc = Bun.spawn(
      [process.execPath, resolve(import.meta.dir, "../../bench/http.ts"), "--seconds", "1", "--clients", "1,4", "--rounds", "2", "--no-etcd", "--no-write"],
      { stdout: "pipe", stderr: "pipe" },
    );
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    expect(await proc.exited, err).toBe(0);
    const row = (op: string, clients: number) => {
      const section = out.slice(out.indexOf(op === "put" ? "Puts:" : "Linearizable gets:"));
      return section.split("\n").find((l) => l.startsWith(`| ${clients} |`))!;
    };
    for (const op of ["put", "get"]) {
      for (const clients of [1, 4]) {
        const cells = row(op, clients).split("|").map((c) => c.trim());
        expect(Number(cells[2]!.replaceAll(",", ""))).toBeGreaterThan(0);
        // CPU per op where /proc can be read; a dash elsewhere.
        if (existsSync("/proc/self/stat")) expect(Number(cells[5]!.replaceAll(",", ""))).toBeGreaterThan(0);
      }
    }
    // The top-load puts ran twice (two rounds), then once more on the leader alone.
    expect(out.match(/pontoon put 4 clients:/g)?.length).toBe(3);
    expect(out.match(/pontoon put 1 clients:/g)?.length).toBe(1);
    expect(out).toContain("Pontoon puts with all 4 clients on the leader");
  }, 120_000);
});
