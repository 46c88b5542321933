// A read repeated for as long as a view is open: either a blocking query
// (the next call names the index the last answer carried, and the node
// answers when something changes or the wait ends) or a plain poll. Errors
// are reported and retried after a pause; a 401 stops it (the shell shows the
// token prompt).

import { ApiFailure } from "./api.ts";

export interface LiveRead {
  close(): void;
}

const RETRY_MS = 1000;

/**
 * Calls `read(signal)` again and again until closed. `pauseMs` is the gap
 * between answers: 0 for a blocking query (the node does the waiting).
 */
export function liveRead(read: (signal: AbortSignal) => Promise<void>, report: { error(error: unknown): void; ok?(): void }, pauseMs = 0): LiveRead {
  const abort = new AbortController();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      abort.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()));
    });
  void (async () => {
    while (!abort.signal.aborted) {
      try {
        await read(abort.signal);
        report.ok?.();
        if (pauseMs > 0) await sleep(pauseMs);
      } catch (error) {
        if (abort.signal.aborted) return;
        if (error instanceof ApiFailure && error.status === 401) return;
        report.error(error);
        await sleep(RETRY_MS);
      }
    }
  })();
  return { close: () => abort.abort() };
}
