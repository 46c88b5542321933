// A configuration problem: one line a person can act on, naming the YAML path
// (and file), the command-line flag or the environment variable at fault, and
// what is wrong with it. main.ts prints the message and exits 2.

export type ConfigErrorCode =
  /** --config names a file that does not exist. */
  | "CONFIG_NOT_FOUND"
  /** The file exists but cannot be read. */
  | "CONFIG_UNREADABLE"
  /** Not YAML, or not a mapping at the top level. */
  | "BAD_YAML"
  /** An unknown command-line argument or a flag without its value. */
  | "BAD_FLAG"
  /** An environment variable of CONTRACT.md with a value it cannot take. */
  | "BAD_ENV"
  /** A key the node (and the plugins listed) do not know. */
  | "UNKNOWN_SETTING"
  /** A setting with the wrong type or out of range. */
  | "BAD_SETTING"
  /** Settings that are fine one by one but not together. */
  | "CONFLICTING_SETTINGS";

export class ConfigError extends Error {
  constructor(
    readonly code: ConfigErrorCode,
    message: string,
    /** The YAML path (`raft.port`), flag (`--log-level`) or variable (`RAFT_PORT`) at fault, when there is one. */
    readonly at?: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}
