// The environment variables of CONTRACT.md, laid over the YAML. Each value is
// checked here so an error names the variable, not the YAML path it fills.

import { ConfigError } from "./errors.ts";

type Setter = { path: string[]; parse: (raw: string, name: string) => unknown };

const port = (raw: string, name: string): number => {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) throw new ConfigError("BAD_ENV", `${name}: expected a port number 1-65535, got ${JSON.stringify(raw)}`, name);
  return n;
};
const hostPort = (raw: string, name: string): string => {
  const m = /^([^\s/]+):(\d{1,5})$/.exec(raw);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new ConfigError("BAD_ENV", `${name}: expected host:port (e.g. 127.0.0.1:2221), got ${JSON.stringify(raw)}`, name);
  return raw;
};
const host = (raw: string, name: string): string => {
  if (/[\s/]/.test(raw)) throw new ConfigError("BAD_ENV", `${name}: expected a host name or IP address, got ${JSON.stringify(raw)}`, name);
  return raw;
};
const nodeId = (raw: string, name: string): string => {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(raw)) throw new ConfigError("BAD_ENV", `${name}: a node id is 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(raw)}`, name);
  return raw;
};
const text = (raw: string): string => raw;

export const ENVIRONMENT: Record<string, Setter> = {
  SERVER_PORT: { path: ["http", "port"], parse: port },
  SERVER_HOST: { path: ["http", "host"], parse: host },
  SERVER_ADVERTISE: { path: ["http", "advertise"], parse: hostPort },
  RAFT_NODE_ID: { path: ["node", "id"], parse: nodeId },
  RAFT_PORT: { path: ["raft", "port"], parse: port },
  RAFT_HOST: { path: ["raft", "host"], parse: host },
  RAFT_ADVERTISE: { path: ["raft", "advertise"], parse: hostPort },
  RAFT_VOL_DIR: { path: ["node", "dataDir"], parse: text },
  RAFT_LEADER: { path: ["cluster", "join"], parse: hostPort },
  PONTOON_TOKEN: { path: ["auth", "token"], parse: text },
};

/** Sets each variable that is present (an empty one counts as unset) into `config`; returns which path came from which variable. */
export function applyEnvironment(config: Record<string, unknown>, env: Record<string, string | undefined>): Map<string, string> {
  const origins = new Map<string, string>();
  for (const [name, setter] of Object.entries(ENVIRONMENT)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    let target = config;
    for (const key of setter.path.slice(0, -1)) {
      const next = target[key];
      target = (target[key] = next && typeof next === "object" ? next : {}) as Record<string, unknown>;
    }
    target[setter.path.at(-1)!] = setter.parse(raw, name);
    origins.set(setter.path.join("."), name);
  }
  return origins;
}
