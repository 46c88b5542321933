// Several endpoints, one request: start with the endpoint that answered
// last, and move on to the next when one cannot be reached or has no
// leader. What may be retried depends on what the failure says happened:
//   - not reached, or refused before anything was proposed (NO_LEADER,
//     SHUTTING_DOWN, TRANSFER_IN_PROGRESS): any call, on the next endpoint;
//   - reached, but the outcome is unknown (a timeout, OUTCOME_UNKNOWN): only
//     idempotent calls (reads), since a write may already have happened.

import { PontoonError, errorFrom } from "./errors.ts";

/** Failures after which nothing was proposed (TIMEOUT is a read's): any call may go to the next endpoint. */
const RETRY_ANYWHERE = new Set(["NO_LEADER", "SHUTTING_DOWN", "TRANSFER_IN_PROGRESS", "TIMEOUT"]);

export interface EndpointsOptions {
  endpoints: string[];
  token?: string;
  /** Deadline of one attempt, ms (sent to the server as X-Pontoon-Timeout-Ms). */
  timeoutMs: number;
  /** Rounds over all endpoints before giving up. */
  rounds: number;
  /** The CA (PEM) that signs the nodes' certificates, for a cluster with tls:; endpoints without a scheme are then https. */
  ca?: string;
}

export interface RequestOptions {
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Safe to send again after an unknown outcome: reads. */
  idempotent: boolean;
  /** Answers that are results, not failures (404 for a missing key read as null). */
  accept?: number[];
  signal?: AbortSignal;
}

export class Endpoints {
  private preferred = 0;
  readonly list: string[];

  constructor(private readonly o: EndpointsOptions) {
    if (o.endpoints.length === 0) throw new PontoonError(0, "NO_ENDPOINTS", "give at least one endpoint, e.g. http://127.0.0.1:2221");
    this.list = o.endpoints.map((e) => (/^https?:\/\//.test(e) ? e : `${o.ca ? "https" : "http"}://${e}`).replace(/\/+$/, ""));
  }

  /** fetch, trusting the cluster's CA when one was given. */
  fetch(url: string, init: RequestInit): Promise<Response> {
    return fetch(url, this.o.ca ? ({ ...init, tls: { ca: this.o.ca } } as RequestInit) : init);
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.o.token ? { authorization: `Bearer ${this.o.token}` } : {}), ...extra };
  }

  /** Endpoints in the order to try them: the one that answered last first. */
  order(): string[] {
    return this.list.map((_, i) => this.list[(this.preferred + i) % this.list.length]!);
  }

  answered(endpoint: string): void {
    this.preferred = Math.max(0, this.list.indexOf(endpoint));
  }

  async request(method: string, path: string, options: RequestOptions): Promise<Response> {
    let last: PontoonError | undefined;
    for (let round = 0; round < this.o.rounds; round++) {
      for (const endpoint of this.order()) {
        let response: Response;
        try {
          response = await this.fetch(endpoint + path, {
            method,
            body: options.body,
            headers: this.headers({ "x-pontoon-timeout-ms": String(this.o.timeoutMs), ...options.headers }),
            signal: options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(this.o.timeoutMs + 1_000)]) : AbortSignal.timeout(this.o.timeoutMs + 1_000),
            // Writes get a connection of their own: Bun's fetch retries a request whose kept-alive
            // connection died on a new one and reports that retry's "refused", though the first
            // attempt may have been applied (the fault tests caught it). Alone, "refused" is "never sent".
            keepalive: options.idempotent,
          });
        } catch (error) {
          if (options.signal?.aborted) throw error;
          // Refused: the request never left. Anything else (a timeout, a reset
          // connection) may have reached the server: retry only what is idempotent.
          const refused = /refused/i.test(`${(error as { code?: string }).code ?? ""} ${String(error)}`);
          const timedOut = (error as { name?: string }).name === "TimeoutError";
          last = new PontoonError(0, refused || options.idempotent ? "UNREACHABLE" : "OUTCOME_UNKNOWN", `${endpoint}: ${timedOut ? "no answer in time" : String(error)}`);
          if (!refused && !options.idempotent) throw last;
          continue;
        }
        if (response.ok || options.accept?.includes(response.status)) {
          this.answered(endpoint);
          return response;
        }
        const error = await errorFrom(response, endpoint);
        const retry = RETRY_ANYWHERE.has(error.code) || (options.idempotent && (error.code === "OUTCOME_UNKNOWN" || response.status === 504));
        if (!retry) throw error;
        last = error;
      }
      // Every endpoint failed this round: leadership may be moving; give it a moment.
      if (round + 1 < this.o.rounds) await Bun.sleep(200 * (round + 1));
    }
    throw last ?? new PontoonError(0, "UNREACHABLE", "no endpoint answered");
  }
}
