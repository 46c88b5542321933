// A returned transaction() is durable and atomic even if the process dies at
// any instant: a child writes as fast as it can, reports each committed index,
// and is killed with SIGKILL; the parent reopens the file and checks that
// everything reported is there, intact, contiguous and consistent with the
// hard state written in the same transactions.

import { describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteStorage } from "../../src/storage/sqlite-storage.ts";

const decoder = new TextDecoder();

/** Runs the writer until it has reported `commits` indexes (plus a random extra moment), kills it, returns the highest index reported. */
async function runAndKill(dbPath: string, commits: number): Promise<number> {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/writer.ts"), dbPath], {
    stdout: "pipe",
    stderr: "inherit",
  });
  let highest = 0;
  let reported = 0;
  let pending = "";
  let killed = false;
  const reader = child.stdout.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      highest = Math.max(highest, Number(line));
      reported++;
    }
    if (!killed && reported >= commits) {
      killed = true;
      // A random moment: let the child get a little further before it dies mid-write.
      setTimeout(() => child.kill("SIGKILL"), Math.random() * 5);
    }
  }
  await child.exited;
  expect(child.signalCode).toBe("SIGKILL");
  return highest;
}

describe("SqliteStorage under SIGKILL", () => {
  it("keeps every transaction that returned, across repeated kills and restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pontoon-sigkill-"));
    const dbPath = join(dir, "raft.db");
    try {
      let everReported = 0;
      for (let round = 0; round < 3; round++) {
        const highest = await runAndKill(dbPath, 200 + Math.floor(Math.random() * 300));
        expect(highest).toBeGreaterThan(everReported);
        everReported = highest;

        const storage = openSqliteStorage(dbPath);
        try {
          const first = storage.log.firstIndex();
          const last = storage.log.lastIndex();
          expect(first).toBe(1);
          expect(last).toBeGreaterThanOrEqual(everReported);
          // getEntries verifies every checksum and that no index is missing.
          const log = storage.log.getEntries(first, last);
          let previousTerm = 0;
          for (const [i, e] of log.entries()) {
            expect(e.index).toBe(first + i);
            expect(decoder.decode(e.data)).toBe(`${e.index}:${e.term}`);
            expect(e.term).toBeGreaterThanOrEqual(previousTerm);
            previousTerm = e.term;
          }
          // The hard state was written in the same transactions as the entries.
          const hard = storage.stable.getHardState();
          expect(hard?.commit).toBe(last);
          expect(hard?.term).toBe(log[log.length - 1]!.term);
        } finally {
          storage.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 10_000);
});
