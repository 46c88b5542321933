// The vocabulary of the pure Raft core: log entries, configurations, messages
// and the Ready batch. Everything here is plain data so that the simulator,
// the TCP codec and the SQLite store can all carry it without translation.

export type NodeId = string;

/**
 * Entry kinds. A const object rather than a TS enum so that every module
 * (and the wire codec) sees the same plain numbers under isolatedModules.
 */
export const EntryType = {
  /** An opaque command for the state machine. */
  Command: 0,
  /** A cluster configuration (JSON of `Configuration`); in effect once appended. */
  Config: 1,
  /** Appended by every new leader so it can commit an entry of its own term (§5.4.2, §6.4). */
  Noop: 2,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

export type Suffrage = "voter" | "nonvoter";

export interface Server {
  id: NodeId;
  /** Raft transport address (host:port); opaque to the core. */
  address: string;
  suffrage: Suffrage;
  /** Free-form labels carried with the configuration (e.g. the HTTP address). */
  meta?: Record<string, string>;
}

export interface Configuration {
  servers: Server[];
}

/** State that must be on stable storage before any message that depends on it leaves. */
export interface HardState {
  term: number;
  vote: NodeId | null;
  commit: number;
}

export interface SnapshotMeta {
  /** Last log index the snapshot covers. */
  index: number;
  /** Term of the entry at `index`. */
  term: number;
  /** The configuration in effect at `index`. */
  configuration: Configuration;
  /** Index of the entry that introduced `configuration`. */
  configurationIndex: number;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export type MembershipChange =
  | { kind: "addVoter"; id: NodeId; address: string; meta?: Record<string, string> }
  | { kind: "addNonvoter"; id: NodeId; address: string; meta?: Record<string, string> }
  | { kind: "demoteVoter"; id: NodeId }
  | { kind: "removeServer"; id: NodeId };

// ---- messages ------------------------------------------------------------
// Messages are one-way: a response is just another message. `seq` on
// heartbeats and appends is an increasing per-leader counter echoed back by
// followers; the leader uses it to confirm ReadIndex requests and to time its
// lease without a clock.

interface MessageBase {
  from: NodeId;
  to: NodeId;
  term: number;
}

export interface VoteRequest extends MessageBase {
  type: "vote";
  preVote: boolean;
  lastLogIndex: number;
  lastLogTerm: number;
  /** Set when campaigning because of TimeoutNow: overrides leader stickiness. */
  transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  type: "voteResp";
  preVote: boolean;
  granted: boolean;
}

export interface AppendRequest extends MessageBase {
  type: "append";
  prevIndex: number;
  prevTerm: number;
  entries: Entry[];
  commit: number;
  seq: number;
}

export interface AppendResponse extends MessageBase {
  type: "appendResp";
  success: boolean;
  /**
   * On success: the index of the last entry now known to match the leader's.
   * On rejection: the prevIndex that was rejected (lets the leader ignore stale rejections).
   */
  matchIndex: number;
  /** On rejection: a hint for fast backtracking (§5.3, the "accelerated log backtracking" optimisation). */
  conflictIndex: number;
  conflictTerm: number;
  /** The follower's last log index, for the leader's progress tracking. */
  lastIndex: number;
  seq: number;
}

export interface HeartbeatRequest extends MessageBase {
  type: "heartbeat";
  /** min(leader commit, follower match): never tells a follower to commit past what it has verified. */
  commit: number;
  seq: number;
}

export interface HeartbeatResponse extends MessageBase {
  type: "heartbeatResp";
  seq: number;
}

export interface SnapshotChunk extends MessageBase {
  type: "snapshot";
  meta: SnapshotMeta;
  /** Byte offset of `data` within the whole snapshot. */
  offset: number;
  data: Uint8Array;
  /** Total snapshot size in bytes. */
  size: number;
  done: boolean;
}

export interface SnapshotResponse extends MessageBase {
  type: "snapshotResp";
  /** Snapshot index this answers for. */
  index: number;
  /** The offset the follower expects next (== size when installed). */
  nextOffset: number;
  /** True once the whole snapshot was received and installed. */
  installed: boolean;
  /** False when the follower refuses (e.g. it restarted mid-transfer); the leader restarts at offset 0. */
  accepted: boolean;
}

export interface TimeoutNow extends MessageBase {
  type: "timeoutNow";
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotChunk
  | SnapshotResponse
  | TimeoutNow;

export type MessageType = Message["type"];

// ---- what the core asks its driver to do ---------------------------------

export type Role = "Follower" | "Candidate" | "Leader";

export interface ReadState {
  /** The id the caller gave to `readIndex`. */
  id: number;
  /** Serve the read once the state machine has applied this index. */
  index: number;
}

export interface Ready {
  /** Persist before sending any message in this batch. */
  hardState?: HardState;
  /**
   * A snapshot received from the leader: persist it and restore the state
   * machine from it, then REPLACE the whole stored log: delete every stored
   * entry and store `entries`, which then holds every entry the core kept
   * after the snapshot (possibly none).
   */
  snapshot?: Snapshot;
  /** Append to stable storage; any stored entries at or after entries[0].index are replaced. */
  entries: Entry[];
  /** Send after the above is durable (all but the first `sendBeforePersist`). */
  messages: Message[];
  /**
   * How many of the first `messages` may be sent before the rest of this
   * Ready is persisted, so the followers store entries while the leader does
   * (dissertation §10.2.1): a leader's appends, heartbeats and snapshot
   * chunks, in a Ready that changes neither term nor vote. They vouch for
   * nothing durable; the leader counts its own entries toward a commit only
   * once a follower's ack comes back, and the driver must persist the Ready
   * before it steps any further message. 0 for other Readies.
   */
  sendBeforePersist: number;
  /** Apply to the state machine, in order, after the above is durable. */
  committed: Entry[];
  /** ReadIndex requests that are now safe to serve once applied >= index. */
  readStates: ReadState[];
  /** ReadIndex requests that can no longer complete here (leadership lost). */
  failedReads: number[];
}

export interface PeerProgress {
  id: NodeId;
  match: number;
  next: number;
  state: "probe" | "replicate" | "snapshot";
  /** Ticks since the leader last heard from this peer. */
  lastContactTicks: number;
}

export interface CoreStatus {
  id: NodeId;
  role: Role;
  term: number;
  vote: NodeId | null;
  leader: NodeId | null;
  commitIndex: number;
  /** Highest index handed out in `Ready.committed`. */
  appliedIndex: number;
  firstIndex: number;
  lastIndex: number;
  lastTerm: number;
  snapshotIndex: number;
  configuration: Configuration;
  configurationIndex: number;
  committedConfiguration: Configuration;
  /** Ticks since this node last heard from a leader (followers) or a quorum (leaders). */
  lastContactTicks: number;
  /** Set on the leader while a leadership transfer is under way. */
  transferTarget: NodeId | null;
  progress: PeerProgress[];
}
