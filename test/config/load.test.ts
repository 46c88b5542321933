// loadConfig: YAML + flags + environment → one validated config, and every
// mistake a one-line ConfigError that names the YAML path (and file), the flag
// or the variable.

import { afterAll, describe, expect, it } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, type ConfigErrorCode } from "../../src/config/errors.ts";
import { DEFAULT_CONFIG_FILE, loadConfig, pluginSectionName, type LoadedConfig } from "../../src/config/load.ts";
import { defaultConfig } from "../../src/config/schema.ts";

const root = mkdtempSync(join(tmpdir(), "pontoon-config-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let caseNumber = 0;
/** Writes `yaml` as pontoon.yaml in a fresh folder and loads it from there (so errors name "pontoon.yaml"). */
function load(yaml: string, options: { env?: Record<string, string>; argv?: string[] } = {}): LoadedConfig {
  const dir = join(root, `case-${++caseNumber}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "pontoon.yaml"), yaml);
  return loadConfig({ argv: ["--config", "pontoon.yaml", ...(options.argv ?? [])], env: options.env ?? {}, cwd: dir });
}

function errorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError, but the config loaded");
}

const PEERS = `
cluster:
  peers:
    - { id: node1, raft: "127.0.0.1:1111", http: "127.0.0.1:2221" }
    - { id: node2, raft: "127.0.0.1:1112", http: "127.0.0.1:2222" }
`;

interface BadCase {
  name: string;
  yaml?: string;
  env?: Record<string, string>;
  argv?: string[];
  code: ConfigErrorCode;
  /** A fragment of the message: the path, flag or variable, and what is wrong. */
  message: string;
}

describe("loadConfig refuses a bad config with an error naming what to fix", () => {
  const cases: BadCase[] = [
    // YAML itself
    { name: "a syntax error: file, line and column", yaml: "node:\n  id: [node1\n", code: "BAD_YAML", message: "pontoon.yaml:3:1: invalid YAML: Flow sequence" },
    { name: "a key written twice", yaml: "node:\n  id: a\n  id: b\n", code: "BAD_YAML", message: "pontoon.yaml:3:3: invalid YAML: Map keys must be unique" },
    { name: "tabs as indentation", yaml: "raft:\n\tport: 1\n", code: "BAD_YAML", message: "pontoon.yaml:2:1: invalid YAML: Tabs" },
    { name: "a list at the top level", yaml: "- node1\n", code: "BAD_YAML", message: "pontoon.yaml: the top level must be a mapping of settings" },
    { name: "a missing --config file", argv: ["--config", "missing.yaml"], code: "CONFIG_NOT_FOUND", message: "missing.yaml: config file does not exist" },

    // types and ranges
    { name: "a port that is not a number", yaml: "raft:\n  port: abc\n", code: "BAD_SETTING", message: 'raft.port: expected an integer 1-65535, got "abc" (pontoon.yaml)' },
    { name: "a quoted port", yaml: 'http:\n  port: "2221"\n', code: "BAD_SETTING", message: 'http.port: expected an integer 1-65535, got "2221"' },
    { name: "a port out of range", yaml: "http:\n  port: 70000\n", code: "BAD_SETTING", message: "http.port: expected an integer 1-65535, got 70000" },
    { name: "a fractional port", yaml: "http:\n  port: 2221.5\n", code: "BAD_SETTING", message: "http.port: expected an integer 1-65535, got 2221.5" },
    { name: "an empty value", yaml: "raft:\n  port:\n", code: "BAD_SETTING", message: "raft.port: expected an integer 1-65535, got an empty value" },
    { name: "a node id with a space", yaml: "node:\n  id: node 1\n", code: "BAD_SETTING", message: `node.id: expected 1-64 letters, digits, '.', '_' or '-', got "node 1"` },
    { name: "a node id too long", yaml: `node:\n  id: ${"n".repeat(65)}\n`, code: "BAD_SETTING", message: "node.id: expected 1-64 letters" },
    { name: "a data dir with a trailing space", yaml: 'node:\n  dataDir: "./data "\n', code: "BAD_SETTING", message: "node.dataDir: expected a directory path without leading or trailing spaces" },
    { name: "a host with a port", yaml: "http:\n  host: 127.0.0.1:2221\n", code: "BAD_SETTING", message: 'http.host: expected a host name or IP address, without a port, got "127.0.0.1:2221"' },
    { name: "an advertise address without a port", yaml: "raft:\n  advertise: localhost\n", code: "BAD_SETTING", message: 'raft.advertise: expected host:port, e.g. "127.0.0.1:2221"' },
    { name: "an advertise port out of range", yaml: "http:\n  advertise: 10.0.0.1:99999\n", code: "BAD_SETTING", message: "http.advertise: expected host:port" },
    { name: "a join address without a port", yaml: "cluster:\n  join: node2\n", code: "BAD_SETTING", message: 'cluster.join: expected host:port, e.g. "127.0.0.1:2221" (IPv6 as "[::1]:2221"), got "node2"' },
    { name: "a bad peer address", yaml: PEERS.replace('raft: "127.0.0.1:1112"', 'raft: "127.0.0.1"'), code: "BAD_SETTING", message: "cluster.peers[1].raft: expected host:port" },
    { name: "a peer without its http address", yaml: "cluster:\n  peers:\n    - { id: node1, raft: 127.0.0.1:1111 }\n", code: "BAD_SETTING", message: "cluster.peers[0].http: missing; expected host:port" },
    { name: "an empty peer list", yaml: "cluster:\n  peers: []\n", code: "BAD_SETTING", message: "cluster.peers: expected a list of { id, raft, http } with at least one entry, got an empty list" },
    { name: "peers as a mapping", yaml: "cluster:\n  peers: { node1: x }\n", code: "BAD_SETTING", message: "cluster.peers: expected a list of { id, raft, http }" },
    { name: "yes for a boolean", yaml: "cluster:\n  joinAsVoter: yes\n", code: "BAD_SETTING", message: 'cluster.joinAsVoter: expected true or false, got "yes"' },
    { name: "a join retry below 10 ms", yaml: "cluster:\n  joinRetry: { initialMs: 1 }\n", code: "BAD_SETTING", message: "cluster.joinRetry.initialMs: expected an integer 10-3600000, got 1" },
    { name: "a duration in words", yaml: "snapshot:\n  interval: soon\n", code: "BAD_SETTING", message: 'snapshot.interval: expected a duration like "250ms", "30s", "5m", "1h", or a number of milliseconds (1ms to 24 days), got "soon"' },
    { name: "a negative duration", yaml: "snapshot:\n  interval: -5\n", code: "BAD_SETTING", message: "snapshot.interval: expected a duration like" },
    { name: "a duration with a space", yaml: "snapshot:\n  interval: 30 s\n", code: "BAD_SETTING", message: 'snapshot.interval: expected a duration like "250ms", "30s", "5m", "1h", or a number of milliseconds (1ms to 24 days), got "30 s"' },
    { name: "a zero threshold", yaml: "snapshot:\n  threshold: 0\n", code: "BAD_SETTING", message: "snapshot.threshold: expected an integer 1-1000000000, got 0" },
    { name: "an unknown log level", yaml: "log:\n  level: verbose\n", code: "BAD_SETTING", message: 'log.level: expected one of debug, info, warn, error, got "verbose" (pontoon.yaml)' },
    { name: "an unknown log format", yaml: "log:\n  format: xml\n", code: "BAD_SETTING", message: "log.format: expected one of text, json" },
    { name: "plugins as one string", yaml: "plugins: kv\n", code: "BAD_SETTING", message: 'plugins: expected a list of plugin names or module paths, got "kv"' },
    { name: "an empty plugin entry", yaml: 'plugins: [""]\n', code: "BAD_SETTING", message: "plugins[0]: expected a built-in plugin name or a path to a plugin module" },
    { name: "a numeric token", yaml: "auth:\n  token: 12345\n", code: "BAD_SETTING", message: "auth.token: expected a token of visible ASCII characters, without spaces (quote it in YAML if it looks like a number), got 12345" },
    { name: "a token with a space", yaml: 'auth:\n  token: "open sesame"\n', code: "BAD_SETTING", message: "auth.token: expected a token of visible ASCII characters" },
    { name: "a section that is not a mapping", yaml: "raft: 5\n", code: "BAD_SETTING", message: "raft: expected a mapping of host, port, advertise, tickMs, electionTicks, heartbeatTicks, got 5" },
    { name: "a section written as a list", yaml: "raft:\n  - port: 1112\n", code: "BAD_SETTING", message: 'raft: expected a mapping of host, port, advertise, tickMs, electionTicks, heartbeatTicks, got a list [{"port":1112}] (pontoon.yaml)' },
    { name: "a nested section written as a list", yaml: "cluster:\n  joinRetry: [500, 1000]\n", code: "BAD_SETTING", message: "cluster.joinRetry: expected a mapping of initialMs, maxMs, got a list [500,1000]" },

    // unknown keys
    { name: "an unknown top-level key", yaml: "raftt:\n  port: 1\n", code: "UNKNOWN_SETTING", message: "raftt: unknown setting (pontoon.yaml); known: node, http, raft, cluster, snapshot, corruptionCheck, plugins, compat, auth, tls, limits, log, kv" },
    { name: "a section of a plugin not in plugins", yaml: "plugins: [kv]\nnaming: {}\n", code: "UNKNOWN_SETTING", message: "naming: unknown setting (pontoon.yaml); known: node, http, raft, cluster, snapshot, corruptionCheck, plugins, compat, auth, tls, limits, log, kv; a plugin's section is allowed only when the plugin is in plugins" },
    { name: "the kv section once kv is not listed", yaml: "plugins: [./mine/index.ts]\nkv: {}\n", code: "UNKNOWN_SETTING", message: "kv: unknown setting (pontoon.yaml); known: node, http, raft, cluster, snapshot, corruptionCheck, plugins, compat, auth, tls, limits, log, mine" },
    { name: "a token's hash that is not 64 hex digits", yaml: "auth:\n  token: cluster-token\n  tokens:\n    - { name: ci, sha256: abc, role: read }\n", code: "BAD_SETTING", message: "auth.tokens[0].sha256: expected the token's SHA-256" },
    { name: "a token's unknown role", yaml: "auth:\n  token: cluster-token\n  tokens:\n    - { name: ci, sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, role: root }\n", code: "BAD_SETTING", message: "role: expected one of read, write, admin" },
    { name: "tokens without the cluster token", yaml: "auth:\n  tokens:\n    - { name: ci, sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, role: read }\n", code: "CONFLICTING_SETTINGS", message: "auth.tokens needs auth.token as well" },
    { name: "two tokens with one name", yaml: "auth:\n  token: cluster-token\n  tokens:\n    - { name: ci, sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, role: read }\n    - { name: ci, sha256: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb, role: read }\n", code: "CONFLICTING_SETTINGS", message: "auth.tokens[1].name: \"ci\" is used by an earlier token" },
    { name: "a short join secret", yaml: "auth:\n  joinSecret: short\n", code: "BAD_SETTING", message: "auth.joinSecret: expected at least 16" },
    { name: "a certificate without its key", yaml: "tls:\n  cert: node.pem\n", code: "CONFLICTING_SETTINGS", message: "tls.cert is set but tls.key is not" },
    { name: "mutual TLS without a CA", yaml: "tls:\n  cert: node.pem\n  key: node.key\n  mutual: true\n", code: "CONFLICTING_SETTINGS", message: "tls.mutual needs tls.cert, tls.key and tls.ca" },
    { name: "a misspelt setting in a section", yaml: "raft:\n  prot: 1112\n", code: "UNKNOWN_SETTING", message: "raft.prot: unknown setting; known here: host, port, advertise, tickMs, electionTicks, heartbeatTicks (pontoon.yaml)" },
    { name: "a misspelt setting in a peer", yaml: "cluster:\n  peers:\n    - { id: node1, raft: 127.0.0.1:1111, htpp: 127.0.0.1:2221 }\n", code: "UNKNOWN_SETTING", message: "cluster.peers[0].htpp: unknown setting; known here: id, raft, http" },
    { name: "a misspelt nested setting", yaml: "cluster:\n  joinRetry: { maxMS: 5 }\n", code: "UNKNOWN_SETTING", message: "cluster.joinRetry.maxMS: unknown setting; known here: initialMs, maxMs" },

    // flags
    { name: "an unknown log level flag", argv: ["--log-level", "verbose"], code: "BAD_FLAG", message: '--log-level: expected one of debug, info, warn, error, got "verbose"' },
    { name: "an unknown log format flag", argv: ["--log-format=xml"], code: "BAD_FLAG", message: '--log-format: expected one of text, json, got "xml"' },
    { name: "an unknown argument", argv: ["--verbose"], code: "BAD_FLAG", message: 'unknown argument "--verbose"; usage: bun src/main.ts [--config FILE.yaml]' },
    { name: "a flag without its value", argv: ["--log-level"], code: "BAD_FLAG", message: "--log-level: needs a value" },
    { name: "a flag followed by another flag", argv: ["--log-level", "--log-format", "json"], code: "BAD_FLAG", message: "--log-level: needs a value" },

    // environment variables: every one of CONTRACT.md
    { name: "SERVER_PORT not a number", env: { SERVER_PORT: "x" }, code: "BAD_ENV", message: 'SERVER_PORT: expected a port number 1-65535, got "x"' },
    { name: "SERVER_PORT zero", env: { SERVER_PORT: "0" }, code: "BAD_ENV", message: 'SERVER_PORT: expected a port number 1-65535, got "0"' },
    { name: "SERVER_PORT too large", env: { SERVER_PORT: "65536" }, code: "BAD_ENV", message: 'SERVER_PORT: expected a port number 1-65535, got "65536"' },
    { name: "SERVER_PORT with a suffix", env: { SERVER_PORT: "2221x" }, code: "BAD_ENV", message: 'SERVER_PORT: expected a port number 1-65535, got "2221x"' },
    { name: "SERVER_HOST with a port", env: { SERVER_HOST: "127.0.0.1:2221" }, code: "BAD_ENV", message: 'SERVER_HOST: expected a host name or IP address, without a port, got "127.0.0.1:2221"' },
    { name: "SERVER_ADVERTISE without a port", env: { SERVER_ADVERTISE: "10.0.0.5" }, code: "BAD_ENV", message: 'SERVER_ADVERTISE: expected host:port, e.g. "127.0.0.1:2221" (IPv6 as "[::1]:2221"), got "10.0.0.5"' },
    { name: "RAFT_NODE_ID with a slash", env: { RAFT_NODE_ID: "rack1/node1" }, code: "BAD_ENV", message: `RAFT_NODE_ID: expected a node id: 1-64 letters, digits, '.', '_' or '-', got "rack1/node1"` },
    { name: "RAFT_PORT not a number", env: { RAFT_PORT: "x" }, code: "BAD_ENV", message: 'RAFT_PORT: expected a port number 1-65535, got "x"' },
    { name: "RAFT_HOST with a space", env: { RAFT_HOST: "my host" }, code: "BAD_ENV", message: 'RAFT_HOST: expected a host name or IP address, without a port, got "my host"' },
    { name: "RAFT_ADVERTISE port out of range", env: { RAFT_ADVERTISE: "10.0.0.5:99999" }, code: "BAD_ENV", message: 'RAFT_ADVERTISE: expected host:port, e.g. "127.0.0.1:2221" (IPv6 as "[::1]:2221"), got "10.0.0.5:99999"' },
    { name: "RAFT_VOL_DIR with a trailing space", env: { RAFT_VOL_DIR: "/var/lib/pontoon " }, code: "BAD_ENV", message: 'RAFT_VOL_DIR: expected a directory path without leading or trailing spaces, got "/var/lib/pontoon "' },
    { name: "RAFT_LEADER without a port", env: { RAFT_LEADER: "node1" }, code: "BAD_ENV", message: 'RAFT_LEADER: expected the HTTP address of a cluster member, host:port, e.g. "127.0.0.1:2221" (IPv6 as "[::1]:2221"), got "node1"' },
    { name: "PONTOON_TOKEN with a space", env: { PONTOON_TOKEN: "open sesame" }, code: "BAD_ENV", message: 'PONTOON_TOKEN: expected a token of visible ASCII characters, without spaces, got "open sesame"' },

    // settings that conflict
    { name: "join and peers both in the file", yaml: `${PEERS}  join: 127.0.0.1:2222\n`, code: "CONFLICTING_SETTINGS", message: "cluster.join and cluster.peers are both set: a new node either bootstraps together with the listed peers or joins an existing cluster. Drop cluster.join to bootstrap with cluster.peers, or drop cluster.peers to join through 127.0.0.1:2222 (pontoon.yaml)" },
    { name: "RAFT_LEADER given to a node with peers", yaml: PEERS, env: { RAFT_LEADER: "127.0.0.1:2222" }, code: "CONFLICTING_SETTINGS", message: "RAFT_LEADER and cluster.peers are both set" },
    { name: "RAFT_LEADER given to a node with peers: which to drop", yaml: PEERS, env: { RAFT_LEADER: "127.0.0.1:2222" }, code: "CONFLICTING_SETTINGS", message: "Drop RAFT_LEADER to bootstrap with cluster.peers, or drop cluster.peers to join through 127.0.0.1:2222" },
    { name: "a peer id listed twice", yaml: PEERS.replace("id: node2", "id: node1"), code: "CONFLICTING_SETTINGS", message: 'cluster.peers[1].id: "node1" is also cluster.peers[0].id; every peer needs its own id (pontoon.yaml)' },
    { name: "a Raft address listed twice", yaml: PEERS.replace("127.0.0.1:1112", "127.0.0.1:1111"), code: "CONFLICTING_SETTINGS", message: 'cluster.peers[1].raft: "127.0.0.1:1111" is also cluster.peers[0].raft; every peer needs its own raft address' },
    { name: "own id missing from peers", yaml: `node:\n  id: node3\n${PEERS}`, code: "CONFLICTING_SETTINGS", message: `cluster.peers: has no entry for this node's id "node3" (node.id); add { id: node3, raft: "host:port", http: "host:port" } to the list, or set node.id to one of node1, node2 (pontoon.yaml)` },
    { name: "own id from RAFT_NODE_ID missing from peers", yaml: PEERS, env: { RAFT_NODE_ID: "node9" }, code: "CONFLICTING_SETTINGS", message: `cluster.peers: has no entry for this node's id "node9" (RAFT_NODE_ID); add { id: node9, raft: "host:port", http: "host:port" } to the list, or set RAFT_NODE_ID to one of node1, node2` },
    { name: "an advertise address that contradicts the node's own peer entry", yaml: `${PEERS}raft:\n  advertise: 10.0.0.1:1111\n`, code: "CONFLICTING_SETTINGS", message: 'raft.advertise is "10.0.0.1:1111" but this node\'s entry cluster.peers[0].raft is "127.0.0.1:1111": peers use the list, so make them the same' },
    { name: "a port that contradicts the node's own peer entry", yaml: PEERS, env: { RAFT_PORT: "1200" }, code: "CONFLICTING_SETTINGS", message: 'cluster.peers[0].raft is "127.0.0.1:1111" but this node listens on 127.0.0.1:1200 (RAFT_PORT); make them the same' },
    { name: "HTTP and Raft on one port (file)", yaml: "http:\n  port: 1111\n", code: "CONFLICTING_SETTINGS", message: "http.port and raft.port are both 1111 on 127.0.0.1: HTTP and Raft each need their own port; change one (pontoon.yaml)" },
    { name: "HTTP and Raft on one port (environment)", yaml: "", env: { SERVER_PORT: "7000", RAFT_PORT: "7000" }, code: "CONFLICTING_SETTINGS", message: "SERVER_PORT and RAFT_PORT are both 7000 on 127.0.0.1: HTTP and Raft each need their own port; change one" },
    { name: "HTTP on every interface and Raft on loopback, one port", yaml: "http:\n  host: 0.0.0.0\n  port: 1111\n", code: "CONFLICTING_SETTINGS", message: "http.port and raft.port are both 1111" },
    { name: "heartbeats no more often than elections", yaml: "raft:\n  electionTicks: 3\n  heartbeatTicks: 3\n", code: "CONFLICTING_SETTINGS", message: "raft.heartbeatTicks: must be less than raft.electionTicks (3), got 3" },
    { name: "a join retry ceiling below its start", yaml: "cluster:\n  joinRetry: { initialMs: 5000, maxMs: 1000 }\n", code: "CONFLICTING_SETTINGS", message: "cluster.joinRetry.maxMs: must be at least cluster.joinRetry.initialMs (5000), got 1000" },
  ];

  for (const c of cases) {
    it(`names the cause: ${c.name}`, () => {
      const error = errorOf(() => load(c.yaml ?? "", { env: c.env, argv: c.argv }));
      expect(error.message).toContain(c.message);
      expect(error.code).toBe(c.code);
      // One line: main.ts prints it as the process's last words.
      expect(error.message).not.toContain("\n");
    });
  }

  it("names an error exactly as the issue shows it", () => {
    const dir = join(root, "exact");
    mkdirSync(join(dir, "config"), { recursive: true });
    writeFileSync(join(dir, "config/pontoon.yaml"), "raft:\n  port: abc\n");
    const error = errorOf(() => loadConfig({ argv: ["--config", "config/pontoon.yaml"], env: {}, cwd: dir }));
    expect(error.message).toBe('raft.port: expected an integer 1-65535, got "abc" (config/pontoon.yaml)');
    expect(error.at).toBe("raft.port");
  });

  it("names a file outside the working directory by its absolute path", () => {
    const dir = join(root, "outside");
    mkdirSync(dir);
    writeFileSync(join(dir, "node.yaml"), "http:\n  port: x\n");
    const error = errorOf(() => loadConfig({ argv: [`--config=${join(dir, "node.yaml")}`], env: {}, cwd: join(root, "elsewhere") }));
    expect(error.message).toBe(`http.port: expected an integer 1-65535, got "x" (${join(dir, "node.yaml")})`);
  });
});

describe("loadConfig builds the config", () => {
  it("lays every environment variable over the file, and the flags over the file", () => {
    const { config, file, flags } = load(
      `
node:
  id: from-file
  dataDir: ./state
http:
  port: 3001
  maxBodyBytes: 4096
raft:
  tickMs: 20
  electionTicks: 20
  heartbeatTicks: 2
cluster:
  joinAsVoter: false
snapshot:
  threshold: 100
  interval: 5m
plugins: [kv]
kv:
  maxValueBytes: 2048
auth:
  token: from-file
log:
  level: warn
`,
      {
        argv: ["--log-format", "json", "--log-level=debug"],
        env: {
          SERVER_PORT: "4001",
          SERVER_HOST: "0.0.0.0",
          SERVER_ADVERTISE: "10.0.0.5:4001",
          RAFT_NODE_ID: "node-7",
          RAFT_PORT: "5001",
          RAFT_HOST: "::",
          RAFT_ADVERTISE: "[fd00::5]:5001",
          RAFT_VOL_DIR: "/var/lib/pontoon/node-7",
          RAFT_LEADER: "10.0.0.1:2221",
          PONTOON_TOKEN: "s3cret-token",
          PONTOON_JOIN_SECRET: "join-secret-0123456789",
          UNRELATED: "ignored",
        },
      },
    );
    expect(file).toBe(join(root, `case-${caseNumber}`, "pontoon.yaml"));
    expect(flags).toEqual({ config: "pontoon.yaml", logFormat: "json", logLevel: "debug" });
    expect(config).toEqual({
      node: { id: "node-7", dataDir: "/var/lib/pontoon/node-7" },
      http: { host: "0.0.0.0", port: 4001, advertise: "10.0.0.5:4001", maxBodyBytes: 4096 },
      raft: { host: "::", port: 5001, advertise: "[fd00::5]:5001", tickMs: 20, electionTicks: 20, heartbeatTicks: 2 },
      cluster: { join: "10.0.0.1:2221", joinRetry: { initialMs: 500, maxMs: 10_000 }, joinAsVoter: false },
      snapshot: { threshold: 100, interval: "5m", retain: 2, trailingLogs: 10_240 },
      corruptionCheck: { interval: "5m" },
      plugins: ["kv"],
      compat: { consul: { port: 0 } },
      kv: { maxValueBytes: 2048 },
      auth: { token: "s3cret-token", joinSecret: "join-secret-0123456789", tokens: [] },
      tls: { mutual: false },
      limits: { requestsPerSecond: 0, burst: 100, watchersPerClient: 1024 },
      log: { level: "debug", format: "json" },
    } as unknown as typeof config);
  });

  it("fills every default for an empty file, resolves dataDir against the working directory, and advertises the bound addresses", () => {
    const { config } = load("");
    expect(config).toEqual({
      node: { id: "node1", dataDir: join(root, `case-${caseNumber}`, "data") },
      http: { host: "127.0.0.1", port: 2221, advertise: "127.0.0.1:2221", maxBodyBytes: 2_097_152 },
      raft: { host: "127.0.0.1", port: 1111, advertise: "127.0.0.1:1111", tickMs: 50, electionTicks: 10, heartbeatTicks: 1 },
      cluster: { joinRetry: { initialMs: 500, maxMs: 10_000 }, joinAsVoter: true },
      snapshot: { threshold: 8192, interval: "30s", retain: 2, trailingLogs: 10_240 },
      corruptionCheck: { interval: "5m" },
      plugins: ["kv"],
      compat: { consul: { port: 0 } },
      auth: { tokens: [] },
      tls: { mutual: false },
      limits: { requestsPerSecond: 0, burst: 100, watchersPerClient: 1024 },
      log: { level: "info", format: "text" },
    });
  });

  it("treats an empty environment variable as unset", () => {
    const empty = Object.fromEntries(["SERVER_PORT", "RAFT_NODE_ID", "RAFT_LEADER", "PONTOON_TOKEN", "RAFT_VOL_DIR"].map((name) => [name, ""]));
    const { config } = load("node:\n  id: kept\n", { env: empty });
    expect(config.node.id).toBe("kept");
    expect(config.http.port).toBe(2221);
    expect(config.cluster.join).toBeUndefined();
    expect(config.auth.token).toBeUndefined();
  });

  it("reads a section whose settings are all commented out as that section's defaults", () => {
    const { config } = load("raft:\n  # port: 1200\nauth:\n  # token: x\n");
    expect(config.raft.port).toBe(1111);
    expect(config.auth).toEqual({ tokens: [] });
  });

  it("advertises this node's own cluster.peers entry when no advertise address is set", () => {
    const { config } = load(`raft:\n  host: 0.0.0.0\nhttp:\n  host: 0.0.0.0\n${PEERS.replaceAll("127.0.0.1", "10.0.0.1")}`);
    expect(config.raft.advertise).toBe("10.0.0.1:1111");
    expect(config.http.advertise).toBe("10.0.0.1:2221");
  });

  it("keeps a user plugin's section, named after its module", () => {
    const { config } = load("plugins: [kv, ./plugins/counter/index.ts, ../shared/audit.ts]\ncounter: { step: 2 }\naudit: { keep: 10 }\n");
    const sections = config as unknown as Record<string, unknown>;
    expect(sections.counter).toEqual({ step: 2 });
    expect(sections.audit).toEqual({ keep: 10 });
    expect(sections.kv).toBeUndefined();
  });

  it("derives a plugin's section name from its plugins entry", () => {
    const table: [string, string][] = [
      ["kv", "kv"],
      ["./plugins/counter/index.ts", "counter"],
      ["/abs/path/audit.js", "audit"],
      ["plugins/naming", "naming"],
    ];
    for (const [entry, section] of table) expect(pluginSectionName(entry)).toBe(section);
  });
});

describe("the shipped config files", () => {
  const projectRoot = resolve(import.meta.dir, "../..");

  it("config/pontoon.yaml is read by default, from any working directory, and holds exactly the schema's defaults", () => {
    const { config, file } = loadConfig({ argv: [], env: {}, cwd: root });
    expect(file).toBe(DEFAULT_CONFIG_FILE);
    expect(file).toBe(join(projectRoot, "config/pontoon.yaml"));
    const defaults = defaultConfig();
    expect(config).toEqual({
      ...defaults,
      node: { ...defaults.node, dataDir: join(root, "data") },
      http: { ...defaults.http, advertise: "127.0.0.1:2221" },
      raft: { ...defaults.raft, advertise: "127.0.0.1:1111" },
      kv: { maxValueBytes: 1_048_576, history: 10 },
    } as typeof config);
  });

  it("config/cluster/node1-3.yaml describe one three-node cluster on 127.0.0.1", () => {
    const loaded = [1, 2, 3].map((n) => loadConfig({ argv: ["--config", `config/cluster/node${n}.yaml`], env: {}, cwd: projectRoot }).config);
    for (const [i, config] of loaded.entries()) {
      const n = i + 1;
      expect(config.node).toEqual({ id: `node${n}`, dataDir: join(projectRoot, `data/node${n}`) });
      expect([config.http.host, config.http.port, config.raft.host, config.raft.port]).toEqual(["127.0.0.1", 2220 + n, "127.0.0.1", 1110 + n]);
      expect(config.cluster.peers).toEqual(loaded[0]!.cluster.peers!);
    }
    expect(loaded[0]!.cluster.peers).toEqual([
      { id: "node1", raft: "127.0.0.1:1111", http: "127.0.0.1:2221" },
      { id: "node2", raft: "127.0.0.1:1112", http: "127.0.0.1:2222" },
      { id: "node3", raft: "127.0.0.1:1113", http: "127.0.0.1:2223" },
    ]);
  });
});
