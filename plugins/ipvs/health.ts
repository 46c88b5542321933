// Real-server health checks, run by the leader alone (leaderTask): each
// check runs on its own interval; when a server fails `fall` times in a row
// the leader proposes it down, and after `rise` successes up again. Only a
// change of verdict is replicated, and every node's reconciler then gives
// the kernel weight 0 (or the configured weight back).

import { connect } from "node:net";
import { joinHostPort } from "./address.ts";
import type { IpvsRuntime } from "./commands.ts";
import type { HealthCheck } from "./model.ts";
import { listServices } from "./store.ts";

/** Whether `address` passes `check` now. Never throws: a failure to connect or answer is a failed check. */
export async function probe(address: string, check: HealthCheck): Promise<boolean> {
  return check.type === "tcp" ? probeTcp(address, check) : probeHttp(address, check);
}

function probeTcp(address: string, check: HealthCheck): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port: check.port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), check.timeoutMs);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

async function probeHttp(address: string, check: HealthCheck): Promise<boolean> {
  try {
    const response = await fetch(`http://${joinHostPort(address, check.port)}${check.path ?? "/"}`, { signal: AbortSignal.timeout(check.timeoutMs), redirect: "manual" });
    if (response.status !== check.status) {
      await response.body?.cancel();
      return false;
    }
    return check.body === null || new RegExp(check.body).test(await response.text());
  } catch {
    return false;
  }
}

interface Probe {
  /** The check as configured when counting began: a changed check counts afresh. */
  check: string;
  failures: number;
  successes: number;
  startedAt: number;
  inFlight: boolean;
}

interface Memory {
  probes: Map<string, Probe>;
  lastRun: number;
}

/** Per node (the runtime is one object per plugin per node). */
const memories = new WeakMap<object, Memory>();

/** The leader task runs every this many ms; checks have their own intervals on top. */
export const HEALTH_TICK_MS = 250;

/**
 * One turn of the leader's checking: start the checks that are due (they run
 * on past this turn), and propose the verdicts that the counts now call for.
 */
export async function runHealthChecks(ipvs: IpvsRuntime): Promise<void> {
  const now = Date.now();
  let memory = memories.get(ipvs);
  // A gap means this node stopped leading for a while: what it counted then says nothing of now.
  if (!memory || now - memory.lastRun > 10 * HEALTH_TICK_MS) memories.set(ipvs, (memory = { probes: new Map(), lastRun: now }));
  memory.lastRun = now;
  const targets = ipvs.peek((db) =>
    listServices(db).flatMap((service) => service.servers.filter((s) => s.check !== null).map((server) => ({ serviceId: service.id, server }))),
  );
  const seen = new Set<string>();
  const changes: { serviceId: string; address: string; port: number; healthy: boolean }[] = [];
  for (const { serviceId, server } of targets) {
    const check = server.check!;
    const key = `${serviceId} ${server.address} ${server.port}`;
    seen.add(key);
    const configured = JSON.stringify(check);
    let p = memory.probes.get(key);
    if (!p || p.check !== configured) memory.probes.set(key, (p = { check: configured, failures: 0, successes: 0, startedAt: -Infinity, inFlight: false }));
    if (server.healthy && p.failures >= check.fall) changes.push({ serviceId, address: server.address, port: server.port, healthy: false });
    else if (!server.healthy && p.successes >= check.rise) changes.push({ serviceId, address: server.address, port: server.port, healthy: true });
    if (!p.inFlight && now - p.startedAt >= check.intervalMs) {
      const counting = p;
      counting.inFlight = true;
      counting.startedAt = now;
      void probe(server.address, check).then((ok) => {
        counting.inFlight = false;
        if (ok) {
          counting.successes++;
          counting.failures = 0;
        } else {
          counting.failures++;
          counting.successes = 0;
        }
      });
    }
  }
  for (const key of memory.probes.keys()) if (!seen.has(key)) memory.probes.delete(key);
  if (changes.length > 0) await ipvs.write("setHealth", { changes });
}
