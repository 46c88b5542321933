// The ipvs plugin's page: the replicated virtual services with their real
// servers, each member's apply status (its reconciler, asked through
// GET /v1/cluster/each by the page's own node, the only one it may talk to,
// so the statuses keep coming while there is no leader), and the
// table as `ipvsadm-save -n` text both ways: import (the API's refusal shown
// as worded) and export. ipvs has no blocking query or watch, so the page
// polls.

import { call, callJson } from "../api.ts";
import { h, labelled, type El } from "../dom.ts";
import { liveRead, type LiveRead } from "../live.ts";
import { confirmAction, errorParts, Notice, type View } from "../widgets.ts";

interface Server {
  address: string;
  port: number;
  weight: number;
  forwarding: string;
  upperThreshold: number;
  lowerThreshold: number;
  check: { type: string } | null;
  healthy: boolean;
}

interface Service {
  id: string;
  scheduler: string;
  persistent: number | null;
  flags: string[];
  modifyIndex: number;
  servers: Server[];
}

interface ReconcilerStatus {
  node: string;
  mode: "off" | "apply" | "dry-run";
  lastAppliedIndex: number | null;
  lastRunAt: string | null;
  lastCommands: string[];
  lastError: { code: string; message: string; at: string } | null;
}

interface MemberAnswer {
  id: string;
  http: string | null;
  status: number | null;
  body: unknown;
  error: string | null;
}

const POLL_MS = 2000;
const FORWARDING: Record<string, string> = { masq: "masq (NAT)", route: "route (direct)", tunnel: "tunnel (IPIP)" };

export function ipvsPage(): View {
  const notice = new Notice();
  const live = h("p", { class: "live", text: "Connecting…" });
  const services = h("div", { class: "ipvs-services" });
  const nodes = h("tbody");
  const summary = h("p", { class: "meta" });
  const report = (target: Notice) => ({
    error: (error: unknown) => {
      live.className = "live retrying";
      target.error(error);
    },
    ok: () => {
      live.className = "live open";
      live.textContent = `Live · every ${POLL_MS / 1000} s · updated ${new Date().toLocaleTimeString()}`;
    },
  });
  const statusNotice = new Notice();

  const loops: LiveRead[] = [
    liveRead(async (signal) => {
      const answer = await callJson<{ index: number; services: Service[] }>("GET", "/v1/ipvs/services", { signal });
      const servers = answer.services.reduce((n, s) => n + s.servers.length, 0);
      summary.textContent = `${answer.services.length} virtual service${answer.services.length === 1 ? "" : "s"}, ${servers} real server${servers === 1 ? "" : "s"} · read at index ${answer.index}`;
      services.replaceChildren(...(answer.services.length ? answer.services.map(serviceCard) : [h("p", { class: "hint", text: "The table is empty." })]));
      notice.clear();
    }, report(notice), POLL_MS),
    liveRead(async (signal) => {
      const answer = await callJson<{ members: MemberAnswer[] }>("GET", `/v1/cluster/each?path=${encodeURIComponent("/v1/ipvs/status")}&consistency=stale`, { signal });
      nodes.replaceChildren(...answer.members.map(nodeRow));
      statusNotice.clear();
    }, report(statusNotice), POLL_MS),
  ];

  const el = h(
    "section",
    { class: "view ipvs" },
    h("div", { class: "title" }, h("h1", { text: "IPVS" }), live),
    summary,
    notice.el,
    services,
    h("h2", { text: "Apply status by node" }),
    h("p", { class: "hint", text: "Each member's reconciler, as the member itself reports it (GET /v1/ipvs/status on each): whether it makes its kernel's table match, and the table index it last matched." }),
    statusNotice.el,
    h("div", { class: "scroll" }, h("table", { class: "ipvs-nodes cards" }, h("thead", {}, h("tr", {}, ...["Node", "Mode", "Matched index", "Last run", "Last commands", "Last error"].map((c) => h("th", { text: c })))), nodes)),
    saveText(),
  );
  return { el, dispose: () => loops.forEach((loop) => loop.close()) };
}

