// RaftNode.forward / onForwarded: a follower hands a payload to the leader
// over the Raft transport and gets the leader's answer, or an error that
// says whether anything may have been proposed.

import { afterEach, describe, expect, it } from "bun:test";
import { LeadershipLostError, NotLeaderError, TimeoutError } from "../../../src/raft/errors.ts";
import { bytes, makeCluster, text, type Cluster } from "../harness.ts";

let c: Cluster | undefined;
afterEach(async () => {
  await c?.shutdown();
  c = undefined;
});

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe("forwarding to the leader", () => {
  it("carries a follower's payload to the leader's handler and brings its answer back, with the handler's deadline", async () => {
    c = await makeCluster(3);
    const leader = await c.leader();
    const seen: { payload: string; timeoutMs: number }[] = [];
    leader.onForwarded(async (payload, timeoutMs) => {
      seen.push({ payload: text(payload), timeoutMs });
      const { index } = await leader.apply(payload, { timeoutMs });
      return bytes(`applied at ${index}`);
    });
    const [follower] = await c.followers();
    const answer = text(await follower!.forward(bytes("from a follower"), { timeoutMs: 2_000 }));
    expect(answer).toMatch(/^applied at \d+$/);
    expect(seen).toEqual([{ payload: "from a follower", timeoutMs: 2_000 }]);
    await c.ensureSame();
    expect(c.fsm(leader.stats().id).items).toContain("from a follower");
  });

  it("fails at once on the leader itself, and says the leader refused when its handler proposed nothing", async () => {
    c = await makeCluster(3);
    const leader = await c.leader();
    expect(await failure(leader.forward(bytes("x")))).toBeInstanceOf(NotLeaderError);
    // No handler registered on the leader: nothing proposed, safe to retry.
    const [follower] = await c.followers();
    const refused = await failure(follower!.forward(bytes("x"), { timeoutMs: 2_000 }));
    expect(refused).toBeInstanceOf(NotLeaderError);
    expect((refused as Error).message).toContain("did not take the proposal");
  });

  it("keeps what a leader's failure means: its timeout is a timeout, anything else an unknown outcome", async () => {
    c = await makeCluster(3);
    const leader = await c.leader();
    const [follower] = await c.followers();
    leader.onForwarded(async (payload) => {
      if (text(payload) === "slow") throw new TimeoutError("apply", 50);
      throw new Error("disk on fire");
    });
    expect(await failure(follower!.forward(bytes("slow"), { timeoutMs: 2_000 }))).toBeInstanceOf(TimeoutError);
    const unknown = await failure(follower!.forward(bytes("other"), { timeoutMs: 2_000 }));
    expect(unknown).toBeInstanceOf(LeadershipLostError);
    expect((unknown as Error).message).toContain("disk on fire");
  });

  it("times out when the leader cannot be reached (the outcome is then unknown)", async () => {
    c = await makeCluster(3);
    const leader = await c.leader();
    leader.onForwarded(async () => bytes("never heard"));
    const [follower] = await c.followers();
    c.partition(leader.stats().id);
    const started = performance.now();
    const error = await failure(follower!.forward(bytes("lost"), { timeoutMs: 100 }));
    expect(error).toBeInstanceOf(TimeoutError);
    // Its deadline plus a little grace for the leader's own answer, not the node's 10 s default.
    expect(performance.now() - started).toBeLessThan(2_000);
  });
  it("once the leader is reported unreachable, refuses at once without sending anything", async () => {
    c = await makeCluster(3);
    const leader = await c.leader();
    const leaderId = leader.stats().id;
    const [follower] = await c.followers();
    await c.crash(leaderId);
    // The first request goes out and the leader is found gone: the outcome is unknown.
    expect(await failure(follower!.forward(bytes("first"), { timeoutMs: 2_000 }))).toBeInstanceOf(LeadershipLostError);
    // The next one is refused unsent, so it is safe to retry elsewhere.
    const refused = await failure(follower!.forward(bytes("second"), { timeoutMs: 2_000 }));
    expect(refused).toBeInstanceOf(NotLeaderError);
    expect((refused as Error).message).toContain("cannot be reached");
  });
});
