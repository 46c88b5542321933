// Plugins' own console pages (src/ui/web/plugin-pages.ts) in a real headless
// Chromium against a real 3-node cluster of processes running kv, naming and
// ipvs: what an operator sees on the Naming and IPVS tabs, with the changes
// made through the API the way a registering service or a script would.
// ipvs runs its reconciler in dry-run against an ipvsadm that does not exist,
// so each node has an apply status (planned commands, the read error) without
// touching a kernel.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { ProcessCluster, freePort, waitUntil } from "../e2e/process-cluster.ts";
import { confirm, launch, openConsole, screenshot, waitForText } from "./browser.ts";

const IDS = ["p1", "p2", "p3"];
let cluster: ProcessCluster;
let browser: Browser;

const YAML = ["plugins: [kv, naming, ipvs]", "naming:", "  sweepMs: 200", "ipvs:", "  apply: dry-run", "  ipvsadm: /nonexistent/pontoon-test/ipvsadm", ""].join("\n");

beforeAll(async () => {
  cluster = new ProcessCluster();
  [browser] = await Promise.all([launch(), cluster.startPeers(IDS, YAML)]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await cluster?.shutdown();
});

const url = (id: string) => cluster.node(id).url;

async function follower(): Promise<string> {
  const leader = await cluster.leader();
  return IDS.find((id) => id !== leader)!;
}

async function api(method: string, path: string, body?: unknown, text?: string): Promise<{ status: number; json: any; text: string }> {
  const headers: Record<string, string> = body === undefined ? {} : { "content-type": "application/json" };
  const response = await fetch(`${url(await cluster.leader())}${path}`, { method, headers, body: text ?? (body === undefined ? undefined : JSON.stringify(body)) });
  const raw = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(raw);
  } catch {
    // text answer (export)
  }
  return { status: response.status, json, text: raw };
}

describe("Naming page", () => {
  it("shows a registered instance with its health and TTL countdown, follows its heartbeats, and sees it go critical when they stop", async () => {
    const ttlMs = 4000;
    const registered = Date.now();
    expect((await api("PUT", "/v1/naming/services/web/instances/web-1", { address: "10.0.0.5", port: 8080, weight: 3, tags: ["v1", "blue"], meta: { version: "v1" }, ttl: "4s", deregisterAfter: "60s" })).status).toBe(200);
    expect((await api("PUT", "/v1/naming/services/web/rules", { subsets: [{ name: "stable", meta: { version: "v1" }, weight: 90 }, { name: "canary", tags: ["v2"], weight: 10 }] })).status).toBe(200);
    // Heartbeats through a follower (forwarded to the leader, as an instance's agent would send them).
    const beating = setInterval(() => void follower().then((id) => fetch(`${url(id)}/v1/naming/heartbeat/web/web-1`, { method: "PUT" })).catch(() => {}), 500);
    try {
      const { page, errors } = await openConsole(browser, `${url(await follower())}/ui/`);
      await page.getByRole("link", { name: "Naming", exact: true }).click();
      await page.locator('.service-list li[data-service="web"]').waitFor();
      await waitForText(page.locator('.service-list li[data-service="web"] .health'), /^1\/1 passing$/);
      await page.getByRole("link", { name: "web", exact: true }).click();
      expect(page.url()).toEndWith("#/naming/web");
      const row = page.locator('tr[data-instance="web-1"]');
      await row.waitFor();
      expect((await row.locator("td").allTextContents()).slice(0, 5)).toEqual(["web-1", "10.0.0.5", "8080", "3", "v1blue"]);
      await waitForText(row.locator("td.health"), /^passing$/);
      expect(await page.locator(".basis").textContent()).toContain("leader's clock and its memory of heartbeats");
      // Still passing, with time left on its countdown, after more than a TTL since it registered: the heartbeats renewed it.
      await waitUntil("a TTL to pass since registering", () => (Date.now() - registered > ttlMs + 500) || undefined);
      await waitForText(row.locator("td.ttl"), /^critical in \d+\.\d s$/);
      expect(await row.getAttribute("data-health")).toBe("passing");
      expect(await page.locator(".rules-table tr[data-subset]").allTextContents()).toEqual(["stableversion=v19090%", "canarytag v21010%"]);
      await screenshot(page, "naming-passing");
      expect(errors).toEqual([]);
      await page.context().close();
    } finally {
      clearInterval(beating);
    }
    // No more heartbeats: the leader turns it critical, and the page shows it (blocking query), counting down to removal.
    const { page } = await openConsole(browser, `${url(await follower())}/ui/#/naming/web`);
    const row = page.locator('tr[data-instance="web-1"]');
    await waitForText(row.locator("td.health"), /^critical$/);
    await waitForText(row.locator("td.ttl"), /^removed in \d+\.\d s unless a heartbeat comes$/);
    await waitForText(page.locator('.service-list li[data-service="web"] .health'), /^0\/1 passing$/);
    const listed = await api("GET", "/v1/naming/services/web");
    expect(listed.json.instances[0].status).toBe("critical");
    expect(listed.json.instances[0].ttlClock.due).toBe("remove");
    await screenshot(page, "naming-critical");
    await page.context().close();
  }, 60_000);
});

