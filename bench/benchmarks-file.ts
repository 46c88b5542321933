// BENCHMARKS.md holds one section per benchmark script; each script rewrites
// only its own section, so running one benchmark keeps the others' figures.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";

/** Replaces the section starting with `heading` in `file`, keeping the others. */
export function writeSection(file: string, heading: string, section: string): void {
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const start = current.indexOf(`\n${heading}`);
  if (start < 0) {
    writeFileSync(file, current.trimEnd() + "\n\n" + section.trimEnd() + "\n");
    return;
  }
  const next = current.indexOf("\n## ", start + heading.length);
  writeFileSync(file, current.slice(0, start + 1) + section.trimEnd() + "\n" + (next < 0 ? "" : current.slice(next)));
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, Bun ${Bun.version}, ${process.platform}`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}
