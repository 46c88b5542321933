// The naming plugin's page: its services, and one service's instances with
// their health and TTL countdown, and its routing rules, kept live by
// naming's blocking queries (?index=N&wait=...).
//
// The countdown comes from the leader: heartbeats are kept in its memory, not
// replicated, so only it knows when an instance last renewed. Each answer
// carries its `ttlClock` (time left by the leader's clock when it answered);
// between answers the page counts down from there by its own clock, and a
// short wait keeps fetching a fresh one, since a heartbeat changes nothing
// replicated and so never wakes a blocking query.

import { ApiFailure, call, callJson } from "../api.ts";
import { h, type El } from "../dom.ts";
import { liveRead, type LiveRead } from "../live.ts";
import { errorParts, Notice, type View } from "../widgets.ts";
import type { Rules as NamingRules } from "../../../../plugins/naming/commands.ts";
import type { TtlClock } from "../../../../plugins/naming/heartbeats.ts";
import type { present } from "../../../../plugins/naming/routes.ts";
import type { ServiceSummary } from "../../../../plugins/naming/store.ts";

// The plugin's own types, as its routes answer them (types only: the page bundle holds no server code).
type Instance = ReturnType<typeof present> & { ttlClock: TtlClock | null };
type Rules = NamingRules & { modifyIndex: number };

/** How long a service's blocking query waits: also how old its countdown's basis may get. */
const SERVICE_WAIT = "2s";
const CATALOG_WAIT = "30s";
const TICK_MS = 200;

export function namingPage(selected: string | null): View {
  const notice = new Notice();
  const live = h("p", { class: "live", text: "Connecting…" });
  const servicesList = h("ul", { class: "service-list" });
  const servicesCard = h("div", { class: "card services" }, h("h2", { text: "Services" }), servicesList);
  const detail = h("div", { class: "card service" }, h("p", { class: "hint", text: "Pick a service to see its instances and routing rules." }));
  const el = h("section", { class: "view naming" }, h("div", { class: "title" }, h("h1", { text: "Naming" }), live), notice.el, h("div", { class: "split" }, servicesCard, detail));
  const loops: LiveRead[] = [];
  const report = {
    error: (error: unknown) => {
      live.className = "live retrying";
      notice.error(error);
    },
    ok: () => {
      if (live.classList.contains("retrying")) notice.clear();
      live.className = "live open";
      live.textContent = `Live · updated ${new Date().toLocaleTimeString()}`;
    },
  };

  let catalogIndex = 0;
  loops.push(
    liveRead(async (signal) => {
      const query = catalogIndex > 0 ? `?index=${catalogIndex}&wait=${CATALOG_WAIT}` : "";
      const answer = await callJson<{ index: number; services: ServiceSummary[] }>("GET", `/v1/naming/services${query}`, { signal });
      catalogIndex = answer.index;
      servicesList.replaceChildren(...(answer.services.length ? answer.services.map((s) => serviceItem(s, s.name === selected)) : [h("li", { class: "hint", text: "No services registered." })]));
    }, report),
  );

  let tick: ReturnType<typeof setInterval> | undefined;
  if (selected !== null) {
    const view = serviceDetail(selected);
    detail.replaceChildren(view.el);
    loops.push(liveRead(view.refresh, report));
    tick = setInterval(view.tick, TICK_MS);
  }
  return {
    el,
    dispose: () => {
      for (const loop of loops) loop.close();
      clearInterval(tick);
    },
  };
}

function serviceItem(s: ServiceSummary, active: boolean): El {
  const health = s.passing === s.instances ? "passing" : s.passing === 0 ? "critical" : "warning";
  return h(
    "li",
    { class: active ? "active" : "", attrs: { "data-service": s.name } },
    h("a", { text: s.name, attrs: { href: `#/naming/${encodeURIComponent(s.name)}` } }),
    " ",
    h("span", { class: `health ${health}`, text: `${s.passing}/${s.instances} passing` }),
  );
}

const COLUMNS = ["Instance", "Address", "Port", "Weight", "Tags", "Health", "TTL"];

