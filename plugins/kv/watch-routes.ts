// GET /v1/watch?prefix=P&after=N: every change under P as Server-Sent Events
// (`put`/`delete`, key, value, index), resumable from any retained index
// (`after`, or the Last-Event-ID header a reconnecting EventSource sends).
// Served by whichever node is asked: stale by nature, but in log order, so
// one key's events are never skipped or reordered. When `after` is older than
// what is retained the answer is 410 with the oldest index to resume from
// after re-reading.

import { Elysia, t } from "elysia";
import { PluginError, requireKeyAccess, type PluginEvent } from "../../src/fsm/sdk.ts";
import type { KvEvent, KvRuntime } from "./commands.ts";
import { assertPrefix } from "./keys.ts";
import { changesSince, prunedThrough, type Change } from "./store.ts";

/** A comment line this often keeps proxies from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;
const REPLAY_LIMIT = 1_000_000;
/**
 * Most bytes a watch may have queued for a client that does not read them.
 * Past it the watch ends with an `overflow` event: the client resumes from
 * the last index it got (`after`), and a stalled reader costs the node no
 * more memory than this, whatever the write rate.
 */
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function frame(index: number, e: { op: string; key: string; value: Uint8Array | null; createIndex: number }): Uint8Array {
  const data = { key: e.key, value: e.value === null ? null : decoder.decode(e.value), index, createIndex: e.createIndex, modifyIndex: index };
  return encoder.encode(`id: ${index}\nevent: ${e.op}\ndata: ${JSON.stringify(data)}\n\n`);
}

export function watchRoutes(kv: KvRuntime) {
  return new Elysia({ name: "kv-watch" }).get(
    "/v1/watch",
    ({ query, request }) => {
      const prefix = query.prefix ?? "";
      assertPrefix(prefix);
      requireKeyAccess("read", prefix, true);
      const lastEventId = request.headers.get("last-event-id");
      const after = query.after ?? (lastEventId !== null && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined);
      const oldest = kv.peek(prunedThrough);
      if (after !== undefined && after < oldest) {
        throw new PluginError("WATCH_EXPIRED", `changes after index ${after} are no longer all retained (kv.history); re-read the keys, then watch with after=${kv.appliedIndex()}`, 410, {
          oldestIndex: oldest,
          currentIndex: kv.appliedIndex(),
        });
      }
      let sentThrough = after ?? kv.appliedIndex();
      let unsubscribe = (): void => {};
      let heartbeat: ReturnType<typeof setInterval> | undefined;
      const stop = (): void => {
        unsubscribe();
        clearInterval(heartbeat);
      };
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          let overflowed = false;
          const send = (chunk: Uint8Array): void => {
            if (overflowed) return;
            try {
              if ((controller.desiredSize ?? 0) < 0) {
                overflowed = true;
                stop();
                controller.enqueue(encoder.encode(`event: overflow\ndata: ${JSON.stringify({ message: "this watch fell more than 8 MiB behind; resume with after=<the last index received>" })}\n\n`));
                controller.close();
                return;
              }
              controller.enqueue(chunk);
            } catch {
              stop();
            }
          };
          // Subscribe, then replay synchronously: nothing can be applied in
          // between, and sentThrough drops whatever the replay already sent.
          unsubscribe = kv.subscribe((events: PluginEvent[]) => {
            for (const { index, event } of events) {
              const e = event as KvEvent;
              if (index <= sentThrough || !e.key.startsWith(prefix)) continue;
              send(frame(index, e));
            }
            sentThrough = Math.max(sentThrough, events.at(-1)?.index ?? 0);
          });
          send(encoder.encode(`: watching ${JSON.stringify(prefix)} after ${sentThrough}\nretry: 1000\n\n`));
          if (after !== undefined) {
            const replay: Change[] = kv.peek((db) => changesSince(db, prefix, after, REPLAY_LIMIT));
            for (const c of replay) send(frame(c.index, c));
            sentThrough = Math.max(sentThrough, kv.appliedIndex());
          }
          heartbeat = setInterval(() => send(encoder.encode(": heartbeat\n\n")), HEARTBEAT_MS);
          request.signal.addEventListener("abort", () => {
            stop();
            try {
              controller.close();
            } catch {
              // already closed
            }
          });
        },
        cancel: stop,
      }, new ByteLengthQueuingStrategy({ highWaterMark: MAX_QUEUED_BYTES }));
      return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache", "x-pontoon-index": String(sentThrough) } });
    },
    {
      query: t.Object({
        prefix: t.Optional(t.String({ description: "watch keys starting with this (all when empty)" })),
        after: t.Optional(t.Numeric({ minimum: 0, description: "resume after this index (replaying retained changes); omitted: only changes from now" })),
      }),
      detail: { summary: "Stream changes under a prefix as Server-Sent Events", tags: ["kv"] },
    },
  );
}