function serviceCard(s: Service): El {
  const settings = [`scheduler ${s.scheduler}`, s.persistent === null ? null : `persistent ${s.persistent} s`, s.flags.length ? `flags ${s.flags.join(",")}` : null].filter(Boolean).join(" · ");
  const cell = (label: string, value: El | string, cls = "") => h("td", { attrs: { "data-label": label }, class: cls }, value);
  const rows = s.servers.map((r) =>
    h(
      "tr",
      { attrs: { "data-server": `${r.address}:${r.port}` } },
      cell("Real server", h("code", { text: r.address.includes(":") ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}` })),
      cell("Forwarding", FORWARDING[r.forwarding] ?? r.forwarding),
      cell("Weight", String(r.weight), "weight"),
      // The kernel's weight: 0 while a health check fails (ipvs's store), the configured one otherwise.
      cell("Effective weight", String(r.healthy ? r.weight : 0), "effective"),
      cell("Health", r.check === null ? "no check" : h("span", { class: `health ${r.healthy ? "passing" : "critical"}`, text: r.healthy ? `healthy (${r.check.type})` : `failing (${r.check.type}): weight 0` })),
      cell("Thresholds", r.upperThreshold || r.lowerThreshold ? `${r.lowerThreshold}–${r.upperThreshold}` : "—"),
    ),
  );
  return h(
    "article",
    { class: "card ipvs-service", attrs: { "data-service": s.id } },
    h("h3", {}, h("code", { text: s.id }), " ", h("span", { class: "meta", text: `${settings} · version ${s.modifyIndex}` })),
    rows.length
      ? h("div", { class: "scroll" }, h("table", { class: "cards" }, h("thead", {}, h("tr", {}, ...["Real server", "Forwarding", "Weight", "Effective weight", "Health", "Thresholds"].map((c) => h("th", { text: c })))), h("tbody", {}, ...rows)))
      : h("p", { class: "hint", text: "No real servers." }),
  );
}

function nodeRow(m: MemberAnswer): El {
  const cell = (label: string, value: El | string, cls = "") => h("td", { attrs: { "data-label": label }, class: cls }, value);
  const status = m.status === 200 ? (m.body as ReconcilerStatus) : null;
  if (!status) {
    const why = m.error ?? (typeof m.body === "object" && m.body !== null && "error" in m.body ? `${(m.body as { error: { code: string; message: string } }).error.code} ${(m.body as { error: { message: string } }).error.message}` : `answered ${m.status}`);
    return h("tr", { class: "down", attrs: { "data-node": m.id } }, cell("Node", h("strong", { text: m.id })), h("td", { text: `no status: ${why}`, attrs: { colspan: "5", "data-label": "Status" } }));
  }
  const mode = { off: "off (ipvs.apply: false): leaves its kernel alone", apply: "apply", "dry-run": "dry-run: logs the commands" }[status.mode] ?? status.mode;
  return h(
    "tr",
    { attrs: { "data-node": m.id, "data-mode": status.mode } },
    cell("Node", h("strong", { text: m.id })),
    cell("Mode", mode, "mode"),
    cell("Matched index", status.lastAppliedIndex === null ? "—" : String(status.lastAppliedIndex)),
    cell("Last run", status.lastRunAt ?? "never"),
    cell("Last commands", status.lastCommands.length ? h("pre", { class: "commands", text: status.lastCommands.join("\n") }) : "—"),
    cell("Last error", status.lastError ? h("span", { class: "error" }, h("code", { text: status.lastError.code }), ` ${status.lastError.message}`) : "none"),
  );
}

/** Import and export of `ipvsadm-save -n` text. */
function saveText(): El {
  const notice = new Notice();
  const text = h("textarea", { attrs: { name: "save", rows: "8", spellcheck: "false", placeholder: "-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1" } });
  const replace = h("input", { type: "checkbox", checked: true, attrs: { name: "replace" } });
  const exported = h("div", { class: "export" });

  const importText = async (): Promise<void> => {
    const mode = replace.checked ? "replaces the whole table with this text" : "adds these services to the table (one already there is refused)";
    if (!(await confirmAction("Import", `This ${mode}, on every node, in one replicated command.`, "Import", replace.checked))) return;
    try {
      const result = await callJson<{ index: number; services: number; servers: number }>("POST", `/v1/ipvs/import?replace=${replace.checked}`, { body: text.value, headers: { "content-type": "text/plain" } });
      notice.ok(`Imported ${result.services} service${result.services === 1 ? "" : "s"} and ${result.servers} real server${result.servers === 1 ? "" : "s"} at index ${result.index}.`);
    } catch (error) {
      notice.error(error);
    }
  };
  const exportText = async (): Promise<void> => {
    try {
      const response = await call("GET", "/v1/ipvs/export");
      const saved = await response.text();
      const index = response.headers.get("x-pontoon-index") ?? "?";
      const download = h("a", { text: "Download ipvsadm-save.txt", attrs: { href: `data:text/plain;charset=utf-8,${encodeURIComponent(saved)}`, download: `ipvsadm-save-${index}.txt` } });
      exported.replaceChildren(h("p", { class: "meta" }, `The table at index ${index}, as ipvsadm-save -n prints it (for ipvsadm-restore). `, download), h("pre", { class: "saved", text: saved || "(the table is empty)" }));
    } catch (error) {
      exported.replaceChildren(h("p", { class: "notice error" }, ...errorParts(error)));
    }
  };
  return h(
    "div",
    { class: "card save-text" },
    h("h2", { text: "ipvsadm-save text" }),
    notice.el,
    labelled("Table to import (ipvsadm-save -n)", text),
    h(
      "div",
      { class: "toolbar" },
      labelled("Replace the whole table", replace),
      h("button", { text: "Import…", type: "button", class: "primary", on: { click: () => void importText() } }),
      h("button", { text: "Export", type: "button", on: { click: () => void exportText() } }),
    ),
    exported,
  );
}
