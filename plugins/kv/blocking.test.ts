// waitForChange, the heart of blocking queries, driven by hand: events are
// delivered by the test, so each path (woken by a matching change, already
// changed, timed out, client gone) is taken exactly, without racing a server.

import { describe, expect, it } from "bun:test";
import type { PluginEvent } from "../../src/fsm/sdk.ts";
import { waitForChange } from "./blocking.ts";

/** A stand-in for the runtime's subscribe that the test feeds, and that counts subscribers. */
function fakeEvents() {
  const listeners = new Set<(events: PluginEvent[]) => void>();
  return {
    subscribe(listener: (events: PluginEvent[]) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    deliver(index: number, key: string) {
      for (const listener of [...listeners]) listener([{ index, event: { op: "put", key, value: null, createIndex: index } }]);
    },
    get subscribers() {
      return listeners.size;
    },
  };
}

/** Whether the promise has settled after the microtasks queued so far. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

const exactly = (key: string) => (k: string) => k === key;

describe("waitForChange", () => {
  it("waits through changes to other keys and changes at or before the index, and wakes on a later change to its key", async () => {
    const events = fakeEvents();
    const waiting = waitForChange(events, exactly("a"), 10, () => 10, 60_000);
    expect(events.subscribers).toBe(1);
    events.deliver(11, "b");
    events.deliver(10, "a");
    expect(await settled(waiting)).toBe(false);
    events.deliver(12, "a");
    expect(await settled(waiting)).toBe(true);
    expect(events.subscribers).toBe(0);
  });

  it("answers at once when the key already changed after the index", async () => {
    const events = fakeEvents();
    const waiting = waitForChange(events, exactly("a"), 10, () => 11, 60_000);
    expect(await settled(waiting)).toBe(true);
    expect(events.subscribers).toBe(0);
  });

  it("subscribes before it looks, so a change made while it looks is not missed", async () => {
    const events = fakeEvents();
    // The change lands during current(): after the subscription, before the look returns.
    const waiting = waitForChange(events, exactly("a"), 10, () => (events.deliver(11, "a"), 10), 60_000);
    expect(await settled(waiting)).toBe(true);
  });

  it("answers when the wait is over, unchanged", async () => {
    const events = fakeEvents();
    const waiting = waitForChange(events, exactly("a"), 10, () => 10, 20);
    expect(await settled(waiting)).toBe(false);
    await waiting;
    expect(events.subscribers).toBe(0);
  });

  it("stops waiting when the client goes away", async () => {
    const events = fakeEvents();
    const client = new AbortController();
    const waiting = waitForChange(events, exactly("a"), 10, () => 10, 60_000, client.signal);
    expect(await settled(waiting)).toBe(false);
    client.abort();
    expect(await settled(waiting)).toBe(true);
    expect(events.subscribers).toBe(0);
  });
});
