// The node logs through this small interface so the server can route it into
// its own logger and tests can keep quiet or capture lines.

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Lines on stderr, prefixed with the node id; debug lines only when asked for. */
export function consoleLogger(prefix: string, options: { debug?: boolean } = {}): Logger {
  const line = (level: string, message: string, fields?: LogFields): void => {
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
    console.error(`[raft ${prefix}] ${level} ${message}${extra}`);
  };
  return {
    debug: (m, f) => {
      if (options.debug) line("DEBUG", m, f);
    },
    info: (m, f) => line("INFO", m, f),
    warn: (m, f) => line("WARN", m, f),
    error: (m, f) => line("ERROR", m, f),
  };
}
