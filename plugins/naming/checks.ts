// Active health checks, as Consul and Nacos run them: per instance, an HTTP
// GET (a status, optionally a text in the body) or a TCP connect, every
// interval, within a timeout. Only the leader probes; each result lives in its
// memory, and only a result that differs from the replicated status becomes a
// change (so a steady check costs no Raft entry at all).

import type { CheckSpec, HealthStatus, NamingRuntime } from "./commands.ts";
import { instanceKey, type LeaderMemory } from "./heartbeats.ts";
import { catalogIndex, checkRows } from "./store.ts";

export interface CheckResult {
  status: HealthStatus;
  output: string;
}

export interface CheckChange {
  service: string;
  id: string;
  ifIndex: number;
  check: CheckResult;
}

/** Probes in flight at once; a due check waits for the next sweep beyond this. */
const MAX_IN_FLIGHT = 256;

/** Starts the checks that are due and returns the results that differ from the replicated status. */
export function dueCheckChanges(plugin: NamingRuntime, memory: LeaderMemory, now: number): CheckChange[] {
  // Check rows change only with the catalog index (see sweep.ts): no query per sweep while nothing changes.
  const rows = plugin.peek((db) => {
    const at = catalogIndex(db);
    if (memory.checkRows?.at !== at) memory.checkRows = { at, rows: checkRows(db) };
    return memory.checkRows.rows;
  });
  const changes: CheckChange[] = [];
  const live = new Set<string>();
  for (const row of rows) {
    const key = instanceKey(row.service, row.id);
    live.add(key);
    let state = memory.checks.get(key);
    if (!state || state.spec !== row.check_spec) {
      // A new or changed check: its old results say nothing about this one.
      state = { spec: row.check_spec, nextAt: now, running: false, result: undefined };
      memory.checks.set(key, state);
    }
    if (state.result && state.result.status !== row.check_status) changes.push({ service: row.service, id: row.id, ifIndex: row.modify_index, check: state.result });
    if (!state.running && now >= state.nextAt && memory.probesInFlight < MAX_IN_FLIGHT) {
      const spec = JSON.parse(row.check_spec) as CheckSpec;
      const s = state;
      s.running = true;
      s.nextAt = now + spec.intervalMs;
      memory.probesInFlight++;
      void probe(spec).then((result) => {
        memory.probesInFlight--;
        s.running = false;
        s.result = result;
      });
    }
  }
  if (memory.checks.size > live.size) {
    for (const key of memory.checks.keys()) if (!live.has(key)) memory.checks.delete(key);
  }
  return changes;
}

/** One probe; never rejects. */
export async function probe(spec: CheckSpec): Promise<CheckResult> {
  try {
    return spec.type === "http" ? await probeHttp(spec) : await probeTcp(spec.address, spec.timeoutMs);
  } catch (error) {
    return { status: "critical", output: String((error as Error).message ?? error).slice(0, 1024) };
  }
}

async function probeHttp(spec: Extract<CheckSpec, { type: "http" }>): Promise<CheckResult> {
  let response: Response;
  try {
    response = await fetch(spec.url, { signal: AbortSignal.timeout(spec.timeoutMs), redirect: "manual", headers: { "user-agent": "pontoon-health-check" } });
  } catch (error) {
    const timedOut = (error as { name?: string }).name === "TimeoutError";
    return { status: "critical", output: `GET ${spec.url}: ${timedOut ? `no answer within ${spec.timeoutMs} ms` : String((error as Error).message ?? error)}`.slice(0, 1024) };
  }
  const statusOk = spec.status === undefined ? response.status >= 200 && response.status < 300 : response.status === spec.status;
  const body = await response.text().catch(() => "");
  const line = `GET ${spec.url}: ${response.status} ${response.statusText}`;
  if (!statusOk) return { status: "critical", output: `${line} (expected ${spec.status ?? "2xx"})`.slice(0, 1024) };
  if (spec.body !== undefined && !body.includes(spec.body)) return { status: "critical", output: `${line}, but the body does not contain ${JSON.stringify(spec.body)}`.slice(0, 1024) };
  return { status: "passing", output: line.slice(0, 1024) };
}

function probeTcp(address: string, timeoutMs: number): Promise<CheckResult> {
  const cut = address.lastIndexOf(":");
  const hostname = address.slice(0, cut).replace(/^\[(.*)\]$/, "$1");
  const port = Number(address.slice(cut + 1));
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => finish({ status: "critical", output: `TCP ${address}: no connection within ${timeoutMs} ms` }), timeoutMs);
    Bun.connect({
      hostname,
      port,
      socket: {
        open(socket) {
          socket.end();
          finish({ status: "passing", output: `TCP ${address}: connected` });
        },
        data() {},
        error(_socket, error) {
          finish({ status: "critical", output: `TCP ${address}: ${error.message}` });
        },
        connectError(_socket, error) {
          finish({ status: "critical", output: `TCP ${address}: ${error.message}` });
        },
      },
    }).catch((error: unknown) => finish({ status: "critical", output: `TCP ${address}: ${String((error as Error).message ?? error)}` }));
  });
}