function serviceDetail(service: string): { el: El; refresh(signal: AbortSignal): Promise<void>; tick(): void } {
  const body = h("tbody");
  const meta = h("p", { class: "meta" });
  const rules = h("div", { class: "rules" });
  const basis = h("p", {
    class: "hint basis",
    text: "TTL countdown: by the leader's clock and its memory of heartbeats (heartbeats are not replicated), as of its last answer, counted down here between answers. The leader's sweep acts within naming.sweepMs after it reaches 0.",
  });
  const el = h(
    "div",
    { attrs: { "data-service": service } },
    h("h2", { text: service }),
    meta,
    h("div", { class: "scroll" }, h("table", { class: "instances cards" }, h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", { text: c })))), body)),
    basis,
    h("h3", { text: "Routing rules" }),
    rules,
  );
  let index = 0;
  let rulesAt = -1;
  let clocks: { cell: El; clock: TtlClock; at: number; ttlMs: number }[] = [];

  const tick = (): void => {
    const now = Date.now();
    for (const c of clocks) c.cell.textContent = countdownText(c.clock, c.clock.dueInMs - (now - c.at));
  };

  async function refresh(signal: AbortSignal): Promise<void> {
    const query = index > 0 ? `?index=${index}&wait=${SERVICE_WAIT}` : "";
    const answer = await callJson<{ index: number; instances: Instance[] }>("GET", `/v1/naming/services/${encodeURIComponent(service)}${query}`, { signal });
    const at = Date.now();
    index = answer.index;
    clocks = [];
    meta.textContent = `${answer.instances.length} instance${answer.instances.length === 1 ? "" : "s"} · index ${answer.index}`;
    body.replaceChildren(...(answer.instances.length ? answer.instances.map((i) => instanceRow(i, at)) : [h("tr", {}, h("td", { text: "No instances.", attrs: { colspan: String(COLUMNS.length) } }))]));
    tick();
    // Rules change the service's index too: read them again only when it moved.
    if (rulesAt !== index) {
      rulesAt = index;
      rules.replaceChildren(await rulesView(service, signal));
    }
  }

  function instanceRow(i: Instance, at: number): El {
    const cell = (label: string, value: El | string, cls = "") => h("td", { attrs: { "data-label": label }, class: cls }, value);
    const parts = [i.health.ttl && `ttl: ${i.health.ttl}`, i.health.check && `check: ${i.health.check}${i.health.checkOutput ? ` (${i.health.checkOutput})` : ""}`].filter(Boolean).join("; ");
    const ttl = cell("TTL", "", "ttl");
    if (i.ttlMs === null) ttl.textContent = "no TTL";
    else if (i.ttlClock === null) ttl.textContent = `${seconds(i.ttlMs)} (countdown unknown: the answer did not come from the leader)`;
    else clocks.push({ cell: ttl, clock: i.ttlClock, at, ttlMs: i.ttlMs });
    if (i.ttlMs !== null) ttl.title = `TTL ${seconds(i.ttlMs)}`;
    return h(
      "tr",
      { attrs: { "data-instance": i.id, "data-health": i.status } },
      cell("Instance", h("strong", { text: i.id })),
      cell("Address", i.address),
      cell("Port", String(i.port)),
      cell("Weight", String(i.weight)),
      cell("Tags", i.tags.length ? h("span", {}, ...i.tags.map((t) => h("span", { class: "tag", text: t }))) : "—"),
      cell("Health", h("span", { class: `health ${i.status}`, text: i.status, title: parts || "no TTL and no check: passing while registered" }), "health"),
      ttl,
    );
  }

  return { el, refresh, tick };
}

function countdownText(clock: TtlClock, left: number): string {
  if (clock.due === "critical") return left >= 0 ? `critical in ${seconds(left)}` : `overdue ${seconds(-left)}: the leader's next sweep marks it critical`;
  return left >= 0 ? `removed in ${seconds(left)} unless a heartbeat comes` : `due for removal ${seconds(-left)} ago: the leader's next sweep removes it`;
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

async function rulesView(service: string, signal: AbortSignal): Promise<El> {
  try {
    const response = await call("GET", `/v1/naming/services/${encodeURIComponent(service)}/rules`, { signal });
    const rules = (await response.json()) as Rules;
    const total = rules.subsets.reduce((sum, s) => sum + s.weight, 0);
    const match = (s: Rules["subsets"][number]) =>
      [...(s.tags ?? []).map((t) => `tag ${t}`), ...Object.entries(s.meta ?? {}).map(([k, v]) => `${k}=${v}`)].join(", ") || "every instance";
    return h(
      "table",
      { class: "rules-table cards" },
      h("thead", {}, h("tr", {}, ...["Subset", "Matches", "Weight", "Share"].map((c) => h("th", { text: c })))),
      h(
        "tbody",
        {},
        ...rules.subsets.map((s) =>
          h(
            "tr",
            { attrs: { "data-subset": s.name } },
            h("td", { text: s.name, attrs: { "data-label": "Subset" } }),
            h("td", { text: match(s), attrs: { "data-label": "Matches" } }),
            h("td", { text: String(s.weight), attrs: { "data-label": "Weight" } }),
            h("td", { text: total ? `${Math.round((s.weight / total) * 1000) / 10}%` : "—", attrs: { "data-label": "Share" } }),
          ),
        ),
      ),
    );
  } catch (error) {
    if (error instanceof ApiFailure && error.code === "RULES_NOT_FOUND") return h("p", { class: "hint", text: "No routing rules: every healthy instance takes traffic by its weight." });
    if (signal.aborted) throw error;
    // Shown in place: the instances above are still current, and the rules are read again at the service's next change.
    return h("p", { class: "notice error" }, ...errorParts(error));
  }
}
