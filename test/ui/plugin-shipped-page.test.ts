// A page shipped by a user's plugin (definePlugin's consolePage), in a real
// headless Chromium against a real node process that loads the example
// feature-flags plugin by path from its YAML, plus a second plugin, written
// here into a temporary folder, whose page does not build. The flags page is
// fetched only when its tab opens, lists what the API wrote, writes what the
// API then reads back, and shows the API's refusal in its words; the broken
// page says why in its own tab and nothing else suffers.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Browser } from "playwright-core";
import { ProcessCluster } from "../e2e/process-cluster.ts";
import { launch, openConsole, screenshot, waitForText } from "./browser.ts";

const ROOT = resolve(import.meta.dir, "../..");
let cluster: ProcessCluster;
let browser: Browser;
let scratch: string;

/** A plugin of its own whose page has a syntax error: its node starts, its tab says why the page is missing. */
function writeBrokenPlugin(dir: string): string {
  mkdirSync(join(dir, "broken"));
  writeFileSync(
    join(dir, "broken", "index.ts"),
    [
      `import { Type } from "@sinclair/typebox";`,
      `import { definePlugin } from ${JSON.stringify(join(ROOT, "src/fsm/sdk.ts"))};`,
      `export default definePlugin({`,
      `  name: "broken",`,
      `  consolePage: { title: "Broken page", module: "./page.ts" },`,
      `  migrations: [],`,
      `  commands: { noop: Type.Object({}) },`,
      `  apply: { noop: () => null },`,
      `});`,
    ].join("\n"),
  );
  writeFileSync(join(dir, "broken", "page.ts"), `export default (root: unknown) => {\n  const x = ;\n};\n`);
  return join(dir, "broken", "index.ts");
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "pontoon-shipped-page-"));
  cluster = new ProcessCluster();
  const start = async (): Promise<void> => {
    await cluster.define("f1");
    const plugins = ["kv", join(ROOT, "plugins/examples/feature-flags/index.ts"), writeBrokenPlugin(scratch)];
    const file = cluster.peersFile(["f1"], { name: "flags.yaml", before: `plugins: [${plugins.join(", ")}]\nfeature-flags:\n  maxFlags: 2\n` });
    await cluster.start("f1", {}, ["--config", file]);
    await cluster.leader();
  };
  [browser] = await Promise.all([launch(), start()]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await cluster?.shutdown();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const url = () => cluster.node("f1").url;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${url()}${path}`, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, json: await response.json().catch(() => null) };
}

describe("A page a plugin ships", () => {
  it("gets a tab, is fetched only when it opens, lists a flag the API wrote, creates, updates and deletes flags the API reads back, and shows a refusal as the API words it", async () => {
    expect((await api("PUT", "/v1/flags/dark-mode", { enabled: true, rollout: 25, description: "night theme" })).status).toBe(200);
    const { page, requests, errors } = await openConsole(browser, `${url()}/ui/`);
    const tab = page.getByRole("link", { name: "Feature flags", exact: true });
    await tab.waitFor();
    expect(requests.some((r) => r.includes("/ui/plugins/flags.js"))).toBe(false);
    await tab.click();
    expect(page.url()).toEndWith("#/flags");
    const view = page.locator('section.shipped-page[data-page="flags"]');
    const dark = view.locator('tr[data-flag="dark-mode"]');
    await dark.waitFor();
    expect(await dark.locator("td").allTextContents()).toEqual(["dark-mode", "on", "25%", "night theme", expect.stringMatching(/^\d+$/), "Edit Delete"]);
    expect(requests.filter((r) => r.includes("/ui/plugins/flags.js")).length).toBe(1);

    // Create through the page; read back through the API.
    await view.getByLabel("Name", { exact: true }).fill("new-checkout");
    await view.getByLabel("Rollout %").fill("40");
    await view.getByLabel("Enabled").check();
    await view.getByRole("button", { name: "Save" }).click();
    await waitForText(view.locator(".flag-form .notice.ok"), /^Saved new-checkout\.$/);
    await waitForText(view.locator('tr[data-flag="new-checkout"] td:nth-child(3)'), /^40%$/);
    const created = await api("GET", "/v1/flags/new-checkout");
    expect(created.json).toMatchObject({ name: "new-checkout", enabled: true, rollout: 40, description: "" });

    // A third flag passes maxFlags (2, its YAML section feature-flags:): the console's notice carries the API's code and message.
    await view.getByLabel("Name", { exact: true }).fill("third");
    await view.getByRole("button", { name: "Save" }).click();
    await waitForText(view.locator(".notice.error"), /^TOO_MANY_FLAGS there are already 2 flags \(flags\.maxFlags\)$/);
    expect((await api("GET", "/v1/flags/third")).status).toBe(404);
    await screenshot(page, "plugin-page-refusal");

    // Update one from its row, delete the other.
    await view.locator('tr[data-flag="new-checkout"]').getByRole("button", { name: "Edit" }).click();
    expect(await view.getByLabel("Name", { exact: true }).inputValue()).toBe("new-checkout");
    await view.getByLabel("Rollout %").fill("60");
    await view.getByRole("button", { name: "Save" }).click();
    await waitForText(view.locator('tr[data-flag="new-checkout"] td:nth-child(3)'), /^60%$/);
    expect(await view.locator(".notice.error").count()).toBe(0);
    expect((await api("GET", "/v1/flags/new-checkout")).json.rollout).toBe(60);
    await dark.getByRole("button", { name: "Delete" }).click();
    await dark.waitFor({ state: "detached" });
    expect((await api("GET", "/v1/flags/dark-mode")).status).toBe(404);
    await screenshot(page, "plugin-page-flags");
    // The browser logs the refused call itself; nothing else went wrong in the page.
    expect(errors.filter((e) => !e.includes("status of 409 (Conflict)"))).toEqual([]);
    await page.context().close();
  }, 30_000);

  it("that does not build says why in its own tab, while the console's other tabs and pages keep working", async () => {
    const served = await fetch(`${url()}/ui/plugins/broken.js`);
    expect(served.status).toBe(500);
    const refusal = ((await served.json()) as { error: { code: string; message: string } }).error;
    expect(refusal.code).toBe("PLUGIN_PAGE_BUILD");
    // The bundler's own reason, with the file and line to fix.
    expect(refusal.message).toMatch(/^plugin broken's console page \(.+\/broken\/page\.ts\) did not build: Unexpected ; \(.+\/broken\/page\.ts:2:\d+\)$/);
    expect((await fetch(`${url()}/ui/plugins/nothing.js`)).status).toBe(404);

    const { page } = await openConsole(browser, `${url()}/ui/#/broken`);
    const broken = page.locator('section.shipped-page[data-page="broken"]');
    await broken.locator(".notice.error").waitFor();
    expect(await broken.getAttribute("data-state")).toBe("failed");
    expect(await broken.locator(".notice.error").textContent()).toBe(`PLUGIN_PAGE_BUILD ${refusal.message}`);
    expect(await page.getByRole("link", { name: "Broken page", exact: true }).getAttribute("class")).toContain("active");
    await screenshot(page, "plugin-page-broken");

    // The other page and the built-in views are untouched.
    await page.getByRole("link", { name: "Feature flags", exact: true }).click();
    await page.locator('section.shipped-page[data-page="flags"] tr[data-flag="new-checkout"]').waitFor();
    await page.getByRole("link", { name: "KV", exact: true }).click();
    await page.locator("section.view.kv").waitFor();
    await page.getByRole("link", { name: "Cluster", exact: true }).click();
    await page.locator('tr[data-member="f1"]').waitFor();
    await page.context().close();
  }, 30_000);
});
