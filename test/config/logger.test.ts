// The node's logger: level filter (changeable while running, shared by
// children), text lines for people, JSON lines for log shippers.

import { describe, expect, it } from "bun:test";
import { createLogger, type LogFormat, type LogLevel } from "../../src/log/logger.ts";
import type { Logger } from "../../src/raft/logger.ts";

const AT = new Date("2026-11-22T10:00:00.000Z");

function capture(level: LogLevel, format: LogFormat = "text") {
  const lines: string[] = [];
  const logger = createLogger({ node: "node1", level, format, write: (line) => lines.push(line), now: () => AT });
  return { logger, lines };
}

const logAll = (logger: Logger) => {
  logger.debug("d");
  logger.info("i");
  logger.warn("w");
  logger.error("e");
};

describe("createLogger", () => {
  const levels: [LogLevel, string[]][] = [
    ["debug", ["d", "i", "w", "e"]],
    ["info", ["i", "w", "e"]],
    ["warn", ["w", "e"]],
    ["error", ["e"]],
  ];
  for (const [level, shown] of levels) {
    it(`at level ${level} writes only ${shown.join(", ")}`, () => {
      const { logger, lines } = capture(level, "json");
      logAll(logger);
      expect(lines.map((line) => JSON.parse(line).msg)).toEqual(shown);
    });
  }

  it("changes level while running, for the logger and every child it made", () => {
    const { logger, lines } = capture("warn", "json");
    const raft = logger.child("raft");
    raft.info("hidden");
    logger.setLevel("debug");
    expect(raft.level).toBe("debug");
    raft.debug("now shown");
    raft.child("transport").debug("nested");
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(["now shown", "nested"]);
    expect(() => logger.setLevel("verbose" as LogLevel)).toThrow("log level must be one of debug, info, warn, error");
  });

  it("writes text lines: time, level, [node], component, message, key=value fields", () => {
    const { logger, lines } = capture("debug");
    logger.child("raft").info("became leader", { term: 3, lastIndex: 12 });
    logger.warn("join refused; retrying", { via: "127.0.0.1:2221", answer: "no leader yet", empty: "", skipped: undefined, ok: true, members: ["node1", "node2"] });
    logger.error("cannot apply", { error: Object.assign(new Error("disk full"), { code: "IO" }) });
    expect(lines).toEqual([
      "2026-11-22T10:00:00.000Z INFO  [node1] raft: became leader term=3 lastIndex=12\n",
      '2026-11-22T10:00:00.000Z WARN  [node1] join refused; retrying via=127.0.0.1:2221 answer="no leader yet" empty="" ok=true members=["node1","node2"]\n',
      '2026-11-22T10:00:00.000Z ERROR [node1] cannot apply error="IO: disk full"\n',
    ]);
  });

  it("writes one JSON object per line: ts, level, node, component, msg, then the fields", () => {
    const { logger, lines } = capture("info", "json");
    logger.child("cluster").warn("config changed; these settings take effect after a restart", { settings: ["raft.port"], error: Object.assign(new Error("bad"), { code: "BAD_SETTING" }) });
    logger.info("plain");
    expect(lines.every((line) => line.endsWith("}\n") && line.split("\n").length === 2)).toBe(true);
    expect(lines[0]).toBe(
      '{"ts":"2026-11-22T10:00:00.000Z","level":"warn","node":"node1","component":"cluster","msg":"config changed; these settings take effect after a restart","settings":["raft.port"],"error":{"code":"BAD_SETTING","message":"bad"}}\n',
    );
    expect(JSON.parse(lines[1]!)).toEqual({ ts: "2026-11-22T10:00:00.000Z", level: "info", node: "node1", msg: "plain" });
  });

  it("keeps its own keys when a field has the same name", () => {
    const { logger, lines } = capture("info", "json");
    logger.info("collision", { level: "mine", msg: "other" });
    expect(JSON.parse(lines[0]!)).toEqual({ ts: AT.toISOString(), level: "info", node: "node1", msg: "collision", "field.level": "mine", "field.msg": "other" });
  });

  it("never throws on fields JSON cannot hold, nor when the output fails", () => {
    const { logger, lines } = capture("info", "json");
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    logger.info("odd fields", { big: 10n ** 20n, cyclic });
    expect(JSON.parse(lines[0]!)).toMatchObject({ big: "100000000000000000000", cyclic: { name: "loop", self: "[circular]" } });
    const broken = createLogger({ node: "n", level: "info", format: "text", write: () => { throw new Error("EPIPE"); } });
    expect(() => broken.info("still fine")).not.toThrow();
  });
});
