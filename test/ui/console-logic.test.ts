// The console's pure parts, without a browser: the line diff, the event
// stream parser, the key tree, the syntax check, and the cluster overview.

import { describe, expect, it } from "bun:test";
import { overviewOf, type MemberStatus } from "../../src/ui/cluster-overview.ts";
import { lineDiff } from "../../src/ui/web/diff.ts";
import { keyTree, type TreeNode } from "../../src/ui/web/key-tree.ts";
import { parseSse } from "../../src/ui/web/sse-parse.ts";
import { checkSyntax, formatOf } from "../../src/ui/web/syntax.ts";

describe("lineDiff", () => {
  const cases: [string, string, string, string][] = [
    ["equal", "a\nb", "a\nb", " a  b"],
    ["a changed line", "a\nb\nc", "a\nB\nc", " a -b +B  c"],
    ["an added line", "a\nc", "a\nb\nc", " a +b  c"],
    ["a removed line", "a\nb\nc", "a\nc", " a -b  c"],
    ["from empty", "", "x", "- +x"],
    ["moves keep the longest common run", "1\n2\n3\n4", "2\n3\n4\n1", "-1  2  3  4 +1"],
  ];
  for (const [name, before, after, expected] of cases) {
    it(name, () => {
      const sign = { same: " ", add: "+", del: "-" } as const;
      expect(lineDiff(before, after)!.map((l) => `${sign[l.op]}${l.text}`).join(" ")).toBe(expected);
    });
  }

  it("declines a diff too large for a browser tab instead of freezing it", () => {
    const big = (tag: string) => Array.from({ length: 3000 }, (_, i) => `${tag}${i}`).join("\n");
    expect(lineDiff(big("a"), big("b"))).toBeNull();
  });
});

describe("parseSse", () => {
  it("parses complete events and keeps an incomplete one for the next chunk", () => {
    const { events, rest } = parseSse(': comment\nretry: 1000\n\nid: 7\nevent: put\ndata: {"key":"a"}\n\ndata: one\ndata: two\n\nevent: del');
    expect(events).toEqual([
      { event: "put", data: '{"key":"a"}', id: "7" },
      { event: "message", data: "one\ntwo", id: null },
    ]);
    expect(rest).toBe("event: del");
  });

  it("accepts CRLF line ends", () => {
    expect(parseSse("event: overview\r\ndata: {}\r\n\r\n").events).toEqual([{ event: "overview", data: "{}", id: null }]);
  });
});

describe("keyTree", () => {
  const shape = (node: TreeNode): string => `${node.name}${node.isKey ? "*" : ""}${node.children.length ? `(${node.children.map(shape).join(",")})` : ""}`;
  it("groups keys by / segments; a name may be both a key and a folder", () => {
    expect(shape(keyTree(["app/db", "app/db/pool", "app/cache", "top"]))).toBe("(app(cache*,db*(pool*)),top*)");
  });
});

describe("syntax check", () => {
  it("reads the format from the key's extension, else from the value", () => {
    expect([formatOf("a.json", "x"), formatOf("a.yml", ""), formatOf("a", '{"x":1}'), formatOf("a", "{not json"), formatOf("a", "plain")]).toEqual(["json", "yaml", "json", "text", "text"]);
  });

  it("says where JSON and YAML break, and accepts anything as text", async () => {
    expect(await checkSyntax("json", '{"a": 1}')).toEqual({ ok: true });
    const json = await checkSyntax("json", '{\n"a": 1,\n}');
    expect(json.ok).toBe(false);
    // The position is the engine's to give: Chromium's says "line 3 column 1", Bun's none.
    expect(!json.ok && json.message).toMatch(/^JSON: /);
    expect(await checkSyntax("yaml", "a: 1\nb: [2, 3]\n")).toEqual({ ok: true });
    const yaml = await checkSyntax("yaml", "a: 1\nb: [2, 3\n");
    expect(!yaml.ok && yaml.message).toMatch(/^YAML: .*line \d+, column \d+/);
    expect(await checkSyntax("text", "{")).toEqual({ ok: true });
  });
});

describe("overviewOf", () => {
  const status = (id: string, state: MemberStatus["state"], extra: Partial<MemberStatus> = {}): MemberStatus => ({
    id,
    state,
    term: 3,
    leader: { id: "n1", raft: "r1", http: "h1" },
    commitIndex: 10,
    appliedIndex: 10,
    members: ["n1", "n2", "n3"].map((m) => ({ id: m, raft: `r${m.slice(1)}`, http: `h${m.slice(1)}`, voter: true })),
    lastIndex: 10,
    snapshotIndex: 0,
    lastContactMs: 40,
    plugins: {},
    replication: [],
    ...extra,
  });

  it("takes lag and last contact from the leader's view, and keeps a member that does not answer as unreachable", () => {
    const leader = status("n1", "Leader", { replication: [{ id: "n2", match: 7, lag: 3, state: "replicate", lastContactMs: 12 }, { id: "n3", match: 2, lag: 8, state: "probe", lastContactMs: 4000 }] });
    const views = new Map<string, MemberStatus | Error>([["n1", leader], ["n2", status("n2", "Follower", { appliedIndex: 7 })], ["n3", new Error("h3 did not answer: refused")]]);
    const overview = overviewOf(status("n2", "Follower"), views, 1);
    expect(overview.leader).toEqual({ id: "n1", http: "h1" });
    expect(overview.members.map((m) => [m.id, m.reachable, m.state, m.lag, m.lastContactMs])).toEqual([
      ["n1", true, "Leader", 0, 0],
      ["n2", true, "Follower", 3, 12],
      ["n3", false, null, 8, 4000],
    ]);
    expect(overview.members[2]!.error).toBe("h3 did not answer: refused");
  });

  it("without a leader, measures lag against the highest commit any member reports", () => {
    const views = new Map<string, MemberStatus | Error>([["n1", new Error("gone")], ["n2", status("n2", "Candidate", { commitIndex: 12, appliedIndex: 12, leader: null })], ["n3", status("n3", "Follower", { appliedIndex: 9, leader: null })]]);
    const overview = overviewOf(status("n2", "Candidate", { leader: null }), views, 1);
    expect(overview.leader).toBeNull();
    expect(overview.members.map((m) => m.lag)).toEqual([null, 0, 3]);
  });
});
