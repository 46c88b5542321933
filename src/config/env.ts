// The environment variables of CONTRACT.md, with the names the original
// ipvs-manager used, laid over the YAML. Each value is checked here, so an
// error names the variable the operator set rather than the YAML path it
// fills:  RAFT_PORT: expected a port number 1-65535, got "x"
//
// An empty variable counts as unset, as it did in ipvs-manager: compose files
// and scripts pass `RAFT_LEADER=` to the first node of a cluster.

import { HOST_EXPECTED, HOST_PORT_EXPECTED, isHost, parseHostPort, parsePort } from "./address.ts";
import { ConfigError } from "./errors.ts";
import { DATA_DIR_EXPECTED, DATA_DIR_PATTERN, NODE_ID_EXPECTED, NODE_ID_PATTERN, TOKEN_EXPECTED, TOKEN_PATTERN } from "./schema.ts";

interface Variable {
  /** The YAML setting it overrides. */
  path: readonly [string, string];
  /** The value, or null when `raw` is not one; `expected` then says what is. */
  parse: (raw: string) => unknown;
  expected: string;
}

const matching = (pattern: string) => {
  const regex = new RegExp(pattern);
  return (raw: string) => (regex.test(raw) ? raw : null);
};
const asPort = (raw: string) => parsePort(raw);
const asHost = (raw: string) => (isHost(raw) ? raw : null);
const asHostPort = (raw: string) => (parseHostPort(raw) ? raw : null);

export const ENVIRONMENT: Readonly<Record<string, Variable>> = {
  SERVER_PORT: { path: ["http", "port"], parse: asPort, expected: "a port number 1-65535" },
  SERVER_HOST: { path: ["http", "host"], parse: asHost, expected: HOST_EXPECTED },
  SERVER_ADVERTISE: { path: ["http", "advertise"], parse: asHostPort, expected: HOST_PORT_EXPECTED },
  RAFT_NODE_ID: { path: ["node", "id"], parse: matching(NODE_ID_PATTERN), expected: `a node id: ${NODE_ID_EXPECTED}` },
  RAFT_PORT: { path: ["raft", "port"], parse: asPort, expected: "a port number 1-65535" },
  RAFT_HOST: { path: ["raft", "host"], parse: asHost, expected: HOST_EXPECTED },
  RAFT_ADVERTISE: { path: ["raft", "advertise"], parse: asHostPort, expected: HOST_PORT_EXPECTED },
  RAFT_VOL_DIR: { path: ["node", "dataDir"], parse: matching(DATA_DIR_PATTERN), expected: DATA_DIR_EXPECTED },
  RAFT_LEADER: { path: ["cluster", "join"], parse: asHostPort, expected: `the HTTP address of a cluster member, ${HOST_PORT_EXPECTED}` },
  PONTOON_TOKEN: { path: ["auth", "token"], parse: matching(TOKEN_PATTERN), expected: TOKEN_EXPECTED },
  PONTOON_JOIN_SECRET: { path: ["auth", "joinSecret"], parse: matching(`^[\\x21-\\x7e]{16,}$`), expected: `at least 16 visible ASCII characters, without spaces` },
};

/**
 * Sets each variable that is present into `config` (creating its section if
 * the YAML had none). Returns which YAML path each variable set, so later
 * errors about that setting can name the variable.
 */
export function applyEnvironment(config: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const origins = new Map<string, string>();
  for (const [name, variable] of Object.entries(ENVIRONMENT)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const value = variable.parse(raw);
    if (value === null) throw new ConfigError("BAD_ENV", `${name}: expected ${variable.expected}, got ${JSON.stringify(raw)}`, name);
    const [sectionName, key] = variable.path;
    const current = config[sectionName];
    // The YAML was validated before this runs, so a present section is a mapping.
    const section = (current !== null && typeof current === "object" ? current : (config[sectionName] = {})) as Record<string, unknown>;
    section[key] = value;
    origins.set(`${sectionName}.${key}`, name);
  }
  return origins;
}
