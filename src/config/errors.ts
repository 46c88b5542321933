// A configuration problem: one line that names the YAML path (and file) or
// the environment variable, and what is wrong with it.

export class ConfigError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The YAML path (`raft.port`) or variable (`RAFT_PORT`) at fault. */
    readonly at?: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}
