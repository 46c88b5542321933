// Runs simulation seeds from the command line:
//   bun test/sim/run.ts --seeds N --start S [--nodes 3|5] [--steps K] [--heavy] [--verbose]
// (or `npm run sim -- --seeds N --start S`). Exits 0 only when every seed passes.
// A failing seed prints its invariant and the last 200 events, and its full
// trace goes to .sim-traces/seed-<n>.txt; rerun it alone with --seeds 1 --start <n>.

import { parseArgs } from "node:util";
import { simulate, type SimResult } from "./simulator.ts";
import { writeTrace } from "./trace.ts";

const TAIL = 200;

/** The report for a failed seed: what broke, the knobs, and the last events. */
export function failureReport(r: SimResult, tracePath?: string): string {
  const f = r.failure!;
  return [
    `seed ${r.seed} FAILED: ${f.invariant}`,
    `  ${f.detail}`,
    `  knobs: ${r.knobs}`,
    tracePath ? `  full trace (${r.trace.length} lines): ${tracePath}` : "",
    `  replay: bun test/sim/run.ts --seeds 1 --start ${r.seed} --verbose`,
    `--- last ${Math.min(TAIL, r.trace.length)} events ---`,
    ...r.trace.slice(-TAIL),
  ]
    .filter((l) => l !== "")
    .join("\n");
}

/** Runs one seed and, when it fails, writes its full trace and returns the report. */
export function runSeed(seed: number, options: { nodes?: 3 | 5; steps?: number; heavy?: boolean; onTrace?: (line: string) => void } = {}): {
  result: SimResult;
  report?: string;
} {
  const result = simulate({ seed, ...options });
  if (result.ok) return { result };
  const path = writeTrace(seed, `seed ${seed}: ${result.failure!.invariant}: ${result.failure!.detail}\nknobs: ${result.knobs}`, result.trace);
  return { result, report: failureReport(result, path) };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seeds: { type: "string", default: "100" },
      start: { type: "string", default: "1" },
      nodes: { type: "string" },
      steps: { type: "string" },
      heavy: { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
    },
  });
  const count = Number(values.seeds);
  const start = Number(values.start);
  const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(start)) {
    console.error("usage: bun test/sim/run.ts --seeds N --start S [--nodes 3|5] [--steps K] [--heavy] [--verbose]");
    process.exit(2);
  }
  if (nodes !== undefined && nodes !== 3 && nodes !== 5) {
    console.error("--nodes must be 3 or 5");
    process.exit(2);
  }
  const steps = values.steps === undefined ? undefined : Number(values.steps);

  const t0 = performance.now();
  const failed: number[] = [];
  const total = { events: 0, ticks: 0, elections: 0, commits: 0, crashes: 0, membershipChanges: 0, reads: 0, messages: 0 };
  for (let seed = start; seed < start + count; seed++) {
    const onTrace = values.verbose && count === 1 ? (line: string) => console.log(line) : undefined;
    const { result, report } = runSeed(seed, { nodes: nodes as 3 | 5 | undefined, steps, heavy: values.heavy, onTrace });
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += result.stats[k];
    if (report) {
      failed.push(seed);
      console.error(`\n${report}\n`);
    } else if (values.verbose) {
      const s = result.stats;
      console.log(`seed ${seed} ok: ${s.events} events, ${s.ticks} ticks, ${s.elections} elections, ${s.commits} commits, ${s.crashes} crashes  [${result.knobs}]`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `${count - failed.length}/${count} seeds passed (seeds ${start}..${start + count - 1}${values.heavy ? ", heavy faults" : ""}) in ${seconds.toFixed(1)} s: ` +
      `${total.events} events, ${total.ticks} ticks, ${total.elections} elections, ${total.commits} commits, ` +
      `${total.crashes} crashes, ${total.membershipChanges} membership changes, ${total.reads} reads, ${total.messages} messages`,
  );
  if (failed.length > 0) {
    console.log(`FAILED seeds: ${failed.join(", ")} (traces in .sim-traces/)`);
    process.exit(1);
  }
}

if (import.meta.main) main();
