// Disk faults on real node processes (RELIABILITY.md, "Disk faults and
// recovery"): each fault is injected into a stopped member's files; the node
// must refuse to start with one line naming the file, what is wrong and what
// to do, while the other members keep serving; after the documented recovery
// (remove the member and its data directory, start it to join again) it is
// back with the cluster's data. A full disk (a file size limit, RLIMIT_FSIZE)
// must stop the node before it acknowledges a write it did not store.
//
// One 3-node cluster serves the whole file (starting one per fault would cost
// minutes); every test starts and ends with all three members serving.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ProcessCluster, waitUntil } from "../e2e/process-cluster.ts";
import { flipByte, newestSnapshot, offsetOf, replaceAll, rootPageOffset, truncateTo } from "./disk-faults.ts";

const ROOT = resolve(import.meta.dir, "../..");
const IDS = ["n1", "n2", "n3"];
/** The member every fault is done to. */
const VICTIM = "n3";
// Snapshots early and often, and a short log behind them, so that every node
// has snapshot files and a rebuilt node needs one from the leader.
const SETTINGS = "snapshot:\n  threshold: 40\n  interval: 200ms\n  trailingLogs: 10\n";

let cluster: ProcessCluster;
let peers: string;
/** The same settings without cluster.peers: a node joining through RAFT_LEADER. */
let joining: string;
let written = 0;

async function put(node: string, key: string, value: string): Promise<Response> {
  return fetch(`${cluster.node(node).url}/v1/kv/${key}`, { method: "PUT", body: value, signal: AbortSignal.timeout(10_000) });
}

/** Writes `count` new keys through whichever node leads; returns the last value written. */
async function writeKeys(count: number, among = IDS): Promise<string> {
  const leader = await cluster.leader(among);
  let value = "";
  for (let i = 0; i < count; i++, written++) {
    value = `value-${written}-${crypto.randomUUID()}`;
    const response = await put(leader, `disk/k${written}`, value);
    expect(response.status).toBe(200);
  }
  return value;
}

/** Every key, as `node` holds it (stale read: its own copy, not the leader's). */
async function keysOn(node: string): Promise<string> {
  const response = await fetch(`${cluster.node(node).url}/v1/kv?prefix=disk/&consistency=stale`);
  const body = (await response.json()) as { items: { key: string; value: string; modifyIndex: number }[] };
  return JSON.stringify(body.items.map((i) => [i.key, i.value, i.modifyIndex]));
}

/** Waits until `node` holds exactly what the leader holds. */
async function caughtUp(node: string): Promise<void> {
  const leader = await cluster.leader();
  await waitUntil(`${node} holding the leader's keys`, async () => ((await keysOn(node)) === (await keysOn(leader)) ? true : undefined), 30_000);
}

/** Starts a node that is expected to refuse: its exit code and its stderr lines. */
async function startRefused(id: string): Promise<{ code: number; lines: string[] }> {
  const node = cluster.node(id);
  const proc = Bun.spawn([process.execPath, "src/main.ts", "--config", peers], { cwd: ROOT, env: { ...process.env, ...node.env }, stdout: "pipe", stderr: "pipe" });
  const code = await Promise.race([proc.exited, Bun.sleep(30_000).then(() => null)]);
  if (code === null) {
    proc.kill("SIGKILL");
    await proc.exited;
    throw new Error(`${id} did not exit within 30 s:\n${await new Response(proc.stderr).text()}`);
  }
  const lines = (await new Response(proc.stderr).text()).trim().split("\n");
  return { code, lines };
}

/** The one line a refused start ends with: it names `file`, says `what`, and says to rebuild the node. */
function expectRefusal(result: { code: number; lines: string[] }, file: string, what: RegExp): void {
  expect(result.code).not.toBe(0);
  const reasons = result.lines.filter((l) => l.startsWith("pontoon: "));
  expect(reasons).toHaveLength(1);
  expect(reasons[0]).toStartWith("pontoon: cannot start: ");
  expect(reasons[0]).toContain(file);
  expect(reasons[0]).toMatch(what);
  expect(reasons[0]).toContain("remove this node's data directory and let it rejoin the cluster");
}

/**
 * The documented recovery: remove the member, remove its data directory, and
 * start it to join through a healthy member (RAFT_LEADER; no cluster.peers).
 * Restarting it empty under its old membership is not enough: the leader
 * still believes the entries it had, ignores its rejections as stale, and
 * never sends it a snapshot.
 */
