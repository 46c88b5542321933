// The state hash the corruption check compares across nodes: equal for equal
// replicated state however it was reached, different for one changed byte.

import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import type { HostCheck } from "../../src/fsm/plugin-host.ts";
import { imageHash, imageHashInWorker, stateHash } from "../../src/fsm/state-hash.ts";
import type { CommittedCommand } from "../../src/raft/fsm.ts";
import { add, entry, fsmDir, put } from "./fixtures.ts";

let dirs: ReturnType<typeof fsmDir>;
beforeEach(() => {
  dirs = fsmDir("state-hash");
});
afterEach(() => dirs.cleanup());

function entries(): CommittedCommand[] {
  const out: CommittedCommand[] = [];
  for (let i = 1; i <= 60; i++) out.push(i % 3 === 0 ? add(i, `c${i % 5}`, i) : put(i, `app/key-${i % 17}`, `value ${i}`));
  return out;
}

describe("stateHash", () => {
  it("is the same on two hosts that applied the same entries in different batches", () => {
    const a = dirs.open("a.db");
    const b = dirs.open("b.db");
    a.applyBatch(entries());
    for (const e of entries()) b.applyBatch([e]);
    expect(stateHash(a.database)).toBe(stateHash(b.database));
    expect(stateHash(a.database)).toMatch(/^[0-9a-f]{16}$/);
  });

  it("differs when one byte of one stored value differs", () => {
    const a = dirs.open("a.db");
    const b = dirs.open("b.db");
    a.applyBatch(entries());
    b.applyBatch(entries());
    b.database.query("UPDATE kv_entries SET value = CAST('value 5X' AS BLOB) WHERE key = 'app/key-5'").run();
    expect(stateHash(a.database)).not.toBe(stateHash(b.database));
  });

  it("ignores the node's own bookkeeping: the applied index and the migrations run", () => {
    const a = dirs.open("a.db");
    const b = dirs.open("b.db");
    a.applyBatch(entries());
    b.applyBatch(entries());
    // A host command that changes no state still moves b's applied index.
    b.applyBatch([entry(61, "_host", "checkHash", { voters: 3 })]);
    expect(b.appliedIndex()).toBe(61);
    expect(stateHash(a.database)).toBe(stateHash(b.database));
  });

  it("is the same after a snapshot is restored on another host", () => {
    const a = dirs.open("a.db");
    const b = dirs.open("b.db");
    a.applyBatch(entries());
    b.restore(a.snapshot());
    expect(stateHash(b.database)).toBe(stateHash(a.database));
  });

  it("hashes a serialized copy (what a check takes) as the live database, on a worker too", async () => {
    const a = dirs.open("a.db");
    a.applyBatch(entries());
    const live = stateHash(a.database);
    expect(imageHash(a.database.serialize())).toBe(live);
    expect(await imageHashInWorker(a.database.serialize())).toBe(live);
  });
});

describe("PluginHost: the corruption check's entries", () => {
  it("hands listeners fsm.db as of the checkHash entry, not as of the end of its batch", () => {
    const a = dirs.open("a.db");
    const b = dirs.open("b.db");
    const heard: HostCheck[] = [];
    a.onCheck((check) => heard.push(check));
    const before = entries();
    a.applyBatch([...before, entry(61, "_host", "checkHash", { voters: 3 }), put(62, "app/later", "changes the state")]);
    b.applyBatch(before);
    expect(heard).toHaveLength(1);
    const check = heard[0]!;
    expect(check.kind).toBe("checkHash");
    if (check.kind !== "checkHash") return;
    expect(check.index).toBe(61);
    expect(check.voters).toBe(3);
    expect(imageHash(check.image)).toBe(stateHash(b.database));
  });

  it("passes hash reports on and changes nothing", () => {
    const a = dirs.open("a.db");
    const heard: HostCheck[] = [];
    a.onCheck((check) => heard.push(check));
    a.applyBatch(entries());
    const hash = stateHash(a.database);
    a.applyBatch([entry(61, "_host", "hashReport", { id: "n2", index: 50, hash: "0123456789abcdef" })]);
    expect(heard).toEqual([{ kind: "hashReport", report: { id: "n2", index: 50, hash: "0123456789abcdef" } }]);
    expect(stateHash(a.database)).toBe(hash);
  });
});
