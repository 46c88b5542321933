// Server-Sent Events read with fetch rather than EventSource, because
// EventSource cannot send the Authorization header a token-protected node
// needs. Reconnects by itself; the caller builds each attempt's URL, so a
// kv watch resumes after the last index it saw.

import { authHeaders, refusal, type ApiFailure } from "./api.ts";
import { parseSse, type SseEvent } from "./sse-parse.ts";

export type StreamState = "connecting" | "open" | "retrying";

export interface StreamHandlers {
  event(event: SseEvent): void;
  state?(state: StreamState, detail?: string): void;
  /** A refusal (4xx): return true to retry anyway, false to stop. */
  refused?(failure: ApiFailure): boolean;
}

export interface Stream {
  close(): void;
}

const RETRY_MS = 1000;

export function openStream(url: () => string, handlers: StreamHandlers): Stream {
  const abort = new AbortController();
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      handlers.state?.("connecting");
      let detail = "the stream ended";
      try {
        const response = await fetch(url(), { headers: { ...authHeaders(), accept: "text/event-stream" }, signal: abort.signal });
        if (!response.ok || !response.body) {
          const failure = await refusal(response);
          if (failure.status === 401) return;
          if (failure.status >= 400 && failure.status < 500 && !(handlers.refused?.(failure) ?? false)) return;
          detail = failure.message;
        } else {
          handlers.state?.("open");
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          let buffer = "";
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true });
            const { events, rest } = parseSse(buffer);
            buffer = rest;
            for (const event of events) handlers.event(event);
          }
        }
      } catch (error) {
        if (abort.signal.aborted) return;
        detail = String(error);
      }
      handlers.state?.("retrying", detail);
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  };
  void run();
  return { close: () => abort.abort() };
}
