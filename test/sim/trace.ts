// The event trace: one line per simulated event, enough to replay a failure
// in one's head. On failure the tail goes into the error and the whole trace
// into .sim-traces/seed-<n>.txt (gitignored).

import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export class Trace {
  readonly lines: string[] = [];

  constructor(private readonly enabled: (line: string) => void = () => {}) {}

  add(step: number, now: number, text: string): void {
    const line = `#${step} @${now} ${text}`;
    this.lines.push(line);
    this.enabled(line);
  }

  tail(n: number): string[] {
    return this.lines.slice(-n);
  }
}

export const TRACE_DIR = fileURLToPath(new URL("../../.sim-traces/", import.meta.url));

/** Writes the full trace of a failed seed; returns the file's path. */
export function writeTrace(seed: number, header: string, lines: readonly string[]): string {
  mkdirSync(TRACE_DIR, { recursive: true });
  const path = `${TRACE_DIR}seed-${seed}.txt`;
  writeFileSync(path, `${header}\n\n${lines.join("\n")}\n`);
  return path;
}
