// The node's log: one line per event that matters to an operator, as text
//   2026-11-22T10:00:00.000Z INFO  [node1] raft: became leader term=3 lastIndex=12
// or as JSON lines (--log-format json) for a log shipper
//   {"ts":"2026-11-22T10:00:00.000Z","level":"info","node":"node1","component":"raft","msg":"became leader","term":3}
// filtered by a level that can change while the node runs (log.level reloads
// live). Logging never throws: a field that cannot be serialised is written as
// text instead of taking the caller down with it.

import type { LogFields, Logger } from "../raft/logger.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Keys every JSON line has; a field with one of these names is written as `field.<name>`. */
const RESERVED = new Set(["ts", "level", "node", "component", "msg"]);

export interface NodeLogger extends Logger {
  /** The level below which lines are dropped; shared with every child. */
  readonly level: LogLevel;
  setLevel(level: LogLevel): void;
  /** A logger whose lines name a component (raft, http, cluster); nested children join names with ".". */
  child(component: string): NodeLogger;
}

export interface LoggerOptions {
  /** Node id written on every line. */
  node: string;
  level: LogLevel;
  format: LogFormat;
  /** Where finished lines (with their "\n") go; default stderr. Tests pass their own. */
  write?: (line: string) => void;
  /** The clock stamped on lines; tests fix it. */
  now?: () => Date;
}

export function createLogger(options: LoggerOptions): NodeLogger {
  const shared = { level: options.level };
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  const render = options.format === "json" ? jsonLine : textLine;

  const make = (component: string | undefined): NodeLogger => {
    const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
      if (RANK[level] < RANK[shared.level]) return;
      try {
        write(render({ ts: now().toISOString(), level, node: options.node, component, message, fields }));
      } catch {
        // A closed stderr or a broken test sink must not turn a log call into a crash.
      }
    };
    return {
      get level() {
        return shared.level;
      },
      debug: (message, fields) => emit("debug", message, fields),
      info: (message, fields) => emit("info", message, fields),
      warn: (message, fields) => emit("warn", message, fields),
      error: (message, fields) => emit("error", message, fields),
      setLevel: (level) => {
        if (!(level in RANK)) throw new RangeError(`log level must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(level)}`);
        shared.level = level;
      },
      child: (name) => make(component ? `${component}.${name}` : name),
    };
  };
  return make(undefined);
}

interface LineParts {
  ts: string;
  level: LogLevel;
  node: string;
  component: string | undefined;
  message: string;
  fields: LogFields | undefined;
}

function textLine(p: LineParts): string {
  let line = `${p.ts} ${p.level.toUpperCase().padEnd(5)} [${p.node}] ${p.component ? `${p.component}: ` : ""}${p.message}`;
  for (const [key, value] of Object.entries(p.fields ?? {})) {
    if (value !== undefined) line += ` ${key}=${textValue(value)}`;
  }
  return `${line}\n`;
}

/** Bare when unambiguous (term=3, state=Leader), quoted when it has spaces, quotes or "=". */
function textValue(value: unknown): string {
  if (typeof value === "string") return value === "" || /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (value instanceof Error) return JSON.stringify(errorText(value));
  return safeJson(value);
}

function jsonLine(p: LineParts): string {
  const record: Record<string, unknown> = { ts: p.ts, level: p.level, node: p.node };
  if (p.component) record.component = p.component;
  record.msg = p.message;
  for (const [key, value] of Object.entries(p.fields ?? {})) {
    record[RESERVED.has(key) ? `field.${key}` : key] = value instanceof Error ? errorJson(value) : value;
  }
  return `${safeJson(record)}\n`;
}

function errorText(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? `${code}: ${error.message}` : error.message;
}

function errorJson(error: Error): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? { code, message: error.message } : { message: error.message };
}

/** JSON that survives bigints, errors nested in objects and cycles. */
function safeJson(value: unknown): string {
  const plain = (_key: string, v: unknown): unknown => (typeof v === "bigint" ? v.toString() : v instanceof Error ? errorJson(v) : v);
  try {
    return JSON.stringify(value, plain) ?? String(value);
  } catch {
    // A cycle: write every object once (a repeated one may be a sibling rather than an ancestor, which is fine for a log line).
    const seen = new WeakSet<object>();
    try {
      return JSON.stringify(value, (key, v: unknown) => {
        const out = plain(key, v);
        if (out !== null && typeof out === "object") {
          if (seen.has(out)) return "[circular]";
          seen.add(out);
        }
        return out;
      });
    } catch {
      return JSON.stringify(String(value));
    }
  }
}
