// GET /metrics in Prometheus text format: the node's Raft state, the apply
// latency as the client sees it (propose to applied), and HTTP requests by
// route and status.

import type { ClusterNode } from "./cluster-node.ts";

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class Histogram {
  readonly counts = new Array<number>(BUCKETS.length).fill(0);
  sum = 0;
  count = 0;
  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) this.counts[i]!++;
  }
}

const STATES = ["Follower", "Candidate", "Leader", "Shutdown"] as const;

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly apply = new Histogram();

  observeRequest(method: string, route: string, status: number): void {
    const key = `method="${method}",route="${escape(route)}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  observeApply(seconds: number): void {
    this.apply.observe(seconds);
  }

  render(node: ClusterNode): string {
    const s = node.stats();
    const lines: string[] = [];
    const gauge = (name: string, help: string, value: number, labels = ""): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}${labels ? `{${labels}}` : ""} ${value}`);
    };
    gauge("pontoon_raft_term", "Current Raft term.", s.term);
    lines.push("# HELP pontoon_raft_state 1 for the role this node is in.", "# TYPE pontoon_raft_state gauge");
    for (const state of STATES) lines.push(`pontoon_raft_state{state="${state}"} ${s.state === state ? 1 : 0}`);
    gauge("pontoon_raft_commit_index", "Highest log index known committed.", s.commitIndex);
    gauge("pontoon_raft_applied_index", "Highest log index applied to the state machine here.", s.appliedIndex);
    gauge("pontoon_raft_last_index", "Last index in this node's log.", s.lastIndex);
    gauge("pontoon_raft_snapshot_index", "Index of the newest snapshot.", s.snapshotIndex);
    gauge("pontoon_raft_last_contact_seconds", "Time since the last contact with the leader (followers) or a quorum (leader).", s.lastContactMs / 1000);
    gauge("pontoon_raft_members", "Servers in the configuration.", s.configuration.servers.length);
    lines.push("# HELP pontoon_apply_duration_seconds Time from proposing a command to its being applied (leader).", "# TYPE pontoon_apply_duration_seconds histogram");
    BUCKETS.forEach((b, i) => lines.push(`pontoon_apply_duration_seconds_bucket{le="${b}"} ${this.apply.counts[i]}`));
    lines.push(`pontoon_apply_duration_seconds_bucket{le="+Inf"} ${this.apply.count}`);
    lines.push(`pontoon_apply_duration_seconds_sum ${this.apply.sum}`, `pontoon_apply_duration_seconds_count ${this.apply.count}`);
    lines.push("# HELP pontoon_http_requests_total HTTP requests answered, by route and status.", "# TYPE pontoon_http_requests_total counter");
    for (const [labels, n] of this.requests) lines.push(`pontoon_http_requests_total{${labels}} ${n}`);
    return `${lines.join("\n")}\n`;
  }
}

function escape(s: string): string {
  return s.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}
