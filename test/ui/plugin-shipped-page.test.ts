// A page shipped by a user's plugin (definePlugin's consolePage), in a real
// headless Chromium against a real node process that needs a token and loads
// the example feature-flags plugin by path from its YAML, plus two plugins
// written here into a temporary folder: one whose page does not build, one
// whose page throws when it opens. The pages' files need no token (as the
// console's own); their calls carry the one the user signed in with. The
// flags page is fetched only when its tab opens, lists what the API wrote,
// writes what the API then reads back, and shows the API's refusal in its
// words; a broken page says why in its own tab and nothing else suffers.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Browser } from "playwright-core";
import { loadPlugins } from "../../src/fsm/plugin-loader.ts";
import { ProcessCluster, waitUntil } from "../e2e/process-cluster.ts";
import { launch, openConsole, screenshot, waitForText } from "./browser.ts";

const ROOT = resolve(import.meta.dir, "../..");
const TOKEN = "shipped-page-test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };
let cluster: ProcessCluster;
let browser: Browser;
let scratch: string;

/** A plugin of its own named `name` whose page is `page` (source): its node starts whatever the page holds. */
function writePlugin(dir: string, name: string, title: string, page: string): string {
  mkdirSync(join(dir, name));
  writeFileSync(
    join(dir, name, "index.ts"),
    [
      `import { Type } from "@sinclair/typebox";`,
      `import { definePlugin } from ${JSON.stringify(join(ROOT, "src/fsm/sdk.ts"))};`,
      `export default definePlugin({`,
      `  name: ${JSON.stringify(name)},`,
      `  consolePage: { title: ${JSON.stringify(title)}, module: "./page.ts" },`,
      `  migrations: [],`,
      `  commands: { noop: Type.Object({}) },`,
      `  apply: { noop: () => null },`,
      `});`,
    ].join("\n"),
  );
  writeFileSync(join(dir, name, "page.ts"), page);
  return join(dir, name, "index.ts");
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "pontoon-shipped-page-"));
  cluster = new ProcessCluster();
  const start = async (): Promise<void> => {
    await cluster.define("f1", { PONTOON_TOKEN: TOKEN });
    const plugins = [
      "kv",
      join(ROOT, "plugins/examples/feature-flags/index.ts"),
      // Does not build: a syntax error.
      writePlugin(scratch, "broken", "Broken page", `export default (root: unknown) => {\n  const x = ;\n};\n`),
      // Builds, and throws when its tab opens.
      writePlugin(scratch, "crashy", "Crashy page", `export default (root: unknown) => {\n  throw new Error("crashy cannot draw: no data yet");\n};\n`),
    ];
    const file = cluster.peersFile(["f1"], { name: "flags.yaml", before: `plugins: [${plugins.join(", ")}]\nfeature-flags:\n  maxFlags: 2\n` });
    await cluster.start("f1", {}, ["--config", file]);
    await waitUntil("f1 leads", async () => {
      const response = await fetch(`${url()}/v1/cluster`, { headers: AUTH });
      return response.ok && ((await response.json()) as { state: string }).state === "Leader" ? true : undefined;
    });
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
  const response = await fetch(`${url()}${path}`, { method, headers: body === undefined ? AUTH : { ...AUTH, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, json: await response.json().catch(() => null) };
}

/** The console at `hash`, signed in. */
async function signedIn(hash: string) {
  const opened = await openConsole(browser, `${url()}/ui/${hash}`);
  await opened.page.getByLabel("Token").fill(TOKEN);
  await opened.page.getByRole("button", { name: "Sign in" }).click();
  return opened;
}

describe("A page a plugin ships", () => {
  it("gets a tab, is fetched only when it opens, lists a flag the API wrote, creates, updates and deletes flags the API reads back, and shows a refusal as the API words it", async () => {
    expect((await api("PUT", "/v1/flags/dark-mode", { enabled: true, rollout: 25, description: "night theme" })).status).toBe(200);
    expect(await (await fetch(`${url()}/ui/plugins.json`)).json()).toEqual({ broken: { title: "Broken page" }, crashy: { title: "Crashy page" }, flags: { title: "Feature flags" } });
    const { page, requests, errors } = await signedIn("");
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
    await waitForText(view.locator(".notice.error"), /^TOO_MANY_FLAGS there are already 2 flags \(maxFlags in the plugin's YAML section, feature-flags:\)$/);
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
    // The browser logs the refused calls itself (the 401 before signing in, the 409); nothing else went wrong in the page.
    expect(errors.filter((e) => !/status of (401 \(Unauthorized\)|409 \(Conflict\))/.test(e))).toEqual([]);
    await page.context().close();
  }, 30_000);

  it("that does not build, or throws when it opens, says why in its own tab, while the console's other tabs and pages keep working", async () => {
    const served = await fetch(`${url()}/ui/plugins/broken.js`);
    expect(served.status).toBe(500);
    const refusal = ((await served.json()) as { error: { code: string; message: string } }).error;
    expect(refusal.code).toBe("PLUGIN_PAGE_BUILD");
    // The bundler's own reason, with the file and line to fix.
    expect(refusal.message).toMatch(/^plugin broken's console page \(.+\/broken\/page\.ts\) did not build: Unexpected ; \(.+\/broken\/page\.ts:2:\d+\)$/);
    expect((await fetch(`${url()}/ui/plugins/nothing.js`)).status).toBe(404);

    const { page } = await signedIn("#/broken");
    const broken = page.locator('section.shipped-page[data-page="broken"]');
    await broken.locator(".notice.error").waitFor();
    expect(await broken.getAttribute("data-state")).toBe("failed");
    expect(await broken.locator(".notice.error").textContent()).toBe(`PLUGIN_PAGE_BUILD ${refusal.message}`);
    expect(await page.getByRole("link", { name: "Broken page", exact: true }).getAttribute("class")).toContain("active");
    await screenshot(page, "plugin-page-broken");

    // One that builds but throws when it opens: its own error, in its own tab.
    await page.getByRole("link", { name: "Crashy page", exact: true }).click();
    const crashy = page.locator('section.shipped-page[data-page="crashy"]');
    await waitForText(crashy.locator(".notice.error"), /^crashy cannot draw: no data yet$/);
    expect(await crashy.getAttribute("data-state")).toBe("failed");

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

describe("consolePage at load", () => {
  it("resolves the module against the plugin's file, and refuses a page without a title naming the plugins entry", async () => {
    const [flags] = await loadPlugins(["./plugins/examples/feature-flags/index.ts"], ROOT, (i) => `plugins[${i}]`);
    expect(flags!.consolePage).toEqual({ title: "Feature flags", module: join(ROOT, "plugins/examples/feature-flags/page.ts") });
    const dir = join(scratch, "untitled");
    mkdirSync(dir);
    writeFileSync(join(dir, "index.ts"), `export default { name: "untitled", consolePage: { module: "./page.ts" }, migrations: [], commands: {}, apply: {} };\n`);
    await expect(loadPlugins(["kv", join(dir, "index.ts")], ROOT, (i) => `plugins[${i}]`)).rejects.toThrow(/^plugins\[1\]: plugin "untitled": consolePage\.title must be a string of 1-40 characters$/);
  });
});
