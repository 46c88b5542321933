// The console on a node that needs a token (PONTOON_TOKEN): the page itself
// loads without one, asks for it, shows the API's refusal of a wrong one in
// the API's words, keeps the right one for the tab (session storage), and
// sends it on every call, the live streams included.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Browser } from "playwright-core";
import { ProcessCluster, waitUntil } from "../e2e/process-cluster.ts";
import { launch, openConsole, screenshot, waitForText } from "./browser.ts";

const TOKEN = "console-test-token-0123456789";
let cluster: ProcessCluster;
let browser: Browser;

beforeAll(async () => {
  cluster = new ProcessCluster();
  await cluster.define("t1", { PONTOON_TOKEN: TOKEN });
  [browser] = await Promise.all([launch(), cluster.start("t1")]);
  await waitUntil("t1 leads", async () => {
    const response = await fetch(`${cluster.node("t1").url}/v1/cluster`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return response.ok && ((await response.json()) as { state: string }).state === "Leader" ? true : undefined;
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await cluster?.shutdown();
});

describe("Signing in", () => {
  it("asks for the token, refuses a wrong one as the API words it, and keeps the right one for the tab", async () => {
    const url = cluster.node("t1").url;
    const { page } = await openConsole(browser, `${url}/ui/#/kv`);
    const unauthorized = (await (await fetch(`${url}/v1/cluster`)).json()) as { error: { code: string; message: string } };
    await waitForText(page.locator(".login .notice"), new RegExp(`${unauthorized.error.code} ${escape(unauthorized.error.message)}`));

    await page.getByLabel("Token").fill("not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    const wrong = (await (await fetch(`${url}/v1/cluster`, { headers: { authorization: "Bearer not-the-token" } })).json()) as { error: { code: string; message: string } };
    await waitForText(page.locator(".login .notice"), new RegExp(escape(wrong.error.message)));
    expect(await page.evaluate("sessionStorage.getItem('pontoon.token')")).toBeNull();
    await screenshot(page, "login");

    await page.getByLabel("Token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    // The KV view's list and watch both carry the token: a write elsewhere shows up live.
    await page.locator(".view.kv .live.open").waitFor();
    await fetch(`${url}/v1/kv/signed/in`, { method: "PUT", body: "yes", headers: { authorization: `Bearer ${TOKEN}` } });
    await page.locator('a[data-key="signed/in"]').waitFor();
    expect(await page.evaluate("sessionStorage.getItem('pontoon.token')")).toBe(TOKEN);
    // The per-member fan-out (the IPVS page's apply status) asks each member with the caller's token, not with none.
    const each = (await (await fetch(`${url}/v1/cluster/each?path=${encodeURIComponent("/v1/kv/signed/in")}&consistency=stale`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { members: { id: string; status: number }[] };
    expect(each.members).toMatchObject([{ id: "t1", status: 200 }]);

    // A reload in the same tab stays signed in; the cluster view's stream works with the token.
    await page.goto(`${url}/ui/#/cluster`);
    await page.reload();
    await page.locator('tr[data-member="t1"] .role.leader').waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Token").waitFor();
    expect(await page.evaluate("sessionStorage.getItem('pontoon.token')")).toBeNull();
    await page.context().close();
  }, 60_000);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
