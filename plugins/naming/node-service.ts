// What the naming plugin runs on every node (its nodeService): it notes when
// this node becomes leader, where the heartbeat memory's grace starts, and,
// with naming.dns.port set, answers DNS (dns-service.ts).

import type { NodeService, NodeServiceContext } from "../../src/fsm/sdk.ts";
import type { NamingRuntime } from "./commands.ts";
import { startDns } from "./dns-service.ts";
import { leaderMemory } from "./heartbeats.ts";

/** How often the role is looked at: a leadership stretch begins within this of the election (the leader task's own grace is longer). */
const ROLE_POLL_MS = 50;

export async function namingNodeService(naming: NamingRuntime, node: NodeServiceContext): Promise<NodeService> {
  const memory = leaderMemory(naming);
  let leading = false;
  const watch = setInterval(() => {
    const now = node.isLeader();
    if (now && !leading) memory.leaderSince = Date.now();
    leading = now;
  }, ROLE_POLL_MS);
  if (naming.config.dns.port === 0) return { stop: () => clearInterval(watch) };
  let dns: { port: number; close(): void };
  try {
    dns = await startDns(naming);
  } catch (error) {
    clearInterval(watch);
    throw error;
  }
  node.log.info("dns responder listening", { address: `${naming.config.dns.host}:${dns.port}`, domain: naming.config.dns.domain });
  return {
    stop() {
      clearInterval(watch);
      dns.close();
    },
  };
}
