// The node's log: one line per event that matters to an operator, as text
// (`2026-11-22T10:00:00.000Z INFO  [node1] raft: became leader term=3`) or as
// JSON lines (--log-format json), filtered by a level that can change live.

import type { LogFields, Logger } from "../raft/logger.ts";

export type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface NodeLogger extends Logger {
  setLevel(level: Level): void;
  /** A logger for one component (raft, http, cluster...), sharing the level. */
  child(component: string): NodeLogger;
}

export interface LoggerOptions {
  node: string;
  level: Level;
  format: "text" | "json";
  /** Where lines go (default: stderr). */
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions): NodeLogger {
  const state = { level: options.level };
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const make = (component: string | undefined): NodeLogger => {
    const emit = (level: Level, message: string, fields?: LogFields): void => {
      if (RANK[level] < RANK[state.level]) return;
      const ts = new Date().toISOString();
      if (options.format === "json") {
        write(`${JSON.stringify({ ts, level, node: options.node, ...(component ? { component } : {}), msg: message, ...fields })}\n`);
        return;
      }
      const extra = fields ? Object.entries(fields).map(([k, v]) => ` ${k}=${formatValue(v)}`).join("") : "";
      write(`${ts} ${level.toUpperCase().padEnd(5)} [${options.node}] ${component ? `${component}: ` : ""}${message}${extra}\n`);
    };
    return {
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      setLevel: (level) => {
        state.level = level;
      },
      child: (name) => make(component ? `${component}.${name}` : name),
    };
  };
  return make(undefined);
}

function formatValue(v: unknown): string {
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}