/** Canonical `ipvsadm-save -n` lines (as the ipvs save-format tests print them). */
const SAVED = ["-A -t 10.0.0.1:80 -s wrr -p 300", "-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 5", "-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 0 -x 200 -y 20", "-A -u 10.0.0.1:53 -s rr -o", "-a -u 10.0.0.1:53 -r 10.0.0.4:53 -i -w 1"];

describe("IPVS page", () => {
  it("shows a service added through the API with its servers and every node's apply status, imports a saved table, exports it back, and shows a refusal as the API words it", async () => {
    expect((await api("POST", "/v1/ipvs/services", { protocol: "tcp", address: "10.1.0.1", port: 443, scheduler: "wrr" })).status).toBe(200);
    expect((await api("POST", "/v1/ipvs/services/tcp/10.1.0.1/443/servers", { address: "10.1.0.2", port: 8443, weight: 7, forwarding: "masq" })).status).toBe(200);
    const { page, errors } = await openConsole(browser, `${url(await follower())}/ui/`);
    await page.getByRole("link", { name: "IPVS", exact: true }).click();
    const service = page.locator('article[data-service="tcp/10.1.0.1/443"]');
    await service.waitFor();
    await waitForText(service.locator("h3"), /scheduler wrr/);
    const server = service.locator('tr[data-server="10.1.0.2:8443"]');
    expect(await server.locator("td").allTextContents()).toEqual(["10.1.0.2:8443", "masq (NAT)", "7", "7", "no check", "—"]);
    // A server whose check fails keeps its configured weight; the kernel's (effective) weight becomes 0.
    const closed = await freePort();
    expect((await api("POST", "/v1/ipvs/services/tcp/10.1.0.1/443/servers", { address: "127.0.0.1", port: closed, weight: 4, forwarding: "masq", check: { type: "tcp", intervalMs: 200, timeoutMs: 100, fall: 1 } })).status).toBe(200);
    const failing = service.locator(`tr[data-server="127.0.0.1:${closed}"]`);
    await waitForText(failing, /failing \(tcp\): weight 0/);
    expect(await failing.locator("td").allTextContents()).toEqual([`127.0.0.1:${closed}`, "masq (NAT)", "4", "0", "failing (tcp): weight 0", "—"]);

    // Every member reports its own reconciler: dry-run, the commands it planned, and why it could not read the kernel's table.
    for (const id of IDS) {
      const node = page.locator(`tr[data-node="${id}"]`);
      await waitForText(node.locator("td.mode"), /^dry-run/);
      await waitForText(node, /ipvsadm -A -t 10\.1\.0\.1:443 -s wrr/);
    }
    const direct = (await (await fetch(`${url(IDS[0]!)}/v1/ipvs/status`)).json()) as { lastError: { code: string; message: string } | null };
    expect(direct.lastError).not.toBeNull();
    await waitForText(page.locator(`tr[data-node="${IDS[0]}"] td .error`), new RegExp(`^${escape(direct.lastError!.code)} `));
    await screenshot(page, "ipvs-service");

    // Import a saved table, replacing what is there.
    await page.getByLabel("Table to import (ipvsadm-save -n)").fill(SAVED.join("\n") + "\n");
    expect(await page.getByLabel("Replace the whole table").isChecked()).toBe(true);
    await page.getByRole("button", { name: "Import…" }).click();
    await confirm(page, "Import");
    await waitForText(page.locator(".save-text .notice"), /^Imported 2 services and 3 real servers at index \d+\.$/);
    await page.locator('article[data-service="udp/10.0.0.1/53"]').waitFor();
    await service.waitFor({ state: "detached" });
    await waitForText(page.locator('article[data-service="tcp/10.0.0.1/80"] tr[data-server="10.0.0.3:80"]'), /route \(direct\)00/);

    // Export it back: the page shows what the API exports, and the download holds the same text.
    await page.getByRole("button", { name: "Export" }).click();
    const shown = await waitForText(page.locator("pre.saved"), /-A -t 10\.0\.0\.1:80/);
    const exported = (await api("GET", "/v1/ipvs/export")).text;
    expect(shown).toBe(exported);
    expect(exported.trim().split("\n").sort()).toEqual([...SAVED].sort());
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download ipvsadm-save.txt" }).click()]);
    expect(readFileSync((await download.path())!, "utf8")).toBe(exported);

    // A refusal, as the API words it.
    const bad = "-A -t 10.0.0.300:80 -s wrr\n";
    await page.getByLabel("Table to import (ipvsadm-save -n)").fill(bad);
    await page.getByRole("button", { name: "Import…" }).click();
    await confirm(page, "Import");
    const refused = await waitForText(page.locator(".save-text .notice.error"), /\S/);
    const answer = await api("POST", "/v1/ipvs/import?replace=true", undefined, bad);
    expect(answer.status).toBe(400);
    expect(refused).toBe(`${answer.json.error.code} ${answer.json.error.message}`);
    await screenshot(page, "ipvs-import-refused");
    expect(errors.filter((e) => !e.includes("400"))).toEqual([]);
    await page.context().close();
  }, 60_000);

  it("asks members only for read routes outside /v1/cluster, with a 400 naming the field", async () => {
    for (const path of ["/v1/cluster/each", "/v1/cluster", "/v1/ipvs/../cluster/events", "/ui/main.js", "//evil.example/v1/x", "/v1/ipvs/status?x=1"]) {
      const answer = await api("GET", `/v1/cluster/each?path=${encodeURIComponent(path)}`);
      expect({ path, status: answer.status, code: answer.json.error?.code, field: answer.json.error?.field }).toEqual({ path, status: 400, code: "INVALID_PATH", field: "query.path" });
    }
    // A stale read is answered by the node asked: every member, each with its own status.
    const each = await fetch(`${url(await follower())}/v1/cluster/each?path=${encodeURIComponent("/v1/ipvs/status")}&consistency=stale`);
    const body = (await each.json()) as { members: { id: string; status: number; body: { node: string } }[] };
    expect(body.members.map((m) => [m.id, m.status, m.body.node]).sort()).toEqual(IDS.map((id) => [id, 200, id]));
  });
});

describe("Small screens", () => {
  it("fits the naming and ipvs pages on a phone-width screen without sideways scrolling", async () => {
    const { page } = await openConsole(browser, `${url(await follower())}/ui/#/naming/web`, { width: 390, height: 844 });
    const overflow = () => page.evaluate("document.documentElement.scrollWidth - window.innerWidth") as Promise<number>;
    await page.locator('tr[data-instance="web-1"]').waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, "naming-phone");
    await page.goto(`${url(await follower())}/ui/#/ipvs`);
    await page.locator('article[data-service="udp/10.0.0.1/53"]').waitFor();
    await page.locator(`tr[data-node="${IDS[0]}"] td.mode`).waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, "ipvs-phone");
    await page.context().close();
  }, 60_000);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
