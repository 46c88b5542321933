// watch(prefix, handler): the /v1/watch event stream, kept open across
// disconnects and endpoints. The client remembers the index of the last
// event it delivered and reconnects with after=<that index>, so nothing is
// lost or repeated: a node replays what it retains after that index and
// then streams, in log order. When a node no longer retains that far back
// (410), the handler is given the whole prefix as it is now, and the watch
// goes on from there.

import { PontoonError, errorFrom } from "./errors.ts";
import type { Endpoints } from "./endpoints.ts";

export interface WatchEvent {
  type: "put" | "delete";
  key: string;
  /** The new value (UTF-8); null for a delete. */
  value: string | null;
  /** Raft index of the change. */
  index: number;
  createIndex: number;
}

/** Everything under the prefix at `index`: sent instead of the changes that could not be replayed. */
export interface WatchReset {
  type: "reset";
  index: number;
  items: { key: string; value: string; createIndex: number; modifyIndex: number }[];
}

export interface WatchOptions {
  /** Resume after this index; omitted: changes from the moment the watch starts. */
  after?: number;
  /** Told about each disconnect and reconnect, so an app can log them. */
  onStatus?: (status: { connected: boolean; endpoint: string; error?: string }) => void;
}

export interface Watch {
  /** Index of the last event delivered. */
  readonly lastIndex: number;
  close(): void;
  /** Resolves once the watch is closed. */
  readonly closed: Promise<void>;
}

export function startWatch(endpoints: Endpoints, prefix: string, handler: (event: WatchEvent | WatchReset) => void | Promise<void>, options: WatchOptions = {}): Watch {
  const stop = new AbortController();
  let lastIndex = options.after ?? -1;
  // A transaction changes several keys at one index, and a disconnect can fall
  // between them: the keys delivered at lastIndex, so a resume can ask from
  // just before it and skip those. null: all of lastIndex is behind us.
  let deliveredAtLast: Set<string> | null = null;
  const run = async (): Promise<void> => {
    for (let failures = 0; !stop.signal.aborted; ) {
      for (const endpoint of endpoints.order()) {
        if (stop.signal.aborted) return;
        try {
          const from = deliveredAtLast ? lastIndex - 1 : lastIndex;
          const after = lastIndex >= 0 ? `&after=${from}` : "";
          const response = await endpoints.fetch(`${endpoint}/v1/watch?prefix=${encodeURIComponent(prefix)}${after}`, { headers: endpoints.headers(), signal: stop.signal });
          if (response.status === 410) {
            lastIndex = await reset(endpoint, await errorFrom(response, endpoint));
            deliveredAtLast = null;
            continue;
          }
          if (!response.ok) throw await errorFrom(response, endpoint);
          // Watching "from now" pins now: a reconnect resumes after it.
          if (lastIndex < 0) lastIndex = Number(response.headers.get("x-pontoon-index") ?? 0);
          endpoints.answered(endpoint);
          options.onStatus?.({ connected: true, endpoint });
          failures = 0;
          await read(response.body!, async (event) => {
            // Already delivered before a reconnect: skip it.
            if (event.index < lastIndex || (event.index === lastIndex && (deliveredAtLast === null || deliveredAtLast.has(event.key)))) return;
            await handler(event);
            if (event.index !== lastIndex) deliveredAtLast = new Set();
            lastIndex = event.index;
            deliveredAtLast!.add(event.key);
          });
          if (!stop.signal.aborted) options.onStatus?.({ connected: false, endpoint, error: "the stream ended" });
        } catch (error) {
          if (stop.signal.aborted) return;
          options.onStatus?.({ connected: false, endpoint, error: error instanceof Error ? error.message : String(error) });
        }
      }
      failures++;
      await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)), stop.signal);
    }
  };

  /** The prefix as the node has it now, for a watch that cannot be replayed; returns the index to resume after. */
  const reset = async (endpoint: string, expired: PontoonError): Promise<number> => {
    const response = await endpoints.fetch(`${endpoint}/v1/kv?prefix=${encodeURIComponent(prefix)}&consistency=stale`, { headers: endpoints.headers(), signal: stop.signal });
    if (!response.ok) throw await errorFrom(response, endpoint);
    const list = (await response.json()) as { index: number; items: WatchReset["items"] };
    options.onStatus?.({ connected: false, endpoint, error: `${expired.message}; re-read ${list.items.length} keys at index ${list.index}` });
    await handler({ type: "reset", index: list.index, items: list.items });
    return list.index;
  };

  const closed = run();
  return {
    get lastIndex() {
      return lastIndex;
    },
    close: () => stop.abort(),
    closed,
  };
}

/** Parses Server-Sent Events: `event:`, `id:` and `data:` lines, blank-line separated; comments ignored. */
async function read(body: ReadableStream<Uint8Array>, onEvent: (event: WatchEvent) => Promise<void>): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = "";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) type = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (type !== "put" && type !== "delete") continue;
      const d = JSON.parse(data) as { key: string; value: string | null; index: number; createIndex: number };
      await onEvent({ type, key: d.key, value: d.value, index: d.index, createIndex: d.createIndex });
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