async function rebuild(id: string): Promise<void> {
  expect(cluster.node(id).proc).toBeNull();
  const via = IDS.find((other) => other !== id && cluster.node(other).proc)!;
  const removed = await fetch(`${cluster.node(via).url}/v1/cluster/members/${id}`, { method: "DELETE" });
  expect(removed.status).toBe(200);
  rmSync(cluster.node(id).dataDir, { recursive: true, force: true });
  await cluster.start(id, { RAFT_LEADER: `127.0.0.1:${cluster.node(via).httpPort}` }, ["--config", joining]);
  // Later restarts resume from disk with the usual configuration.
  delete cluster.node(id).env.RAFT_LEADER;
  await caughtUp(id);
}

interface Fault {
  name: string;
  /** SIGKILL keeps the WAL beside the database; SIGTERM checkpoints it into the main file. */
  stop: "kill" | "term";
  /** Damages the stopped node's files; returns the file the refusal must name. */
  inject(dataDir: string, lastValue: string): string;
  says: RegExp;
}

const FAULTS: Fault[] = [
  {
    name: "raft.db cut in half",
    stop: "term",
    inject: (dir) => {
      const file = join(dir, "raft.db");
      truncateTo(file, Math.floor(statSync(file).size / 2 / 4096) * 4096);
      return file;
    },
    says: /damaged|malformed/,
  },
  {
    name: "raft.db one byte short",
    stop: "term",
    inject: (dir) => {
      const file = join(dir, "raft.db");
      truncateTo(file, statSync(file).size - 1);
      return file;
    },
    says: /not a whole number of 4096-byte pages \(truncated\)/,
  },
  {
    name: "raft.db-wal cut inside the frame of the newest entry (a truncated log tail)",
    stop: "kill",
    inject: (dir, lastValue) => {
      const wal = join(dir, "raft.db-wal");
      truncateTo(wal, offsetOf(wal, lastValue) + 8);
      // SQLite drops the incomplete frame silently; what the node sees is a log that ends before what fsm.db applied.
      return dir;
    },
    says: /the state machine has applied index \d+ but the Raft log ends at \d+/,
  },
  {
    name: "a flipped byte in a stored entry's payload",
    stop: "term",
    inject: (dir, lastValue) => {
      const file = join(dir, "raft.db");
      flipByte(file, offsetOf(file, lastValue) + 10);
      return file;
    },
    says: /is corrupt at index \d+: the entry fails its checksum/,
  },
  {
    name: "a flipped byte in a SQLite page header of raft.db",
    stop: "term",
    inject: (dir) => {
      const file = join(dir, "raft.db");
      flipByte(file, rootPageOffset(file, "log"));
      return file;
    },
    says: /damaged|malformed|integrity check failed/,
  },
  {
    name: "the newest snapshot cut short",
    stop: "term",
    inject: (dir) => {
      const file = newestSnapshot(dir);
      truncateTo(file, statSync(file).size - 100);
      return file;
    },
    says: /bytes but its header promises/,
  },
  {
    name: "a flipped byte in the newest snapshot's data",
    stop: "term",
    inject: (dir) => {
      const file = newestSnapshot(dir);
      flipByte(file, statSync(file).size - 500);
      return file;
    },
    says: /data fails its checksum/,
  },
  {
    name: "a flipped byte in a SQLite page header of fsm.db",
    stop: "term",
    inject: (dir) => {
      const file = join(dir, "fsm.db");
      flipByte(file, rootPageOffset(file, "kv_entries"));
      return file;
    },
    says: /damaged|malformed|integrity check failed/,
  },
];

beforeAll(async () => {
  cluster = new ProcessCluster();
  for (const id of IDS) await cluster.define(id);
  peers = cluster.peersFile(IDS, { before: SETTINGS });
  joining = join(cluster.root, "joining.yaml");
  writeFileSync(joining, SETTINGS);
  for (const id of IDS) await cluster.start(id, {}, ["--config", peers]);
  await writeKeys(60);
  await caughtUp(VICTIM);
}, 60_000);

afterAll(async () => {
  await cluster.shutdown();
});

