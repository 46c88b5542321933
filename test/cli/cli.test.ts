// `pontoon` as a script runs it: a real process against a real node, its
// output for people and with --json, and the exit codes it documents.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { resolve } from "node:path";
import { startOneNode, type OneNode } from "../server/one-node.ts";
import { freePort } from "../e2e/process-cluster.ts";

const CLI = resolve(import.meta.dir, "../../src/cli/main.ts");
let one: OneNode;
let endpoint: string;

beforeAll(async () => {
  one = await startOneNode();
  endpoint = one.base.replace("http://", "");
});
afterAll(async () => {
  await one.stop();
});

async function pontoon(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([process.execPath, CLI, ...args], {
    env: { ...process.env, PONTOON_ENDPOINTS: endpoint, ...options.env },
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

describe("pontoon kv", () => {
  it("puts, gets, lists, deletes; --json for scripts; a value from standard input", async () => {
    const put = await pontoon(["kv", "put", "cli/color", "blue"]);
    expect(put).toMatchObject({ code: 0, out: expect.stringMatching(/^cli\/color written at index \d+\n$/) });
    expect((await pontoon(["kv", "get", "cli/color"])).out).toBe("blue\n");
    const json = JSON.parse((await pontoon(["kv", "get", "cli/color", "--json"])).out) as { key: string; value: string; modifyIndex: number };
    expect(json).toMatchObject({ key: "cli/color", value: "blue" });
    expect((await pontoon(["kv", "put", "cli/multi", "-"], { stdin: "line 1\nline 2\n" })).code).toBe(0);
    expect((await pontoon(["kv", "get", "cli/multi"])).out).toBe("line 1\nline 2\n\n");
    const ls = await pontoon(["kv", "ls", "cli/"]);
    expect(ls.out.split("\n")[0]).toMatch(/^KEY\s+MODIFIED\s+VALUE$/);
    expect(ls.out).toContain("cli/multi");
    expect(ls.out).toContain("line 1⏎line 2⏎");
    const items = (JSON.parse((await pontoon(["kv", "ls", "cli/", "--json"])).out) as { items: { key: string }[] }).items;
    expect(items.map((i) => i.key)).toEqual(["cli/color", "cli/multi"]);
    expect((await pontoon(["kv", "del", "cli/multi"])).out).toMatch(/^cli\/multi deleted at index \d+\n$/);
    expect(await pontoon(["kv", "del", "cli/multi"])).toMatchObject({ code: 0, out: "cli/multi did not exist\n" });
  });

  it("a value with a TTL is gone once it runs out", async () => {
    expect((await pontoon(["kv", "put", "cli/ttl", "x", "--ttl", "300ms"])).code).toBe(0);
    const deadline = Date.now() + 5_000;
    while ((await pontoon(["kv", "get", "cli/ttl"])).code === 0 && Date.now() < deadline) await Bun.sleep(100);
    expect((await pontoon(["kv", "get", "cli/ttl"])).code).toBe(4);
  });

  it("history and rollback", async () => {
    const first = JSON.parse((await pontoon(["kv", "put", "cli/h", "one", "--json"])).out) as { index: number };
    await pontoon(["kv", "put", "cli/h", "two"]);
    const history = JSON.parse((await pontoon(["kv", "history", "cli/h", "--json"])).out) as { value: string }[];
    expect(history.map((v) => v.value)).toEqual(["two", "one"]);
    const rolled = await pontoon(["kv", "rollback", "cli/h", String(first.index)]);
    expect(rolled.out).toMatch(new RegExp(`^cli/h rolled back to its version at ${first.index}, as index \\d+\\n$`));
    expect((await pontoon(["kv", "get", "cli/h"])).out).toBe("one\n");
  });

  it("watch prints one line per change, resuming after an index", async () => {
    const from = JSON.parse((await pontoon(["kv", "put", "cli/w/a", "1", "--json"])).out) as { index: number };
    await pontoon(["kv", "put", "cli/w/b", "2"]);
    await pontoon(["kv", "del", "cli/w/a"]);
    const proc = Bun.spawn([process.execPath, CLI, "kv", "watch", "cli/w/", "--after", String(from.index - 1), "--json"], {
      env: { ...process.env, PONTOON_ENDPOINTS: endpoint },
      stdout: "pipe",
      stderr: "pipe",
    });
    const lines: { type: string; key: string; value: string | null }[] = [];
    const reader = proc.stdout.getReader();
    let buffer = "";
    const deadline = AbortSignal.timeout(5_000);
    while (lines.length < 3 && !deadline.aborted) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += new TextDecoder().decode(value);
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        lines.push(JSON.parse(buffer.slice(0, nl)));
        buffer = buffer.slice(nl + 1);
      }
    }
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
    expect(lines.map((l) => `${l.type} ${l.key} ${l.value}`)).toEqual(["put cli/w/a 1", "put cli/w/b 2", "delete cli/w/a null"]);
  });
});

describe("pontoon exit codes", () => {
  it("4 for a missing key, 1 for a failed cas, 2 for bad usage, 3 with no node reachable", async () => {
    expect(await pontoon(["kv", "get", "cli/none"])).toMatchObject({ code: 4, err: 'pontoon: key "cli/none" does not exist\n' });
    await pontoon(["kv", "put", "cli/cas", "x"]);
    const cas = await pontoon(["kv", "put", "cli/cas", "y", "--cas", "0"]);
    expect(cas.code).toBe(1);
    expect(cas.err).toStartWith("pontoon: CAS_FAILED: ");
    expect((await pontoon(["kv", "put", "cli/only-key"])).code).toBe(2);
    expect((await pontoon(["kv", "frobnicate"])).err).toStartWith('pontoon: unknown command "kv frobnicate"');
    expect((await pontoon(["kv", "get", "k", "--bogus"])).code).toBe(2);
    expect((await pontoon(["kv", "put", "k", "v", "--cas", "soon"])).err).toStartWith('pontoon: --cas must be a whole number, got "soon"');
    const nobody = await pontoon(["kv", "get", "k", "--timeout-ms", "500"], { env: { PONTOON_ENDPOINTS: `127.0.0.1:${await freePort()}` } });
    expect(nobody.code).toBe(3);
    expect(nobody.err).toStartWith("pontoon: UNREACHABLE: ");
    expect((await pontoon(["--help"])).code).toBe(0);
  }, 30_000);
});

describe("pontoon cluster", () => {
  it("status and members, as a table and as JSON", async () => {
    const status = await pontoon(["cluster", "status"]);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/^node n1: Leader, term \d+, commit \d+/);
    expect(status.out).toContain("leader: n1");
    expect(status.out).toMatch(/MEMBER\s+ROLE\s+RAFT/);
    const members: unknown = JSON.parse((await pontoon(["cluster", "members", "--json"])).out);
    expect(members).toEqual([{ id: "n1", raft: expect.any(String), http: expect.any(String), voter: true }]);
  });
});
