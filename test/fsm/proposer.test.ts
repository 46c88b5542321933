// The Proposer checks a command before it reaches Raft: an unknown plugin or
// command, or arguments that break the schema, are a 400 naming what is
// wrong, and nothing is proposed. What passes goes through the log to apply.

import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { Proposer, type ReplicatedLog } from "../../src/fsm/proposer.ts";
import { PluginError } from "../../src/fsm/sdk.ts";
import { NotLeaderError } from "../../src/raft/errors.ts";
import type { PluginHost } from "../../src/fsm/plugin-host.ts";
import { counters, fsmDir } from "./fixtures.ts";

let tmp: ReturnType<typeof fsmDir>;
beforeEach(() => {
  tmp = fsmDir("proposer");
});
afterEach(() => tmp.cleanup());

/** A log of one node that commits at once and applies in order. */
function loopbackLog(host: PluginHost): ReplicatedLog & { proposed: number } {
  let index = 0;
  return {
    proposed: 0,
    async apply(command) {
      this.proposed++;
      index++;
      return { index, response: host.applyBatch([{ index, term: 1, data: command }])[0] };
    },
    readIndex: async () => index,
    leaseRead: async () => index,
  };
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; status: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(PluginError);
    const e = error as PluginError;
    return { code: e.code, status: e.status, message: e.message };
  }
  throw new Error("the proposal was accepted");
}

describe("Proposer", () => {
  it("proposes a valid command and returns what apply returned", async () => {
    const host = tmp.open();
    const log = loopbackLog(host);
    const proposer = new Proposer(host, log);
    expect(await proposer.propose("counter", "add", { name: "a", by: 2 })).toEqual({ index: 1, value: 2 });
    expect(counters(host.database)).toEqual({ a: 2 });
  });

  it("refuses, before proposing, an unknown plugin, an unknown or inherited command name, and arguments that break the schema", async () => {
    const host = tmp.open();
    const log = loopbackLog(host);
    const proposer = new Proposer(host, log);
    expect(await refusal(proposer.propose("nope", "add", {}))).toEqual({ code: "UNKNOWN_COMMAND", status: 400, message: 'no plugin "nope" runs on this node' });
    for (const command of ["sub", "constructor", "toString", "__proto__"]) {
      expect(await refusal(proposer.propose("counter", command, {}))).toEqual({ code: "UNKNOWN_COMMAND", status: 400, message: `plugin "counter" has no command "${command}"` });
    }
    expect(await refusal(proposer.propose("_host", "hasOwnProperty", {}))).toMatchObject({ code: "UNKNOWN_COMMAND", status: 400 });
    const invalid = await refusal(proposer.propose("counter", "add", { name: "a", by: "two" }));
    expect(invalid.code).toBe("INVALID_COMMAND");
    expect(invalid.message).toStartWith("counter.add: by: ");
    expect(log.proposed).toBe(0);
  });
});

describe("Proposer on a follower", () => {
  /** A leader's proposer behind a loopback log, and a follower's log that reaches it only by forwarding. */
  function followerOf(leaderHost: PluginHost, isLeader: boolean) {
    const leaderLog = loopbackLog(leaderHost) as ReplicatedLog & { proposed: number; handler?: (payload: Uint8Array, timeoutMs: number) => Promise<Uint8Array> };
    leaderLog.onForwarded = (handler) => {
      leaderLog.handler = handler;
    };
    new Proposer(leaderHost, leaderLog);
    const follower = {
      applies: 0,
      forwards: 0,
      isLeader: () => isLeader,
      async apply(): Promise<{ index: number; response: unknown }> {
        follower.applies++;
        throw new NotLeaderError("n1", "127.0.0.1:1");
      },
      async forward(payload: Uint8Array, options?: { timeoutMs?: number }) {
        follower.forwards++;
        return leaderLog.handler!(payload, options?.timeoutMs ?? 1000);
      },
      readIndex: async () => 0,
      leaseRead: async () => 0,
    };
    return { follower, leaderLog };
  }

  it("forwards to the leader without trying apply first, and answers with the leader's result", async () => {
    const leaderHost = tmp.open("leader.db");
    const { follower, leaderLog } = followerOf(leaderHost, false);
    const proposer = new Proposer(tmp.open("follower.db"), follower);
    expect(await proposer.propose("counter", "add", { name: "a", by: 3 })).toEqual({ index: 1, value: 3 });
    expect([follower.applies, follower.forwards, leaderLog.proposed]).toEqual([0, 1, 1]);
    expect(counters(leaderHost.database)).toEqual({ a: 3 });
  });

  it("still forwards when it believed it led but apply says it no longer does", async () => {
    const leaderHost = tmp.open("leader.db");
    const { follower } = followerOf(leaderHost, true);
    const proposer = new Proposer(tmp.open("follower.db"), follower);
    expect(await proposer.propose("counter", "add", { name: "b", by: 1 })).toEqual({ index: 1, value: 1 });
    expect([follower.applies, follower.forwards]).toEqual([1, 1]);
  });
});