describe("A damaged file on a stopped member", () => {
  for (const fault of FAULTS) {
    it(`${fault.name}: the node refuses to start with one line naming the file; the others serve; rebuilt, it rejoins with the right data`, async () => {
      // A fresh entry, held by every node, for the injectors that look for the newest one.
      const lastValue = await writeKeys(1);
      await caughtUp(VICTIM);
      if (fault.stop === "kill") await cluster.kill(VICTIM);
      else expect(await cluster.stop(VICTIM)).toBe(0);

      const file = fault.inject(cluster.node(VICTIM).dataDir, lastValue);
      expectRefusal(await startRefused(VICTIM), file, fault.says);

      // The other two are a quorum: writes and linearizable reads go on.
      const others = IDS.filter((id) => id !== VICTIM);
      const whileDown = await writeKeys(3, others);
      const read = await fetch(`${cluster.node(others[1]!).url}/v1/kv/disk/k${written - 1}?raw`);
      expect(await read.text()).toBe(whileDown);

      await rebuild(VICTIM);
      expect(await keysOn(VICTIM)).toBe(await keysOn(others[0]!));
    }, 90_000);
  }
});

describe("Damage a node repairs or never passes on", () => {
  it("fsm.db-wal cut short: the node replays the lost entries from its log and holds the right data", async () => {
    await writeKeys(1);
    await caughtUp(VICTIM);
    await cluster.kill(VICTIM);
    const wal = join(cluster.node(VICTIM).dataDir, "fsm.db-wal");
    truncateTo(wal, Math.floor(statSync(wal).size / 3));
    await cluster.start(VICTIM, {}, ["--config", peers]);
    await caughtUp(VICTIM);
  }, 60_000);

  it("a snapshot damaged on the leader's disk while it runs never reaches a follower; the leader refuses at its next start", async () => {
    const leader = await cluster.leader();
    const follower = IDS.find((id) => id !== leader)!;
    const file = newestSnapshot(cluster.node(leader).dataDir);
    flipByte(file, statSync(file).size - 500);
    // A rebuilt member needs a snapshot: it gets the leader's verified in-memory copy, not the file.
    expect(await cluster.stop(follower)).toBe(0);
    const installs = () => cluster.logs(follower).split("installed a snapshot from the leader").length;
    const before = installs();
    await rebuild(follower);
    expect(installs()).toBeGreaterThan(before);
    await writeKeys(2);
    await caughtUp(follower);

    expect(await cluster.stop(leader)).toBe(0);
    // A snapshot taken since the damage is the one a start loads: damage it too.
    const newest = newestSnapshot(cluster.node(leader).dataDir);
    if (newest !== file) flipByte(newest, statSync(newest).size - 500);
    expectRefusal(await startRefused(leader), newest, /data fails its checksum/);
    await rebuild(leader);
  }, 90_000);
});

describe("A value changed in fsm.db, which SQLite's checks cannot see", () => {
  it("the corruption check stops the member whose state hash differs from the majority's; it refuses to restart until rebuilt", async () => {
    const lastValue = await writeKeys(1);
    const key = `disk/k${written - 1}`;
    await caughtUp(VICTIM);
    expect(await cluster.stop(VICTIM)).toBe(0);
    const fsm = join(cluster.node(VICTIM).dataDir, "fsm.db");
    // Every copy (the key and its history): a flip in a stale copy alone would change nothing.
    const damaged = `${lastValue.slice(0, -1)}${lastValue.endsWith("0") ? "1" : "0"}`;
    expect(replaceAll(fsm, lastValue, damaged)).toBeGreaterThan(0);

    // quick_check passes: the node starts and serves the damaged value.
    await cluster.start(VICTIM, {}, ["--config", peers]);
    expect(await (await fetch(`${cluster.node(VICTIM).url}/v1/kv/${key}?raw&consistency=stale`)).text()).toBe(damaged);

    const proc = cluster.node(VICTIM).proc!;
    const leader = await cluster.leader();
    const started = await fetch(`${cluster.node(leader).url}/v1/cluster/check-hash`, { method: "POST" });
    expect(started.status).toBe(200);
    const code = await Promise.race([proc.exited, Bun.sleep(60_000).then(() => null)]);
    expect(code).toBe(1);
    cluster.node(VICTIM).proc = null;
    const reason = cluster.logs(VICTIM).split("\n").find((l) => l.includes("the node cannot continue"));
    expect(reason).toContain(`${fsm} differs from the cluster: its state hash at index`);
    expect(reason).toContain("remove this node's data directory and let it rejoin the cluster");

    // The majority serves the right value.
    const others = IDS.filter((id) => id !== VICTIM);
    const newLeader = await cluster.leader(others, 30_000);
    expect(await (await fetch(`${cluster.node(newLeader).url}/v1/kv/${key}?raw`)).text()).toBe(lastValue);

    expectRefusal(await startRefused(VICTIM), fsm, /differs from the cluster/);
    await rebuild(VICTIM);
    expect(await (await fetch(`${cluster.node(VICTIM).url}/v1/kv/${key}?raw&consistency=stale`)).text()).toBe(lastValue);

    // Rebuilt (from a snapshot and the log), its state hashes like everyone else's.
    const again = (await (await fetch(`${cluster.node(newLeader).url}/v1/cluster/check-hash`, { method: "POST" })).json()) as { index: number };
    await waitUntil("the rebuilt node agreeing with the majority", () =>
      cluster.logs(VICTIM).includes(`corruption check: this node's state matches the majority's index=${again.index}`) || undefined,
    30_000);
    expect(cluster.node(VICTIM).proc!.exitCode).toBeNull();
  }, 150_000);
});

