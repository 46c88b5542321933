// What the leader knows about one follower's log, and the flow-control state
// that decides how much to send it (etcd-io/raft's Progress):
//   probe     — one append at a time until we learn where the logs match;
//   replicate — optimistic, pipelined appends, at most `maxInflight` unacked;
//   snapshot  — the follower needs a snapshot; appends wait until it lands.

export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** Probe: an append is outstanding, send nothing more until an answer (or a heartbeat answer). */
  paused = false;
  /** Replicate: last index carried by each unacknowledged append, oldest first. */
  inflight: number[] = [];
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Tick at which we last heard from this peer. */
  lastContactTick = 0;
  /** Highest heartbeat/append sequence number this peer has echoed. */
  ackedSeq = 0;
  /** Snapshot state: index of the snapshot being sent, next byte offset, and when the last chunk left. */
  snapshotIndex = 0;
  snapshotOffset = 0;
  snapshotSentTick = 0;

  constructor(
    readonly id: string,
    next: number,
  ) {
    this.next = next;
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      this.next = Math.max(this.match + 1, this.snapshotIndex + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = "probe";
    this.paused = false;
    this.inflight = [];
  }

  becomeReplicate(): void {
    this.state = "replicate";
    this.next = this.match + 1;
    this.paused = false;
    this.inflight = [];
  }

  becomeSnapshot(index: number, tick: number): void {
    this.state = "snapshot";
    this.snapshotIndex = index;
    this.snapshotOffset = 0;
    this.snapshotSentTick = tick;
    this.inflight = [];
  }

  /** Records an acknowledgement up to `index`; true when it moved match forward. */
  acknowledge(index: number): boolean {
    let advanced = false;
    if (index > this.match) {
      this.match = index;
      advanced = true;
    }
    this.next = Math.max(this.next, this.match + 1);
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift();
    return advanced;
  }
}
