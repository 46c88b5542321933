// How a node judges itself in a corruption check, from the check's entries as
// its plugin host hands them over: it stops only when a majority of the
// voters agree on a hash that is not its own.

import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostCheck } from "../../src/fsm/plugin-host.ts";
import { imageHash } from "../../src/fsm/state-hash.ts";
import { silentLogger } from "../../src/raft/logger.ts";
import { CorruptionCheck } from "../../src/server/corruption-check.ts";
import { DataCorruptError, MARKER_FILE, refuseIfMarked } from "../../src/storage/corrupt-marker.ts";
import { waitUntil } from "../e2e/process-cluster.ts";
import { fsmDir, put } from "../fsm/fixtures.ts";

let dirs: ReturnType<typeof fsmDir>;
let dataDir: string;
beforeEach(() => {
  dirs = fsmDir("corruption-check");
  dataDir = mkdtempSync(join(tmpdir(), "pontoon-check-data-"));
});
afterEach(() => {
  dirs.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A check on node n3, fed by hand; what it proposed and whether it gave up. */
function harness() {
  let listener: ((check: HostCheck) => void) | undefined;
  const proposals: { command: string; args: unknown }[] = [];
  const corrupt: DataCorruptError[] = [];
  const check = new CorruptionCheck({
    id: "n3",
    dataDir,
    fsmFile: join(dataDir, "fsm.db"),
    raft: { state: () => "Follower", getConfiguration: () => ({ configuration: { servers: [] }, index: 0, committed: true }) },
    host: {
      onCheck: (l) => {
        listener = l;
        return () => (listener = undefined);
      },
    },
    proposer: {
      propose: async (_plugin, command, args) => {
        proposals.push({ command, args });
        return { index: 1, value: null };
      },
    },
    logger: silentLogger,
    intervalMs: 3_600_000,
    onCorrupt: (error) => corrupt.push(error),
  });
  check.start();
  const host = dirs.open();
  host.applyBatch([put(1, "a", "1"), put(2, "b", "2")]);
  const image = host.database.serialize();
  return {
    check,
    proposals,
    corrupt,
    /** This node's hash of the state the check will see. */
    mine: imageHash(image),
    checkAt: (index: number, voters = 3) => listener!({ kind: "checkHash", index, voters, image: image.slice() }),
    report: (id: string, index: number, hash: string) => listener!({ kind: "hashReport", report: { id, index, hash } }),
    /** Resolves once this node has hashed and reported (the worker is asynchronous). */
    reported: () => waitUntil("n3's own report", () => (proposals.some((p) => p.command === "hashReport") ? true : undefined), 10_000),
  };
}

const OTHER = "00000000deadbeef";

describe("CorruptionCheck", () => {
  it("reports this node's hash of the state at the check's index", async () => {
    const h = harness();
    h.checkAt(10);
    await h.reported();
    expect(h.proposals).toEqual([{ command: "hashReport", args: { id: "n3", index: 10, hash: h.mine } }]);
    h.check.stop();
  });

  it("stays up when a majority agrees with it, even if another member differs", async () => {
    const h = harness();
    h.checkAt(10);
    await h.reported();
    h.report("n1", 10, OTHER);
    h.report("n2", 10, h.mine);
    h.report("n3", 10, h.mine);
    expect(h.corrupt).toEqual([]);
    expect(existsSync(join(dataDir, MARKER_FILE))).toBe(false);
    h.check.stop();
  });

  it("stops, and marks its data directory, when a majority agrees on another hash", async () => {
    const h = harness();
    h.checkAt(10);
    await h.reported();
    h.report("n1", 10, OTHER);
    expect(h.corrupt).toEqual([]);
    h.report("n2", 10, OTHER);
    expect(h.corrupt).toHaveLength(1);
    expect(h.corrupt[0]!.message).toContain(`its state hash at index 10 is ${h.mine}, but a majority of the 3 voters have ${OTHER}`);
    expect(() => refuseIfMarked(dataDir)).toThrow(DataCorruptError);
    expect(() => refuseIfMarked(dataDir)).toThrow(/remove this node's data directory and let it rejoin the cluster/);
    h.check.stop();
  });

  it("judges when its own hash is ready, if the majority's reports came first", async () => {
    const h = harness();
    h.checkAt(10);
    h.report("n1", 10, OTHER);
    h.report("n2", 10, OTHER);
    await waitUntil("n3 giving up", () => (h.corrupt.length > 0 ? true : undefined), 10_000);
    h.check.stop();
  });

  it("does nothing without a majority, or for a check it has no hash of", async () => {
    const h = harness();
    h.report("n1", 5, OTHER);
    h.report("n2", 5, OTHER);
    h.checkAt(10, 5);
    await h.reported();
    h.report("n1", 10, OTHER);
    h.report("n2", 10, OTHER);
    h.report("n4", 10, "1111111111111111");
    expect(h.corrupt).toEqual([]);
    h.check.stop();
  });
});
