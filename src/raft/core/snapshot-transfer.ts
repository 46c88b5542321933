// InstallSnapshot in chunks (§7): a follower that needs entries the leader
// has compacted away gets the leader's newest snapshot instead, one chunk at
// a time, each acknowledged with the offset the follower expects next. A
// stalled transfer is retried from the last acknowledged offset.

import { decodeConfiguration } from "./configuration.ts";
import type { Progress } from "./progress.ts";
import type { RaftCore } from "./raft.ts";
import { maybeCommit, sendAppend } from "./replication.ts";
import { EntryType, type Snapshot, type SnapshotChunk, type SnapshotResponse } from "./types.ts";

export function sendSnapshot(core: RaftCore, pr: Progress): void {
  const snap = core.snapshot;
  if (!snap) return; // nothing was compacted, so there is always an append to send instead
  pr.becomeSnapshot(snap.meta.index, core.now);
  sendChunk(core, pr);
}

function sendChunk(core: RaftCore, pr: Progress): void {
  const snap = core.snapshot!;
  if (snap.meta.index !== pr.snapshotIndex) {
    // We compacted again meanwhile: send the newer snapshot from the start.
    pr.snapshotIndex = snap.meta.index;
    pr.snapshotOffset = 0;
  }
  const size = snap.data.length;
  const end = Math.min(size, pr.snapshotOffset + core.settings.snapshotChunkBytes);
  pr.snapshotSentTick = core.now;
  core.send<SnapshotChunk>({
    type: "snapshot",
    from: core.id,
    to: pr.id,
    term: core.term,
    meta: snap.meta,
    offset: pr.snapshotOffset,
    data: snap.data.subarray(pr.snapshotOffset, end),
    size,
    done: end >= size,
  });
}

export function handleSnapshotResponse(core: RaftCore, m: SnapshotResponse): void {
  const pr = core.progress.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  pr.lastContactTick = core.now;
  if (m.installed) {
    const advanced = pr.acknowledge(m.index);
    if (pr.state !== "snapshot" && !advanced) return;
    pr.becomeProbe();
    if (advanced) maybeCommit(core);
    if (core.role === "Leader") sendAppend(core, pr, true);
    return;
  }
  if (pr.state !== "snapshot" || m.index !== pr.snapshotIndex) return;
  pr.snapshotOffset = m.accepted ? m.nextOffset : 0;
  sendChunk(core, pr);
}

/** Resends the current chunk to followers that have not answered within an election timeout. */
export function retransmitStalled(core: RaftCore): void {
  for (const pr of core.progress.values()) {
    if (pr.state === "snapshot" && core.now - pr.snapshotSentTick >= core.settings.electionTicks) sendChunk(core, pr);
  }
}

// ---- follower ---------------------------------------------------------------

export function handleSnapshotChunk(core: RaftCore, m: SnapshotChunk): void {
  const reply = (fields: Pick<SnapshotResponse, "nextOffset" | "installed" | "accepted">) =>
    core.send<SnapshotResponse>({ type: "snapshotResp", from: core.id, to: m.from, term: core.term, index: m.meta.index, ...fields });

  if (m.meta.index <= core.commit) {
    // We already have everything it covers (committed entries are the same everywhere).
    core.incoming = undefined;
    reply({ nextOffset: m.size, installed: true, accepted: true });
    return;
  }
  if (m.offset === 0) core.incoming = { meta: m.meta, size: m.size, parts: [], received: 0 };
  const inc = core.incoming;
  if (!inc || inc.meta.index !== m.meta.index || inc.meta.term !== m.meta.term || inc.size !== m.size) {
    // We restarted or the leader moved on to a newer snapshot: start over.
    reply({ nextOffset: 0, installed: false, accepted: false });
    return;
  }
  if (m.offset === inc.received) {
    // Copy: the chunk may be a view into a network buffer that will be reused.
    inc.parts.push(m.data.slice());
    inc.received += m.data.length;
  }
  if (inc.received < inc.size) {
    reply({ nextOffset: inc.received, installed: false, accepted: true });
    return;
  }
  const data = new Uint8Array(inc.size);
  let at = 0;
  for (const part of inc.parts) {
    data.set(part, at);
    at += part.length;
  }
  core.incoming = undefined;
  installSnapshot(core, { meta: m.meta, data });
  reply({ nextOffset: inc.size, installed: true, accepted: true });
}

/** Installs a snapshot received from the leader (the follower side of InstallSnapshot). */
function installSnapshot(core: RaftCore, snap: Snapshot): void {
  const { index, term } = snap.meta;
  if (core.log.term(index) === term) {
    // Keep the entries that follow it: they match the leader's (§5.3 Log Matching).
    core.log.compactTo(index);
  } else {
    core.log.reset(index, term);
  }
  core.configs.resetTo(snap.meta.configuration, snap.meta.configurationIndex);
  const kept = core.log.slice(index + 1, core.log.lastIndex());
  for (const e of kept) if (e.type === EntryType.Config) core.configs.appended(e.index, decodeConfiguration(e.data));
  core.snapshot = snap;
  core.pendingSnapshot = snap;
  // The driver replaces its whole stored log with what we kept.
  core.unstable = kept;
  core.commit = Math.max(core.commit, index);
  core.applied = Math.max(core.applied, index);
  core.configurationChanged();
}
