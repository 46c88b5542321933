// One Pontoon node, started by `bun src/main.ts [--config FILE.yaml]`. Turns the YAML and
// the environment into a running node, and exits as CONTRACT.md says: 0
// after a clean shutdown on SIGTERM/SIGINT; non-zero with one line on stderr
// for bad config, a port in use or an unreadable data directory.

import { dirname } from "node:path";
import { AccessPolicy } from "./api/access.ts";
import { ConfigError } from "./config/errors.ts";
import { loadConfig, shownPath } from "./config/load.ts";
import { watchConfig } from "./config/watch.ts";
import { checkTokenPlugins } from "./config/consistency.ts";
import { readTlsFiles, type TlsMaterial } from "./config/tls-files.ts";
import { configurePlugins, loadPlugins } from "./fsm/plugin-loader.ts";
import type { HostedPlugin } from "./fsm/plugin-host.ts";
import type { AnyPluginDefinition } from "./fsm/sdk.ts";
import { createLogger } from "./log/logger.ts";
import { PontoonNode } from "./server/pontoon-node.ts";
import { dataFaultMessage } from "./storage/data-fault.ts";
import { durationMs } from "./config/duration.ts";
import packageJson from "../package.json" with { type: "json" };

function fail(message: string, code = 1): never {
  process.stderr.write(`pontoon: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ argv: process.argv.slice(2), env: process.env, cwd: process.cwd() });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2);
    throw error;
  }
  const { config, file, flags } = loaded;
  const logger = createLogger({ node: config.node.id, level: config.log.level, format: config.log.format });

  let definitions: AnyPluginDefinition[];
  let plugins: HostedPlugin[];
  try {
    definitions = await loadPlugins(config.plugins, dirname(file), (i) => `plugins[${i}] (${file})`);
    plugins = configurePlugins(definitions, config, shownPath(file, process.cwd()));
    checkTokenPlugins(config, pluginNames(definitions), shownPath(file, process.cwd()));
  } catch (error) {
    fail((error as Error).message, 2);
  }

  let tls: TlsMaterial | undefined;
  try {
    tls = readTlsFiles(config.tls);
  } catch (error) {
    fail((error as Error).message, 2);
  }
  let access = new AccessPolicy(config.auth);
  let limits = config.limits;
  // loadConfig fills both in (from cluster.peers or the bound host and port).
  const httpAdvertise = config.http.advertise!;
  const raftAdvertise = config.raft.advertise!;
  let node: PontoonNode;
  try {
    node = await PontoonNode.start({
      id: config.node.id,
      dataDir: config.node.dataDir,
      http: { host: config.http.host, port: config.http.port, advertise: httpAdvertise, maxBodyBytes: config.http.maxBodyBytes },
      raft: { host: config.raft.host, port: config.raft.port, advertise: raftAdvertise, tickMs: config.raft.tickMs, electionTicks: config.raft.electionTicks, heartbeatTicks: config.raft.heartbeatTicks },
      cluster: { peers: config.cluster.peers, join: config.cluster.join, joinAsVoter: config.cluster.joinAsVoter, joinRetry: config.cluster.joinRetry },
      snapshot: { threshold: config.snapshot.threshold, intervalMs: durationMs(config.snapshot.interval), retain: config.snapshot.retain, trailingLogs: config.snapshot.trailingLogs },
      plugins,
      // 0 turns the periodic check off (durations are otherwise at least 1 ms).
      corruptionCheckIntervalMs: config.corruptionCheck.interval === 0 ? 0 : durationMs(config.corruptionCheck.interval),
      access: () => access,
      limits: () => limits,
      consulPort: config.compat.consul.port,
      ...(tls ? { tls } : {}),
      logger,
      version: packageJson.version,
    });
  } catch (error) {
    fail(startupFailure(error, config.node.dataDir));
  }

  const watcher = watchConfig(
    file,
    (change) => {
      if (change.error) {
        logger.warn("the edited config is invalid; keeping the running one", { error: change.error });
        return;
      }
      const next = change.config!;
      logger.setLevel(next.log.level);
      access = new AccessPolicy(next.auth);
      limits = next.limits;
      node.raft.setSnapshotPolicy({ threshold: next.snapshot.threshold, intervalMs: durationMs(next.snapshot.interval), trailingLogs: next.snapshot.trailingLogs });
      if (change.live.length > 0) logger.info("config reloaded", { applied: change.live });
      if (change.restartNeeded.length > 0) logger.warn("config changed; these settings take effect after a restart", { settings: change.restartNeeded });
    },
    { initial: config, env: process.env, cwd: process.cwd(), flags, check: (next) => {
        configurePlugins(definitions, next, shownPath(file, process.cwd()));
        checkTokenPlugins(next, pluginNames(definitions), shownPath(file, process.cwd()));
      },
    },
  );

  let exiting = false;
  const stop = async (signal: string): Promise<void> => {
    if (exiting) return;
    exiting = true;
    logger.info("stopping on signal", { signal });
    await watcher.close();
    await node.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  node.onFatal((error) => {
    logger.error("the node cannot continue; exiting", { error: String(error) });
    void watcher.close().finally(() => process.exit(1));
  });
}

const pluginNames = (definitions: AnyPluginDefinition[]): string[] => definitions.map((d) => d.name);

/** One line an operator can act on, for what can go wrong while starting. */
function startupFailure(error: unknown, dataDir: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code ?? "";
  const fault = dataFaultMessage(error, dataDir);
  if (fault) return `cannot start: ${fault}`;
  if (code === "EADDRINUSE" || /address already in use|EADDRINUSE|in use/i.test(message)) return `a port is already in use: ${message}; pick another port or stop the process using it`;
  if (code === "EACCES" || code === "EROFS" || /EACCES|permission denied|read-only/i.test(message)) return `cannot use data directory ${dataDir}: ${message}`;
  return `cannot start: ${message}`;
}

await main();
