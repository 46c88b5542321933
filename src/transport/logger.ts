// The few log calls the transport makes. Structurally the same as the node's
// Logger (src/raft/logger.ts), so the node passes its own logger, without the
// transport importing from the layer above it.

export interface TransportLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export const quietLogger: TransportLogger = {
  debug() {},
  info() {},
  warn() {},
};