describe("A full disk (a file size limit)", () => {
  it("stops the leader before it acknowledges a write it could not store, says so, and the node resumes once there is room", async () => {
    // n3 leads, under RLIMIT_FSIZE a little above its largest file: a write past it fails with EFBIG.
    await cluster.stop(VICTIM);
    const dir = cluster.node(VICTIM).dataDir;
    const largest = Math.max(...readdirSync(dir).map((f) => statSync(join(dir, f)).size));
    const limitKb = Math.ceil(largest / 1024) + 768;
    await startLimited(VICTIM, limitKb);
    await caughtUp(VICTIM);
    // A transfer can be abandoned on a busy machine: ask again until it took.
    await waitUntil(
      "n3 leading",
      async () => {
        if ((await cluster.status(VICTIM)).state === "Leader") return true;
        const leader = await cluster.leader();
        if (leader !== VICTIM) {
          await fetch(`${cluster.node(leader).url}/v1/cluster/transfer-leadership`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id: VICTIM }) });
        }
        return undefined;
      },
      30_000,
    );

    const proc = cluster.node(VICTIM).proc!;
    const acknowledged = new Map<string, string>();
    let refused = false;
    for (let i = 0; i < 2_000 && !refused; i++) {
      const key = `full/k${i}`;
      const value = `${i}-${"x".repeat(4_000)}`;
      // Any answer but 200 (an error, a dropped connection) is not an acknowledgement.
      const response = await put(VICTIM, key, value).catch(() => null);
      if (response?.status === 200) acknowledged.set(key, value);
      else refused = true;
    }
    expect(refused).toBe(true);
    const code = await Promise.race([proc.exited, Bun.sleep(30_000).then(() => null)]);
    expect(code).toBe(1);
    cluster.node(VICTIM).proc = null;
    const reason = cluster.logs(VICTIM).split("\n").find((l) => l.includes("raft node stopping on a fatal error"));
    expect(reason).toMatch(/cannot write \S+\/(raft|fsm)\.db: .*free space.*then start the node again/);

    // The other two elect a leader and hold every acknowledged write.
    const others = IDS.filter((id) => id !== VICTIM);
    const newLeader = await cluster.leader(others, 30_000);
    for (const [key, value] of acknowledged) {
      const response = await fetch(`${cluster.node(newLeader).url}/v1/kv/${key}?raw`);
      expect(await response.text()).toBe(value);
    }
    await writeKeys(2, others);

    // Room again: the node starts on what it had stored and catches up.
    await cluster.start(VICTIM, {}, ["--config", peers]);
    await caughtUp(VICTIM);
  }, 120_000);
});

/** Starts a defined node under `ulimit -f` (KiB): its files cannot grow past that size. */
async function startLimited(id: string, limitKb: number): Promise<void> {
  const node = cluster.node(id);
  const proc = Bun.spawn(["bash", "-c", `ulimit -f ${limitKb} && exec "$0" src/main.ts --config "$1"`, process.execPath, peers], {
    cwd: ROOT,
    env: { ...process.env, ...node.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  node.proc = proc;
  node.output.length = 0;
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) node.output.push(decoder.decode(chunk));
  })();
  await waitUntil(`${id} serving HTTP under a file size limit`, async () => {
    if (proc.exitCode !== null) throw new Error(`${id} exited with ${proc.exitCode}:\n${node.output.join("")}`);
    return (await fetch(`${node.url}/v1/health`).then((r) => r.ok).catch(() => false)) || undefined;
  });
}
