// Per-client limits on one node: a token bucket of requests per second, and a
// count of the watches and blocking queries a client holds open. A client is
// its token's name when auth is on, else its IP address. Limits are per node
// (as Consul's are per agent): a client spread over three nodes gets three
// buckets, and a read a follower forwards is counted on the leader too.

import { ApiError } from "./errors.ts";

export interface LimitSettings {
  /** Requests per second per client; 0: no limit. */
  requestsPerSecond: number;
  /** How many requests a client may make at once after being idle. */
  burst: number;
  /** Open watches and blocking queries per client; 0: no limit. */
  watchersPerClient: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Forget a client's bucket once it would have refilled and it has been quiet this long. */
const IDLE_MS = 60_000;

export class ClientLimits {
  private readonly buckets = new Map<string, Bucket>();
  private readonly watchers = new Map<string, number>();
  private lastSweep = 0;

  constructor(
    private settings: () => LimitSettings,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether requests at `rate` (default: the configured one) are limited at all: if not, admit() need not be called. */
  isLimited(rate?: number): boolean {
    return (rate ?? this.settings().requestsPerSecond) > 0;
  }

  /** Takes one request from the client's bucket; throws a 429 with Retry-After when it is empty. `rate` overrides the default. */
  admit(client: string, rate?: number): void {
    const { requestsPerSecond, burst } = this.settings();
    const perSecond = rate ?? requestsPerSecond;
    if (perSecond <= 0) return;
    const now = this.now();
    this.sweep(now);
    const capacity = Math.max(burst, 1);
    const bucket = this.buckets.get(client) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    this.buckets.set(client, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    const waitSeconds = (1 - bucket.tokens) / perSecond;
    throw new ApiError(
      429,
      "RATE_LIMITED",
      `client ${client} is over its limit of ${perSecond} requests/s on this node (${rate === undefined ? "limits.requestsPerSecond" : "its token's requestsPerSecond"}); retry after ${waitSeconds.toFixed(2)} s`,
      {},
      { "retry-after": String(Math.max(1, Math.ceil(waitSeconds))) },
    );
  }

  /** Counts an open watch or blocking query; the returned function ends it (call it once). Throws a 429 over the limit. */
  openWatch(client: string): () => void {
    const limit = this.settings().watchersPerClient;
    const open = this.watchers.get(client) ?? 0;
    if (limit > 0 && open >= limit) {
      throw new ApiError(
        429,
        "TOO_MANY_WATCHERS",
        `client ${client} already holds ${open} watches and blocking queries on this node (limits.watchersPerClient: ${limit}); close some, share one watch per prefix, or raise the limit`,
        {},
        { "retry-after": "1" },
      );
    }
    this.watchers.set(client, open + 1);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      const left = (this.watchers.get(client) ?? 1) - 1;
      if (left <= 0) this.watchers.delete(client);
      else this.watchers.set(client, left);
    };
  }

  /** Open watches per client, for tests and status. */
  openWatches(client: string): number {
    return this.watchers.get(client) ?? 0;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < IDLE_MS) return;
    this.lastSweep = now;
    for (const [client, bucket] of this.buckets) if (now - bucket.at > IDLE_MS) this.buckets.delete(client);
  }
}
