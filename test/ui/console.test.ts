// The web console in a real headless Chromium against a real 3-node cluster
// of processes: what an operator sees and does at /ui/. The leader is killed
// in the last test, so every test before it has the whole cluster; each test
// uses its own keys.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { ProcessCluster, freePort, waitUntil } from "../e2e/process-cluster.ts";
import { confirm, launch, openConsole, screenshot, waitForText } from "./browser.ts";

const IDS = ["n1", "n2", "n3"];
let cluster: ProcessCluster;
let browser: Browser;

beforeAll(async () => {
  cluster = new ProcessCluster();
  // naming too, for the generic plugin page (its DNS server on a free port per node).
  const start = async (): Promise<void> => {
    for (const id of IDS) await cluster.define(id);
    const files = new Map<string, string>();
    for (const id of IDS) files.set(id, cluster.peersFile(IDS, { name: `${id}.yaml`, before: `plugins: [kv, naming]\nnaming:\n  dns:\n    port: ${await freePort()}\n` }));
    // All at once: with one shared peers list they form one cluster in any order.
    await Promise.all(IDS.map((id) => cluster.start(id, {}, ["--config", files.get(id)!])));
    await cluster.leader();
  };
  [browser] = await Promise.all([launch(), start()]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await cluster?.shutdown();
});

/** A running node other than the leader (the page's node, so it survives the leader's death). */
async function follower(): Promise<string> {
  const leader = await cluster.leader();
  return IDS.find((id) => id !== leader && cluster.node(id).proc)!;
}

const url = (id: string) => cluster.node(id).url;
const row = (page: Page, id: string) => page.locator(`tr[data-member="${id}"]`);

async function stale(id: string, key: string): Promise<{ status: number; value?: string }> {
  const response = await fetch(`${url(id)}/v1/kv/${key}?consistency=stale`);
  if (response.status !== 200) return { status: response.status };
  return { status: 200, value: ((await response.json()) as { value: string }).value };
}

/** Waits until node `id` has applied `key` with `value` (null: absent). */
async function seenOn(id: string, key: string, value: string | null): Promise<void> {
  await waitUntil(`${id} to show ${key} = ${value}`, async () => {
    const got = await stale(id, key);
    return (value === null ? got.status === 404 : got.value === value) || undefined;
  }, 60_000);
}

describe("Cluster view", () => {
  it("shows every member with its role, term, indexes, lag, last contact and reachability, served from / and /ui/", async () => {
    const leader = await cluster.leader();
    const { page, requests, errors } = await openConsole(browser, `${url(await follower())}/`);
    expect(page.url()).toEndWith("/ui/");
    for (const id of IDS) await row(page, id).waitFor();
    await row(page, leader).locator(".role.leader").waitFor();
    const leaderCells = await row(page, leader).locator("td").allTextContents();
    // Member, Role, Raft, HTTP, Term, Commit, Applied, Lag, Last contact, Reachable
    expect(leaderCells.slice(0, 3)).toEqual([leader, "leader", `127.0.0.1:${cluster.node(leader).raftPort}`]);
    expect(leaderCells[3]).toBe(`127.0.0.1:${cluster.node(leader).httpPort}`);
    expect(Number(leaderCells[4])).toBeGreaterThan(0);
    expect(Number(leaderCells[5])).toBeGreaterThan(0);
    expect(leaderCells[9]).toBe("yes");
    const other = IDS.find((id) => id !== leader)!;
    const cells = await row(page, other).locator("td").allTextContents();
    expect(cells[1]).toBe("follower");
    expect(cells[7]).toMatch(/^\d+$/);
    expect(cells[8]).toMatch(/\d+(\.\d)? (ms|s)$/);
    await waitForText(page.locator(".live"), /^Live/);
    await screenshot(page, "cluster-1280");
    // Nothing but the node itself: no CDN, no fonts, no analytics.
    expect(requests.filter((r) => !r.startsWith(`${page.url().split("/ui/")[0]}/`))).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 60_000);

  it("transfers leadership, takes a snapshot, adds and removes a member, each only after a confirmation", async () => {
    const { page } = await openConsole(browser, `${url(await follower())}/ui/`);
    const leader = await cluster.leader();
    const target = IDS.find((id) => id !== leader)!;
    await row(page, target).getByRole("button", { name: "Make leader" }).click();
    await confirm(page, "Transfer");
    await waitForText(page.locator(".notice"), new RegExp(`Leadership moved to ${target}`));
    await waitForText(page.locator(".leader-id"), new RegExp(`^${target}$`));
    expect(await cluster.leader()).toBe(target);

    await page.getByRole("button", { name: "Take snapshot" }).click();
    await confirm(page, "Take snapshot");
    await waitForText(page.locator(".notice"), /^Snapshot taken/);

    const [raft, http] = [await freePort(), await freePort()];
    await page.getByLabel("Id").fill("n9");
    await page.getByLabel("Raft address").fill(`127.0.0.1:${raft}`);
    await page.getByLabel("HTTP address").fill(`127.0.0.1:${http}`);
    // A non-voter: a voter that never starts would count against the quorum.
    await page.getByLabel("Voter").uncheck();
    await page.getByRole("button", { name: "Add member…" }).click();
    await confirm(page, "Add");
    await waitForText(page.locator(".notice"), /n9 was added/);
    await row(page, "n9").waitFor();
    await waitForText(row(page, "n9").locator("td").nth(9), /^no$/);
    expect((await cluster.status(target)).members.find((m) => m.id === "n9")?.voter).toBe(false);

    // Cancel leaves it; confirming removes it.
    await row(page, "n9").getByRole("button", { name: "Remove" }).click();
    await confirm(page, "Cancel");
    expect((await cluster.status(target)).members.some((m) => m.id === "n9")).toBe(true);
    await row(page, "n9").getByRole("button", { name: "Remove" }).click();
    await confirm(page, "Remove");
    await waitForText(page.locator(".notice"), /n9 was removed/);
    await row(page, "n9").waitFor({ state: "detached" });
    expect((await cluster.status(target)).members.map((m) => m.id).sort()).toEqual(IDS);
    await page.context().close();
  }, 60_000);

  it("shows an action's refusal as the API words it", async () => {
    const { page } = await openConsole(browser, `${url(await follower())}/ui/`);
    await page.getByLabel("Id").fill("bad id!");
    await page.getByLabel("Raft address").fill("127.0.0.1:1");
    await page.getByLabel("HTTP address").fill("127.0.0.1:2");
    await page.getByRole("button", { name: "Add member…" }).click();
    await confirm(page, "Add");
    const text = await waitForText(page.locator(".notice.error"), /VALIDATION|INVALID/);
    const direct = await fetch(`${url("n1")}/v1/cluster/join`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id: "bad id!", raft: "127.0.0.1:1", http: "127.0.0.1:2" }) });
    const { error } = (await direct.json()) as { error: { code: string; message: string } };
    expect(text).toBe(`${error.code} ${error.message}`);
    await page.context().close();
  }, 60_000);
});

describe("KV view", () => {
  it("creates a key with a JSON syntax check, edits it, rolls it back, diffs versions and deletes it; another node sees each step", async () => {
    const [here, there] = [await follower(), await cluster.leader()];
    const { page, errors } = await openConsole(browser, `${url(here)}/ui/#/kv`);
    await page.getByRole("button", { name: "New key" }).click();
    await page.getByLabel("Key", { exact: true }).fill("app/db.json");
    await page.getByLabel("Format").selectOption("json");
    await page.getByLabel("Value").fill('{"host": "db1", "port": 5432,}');
    await waitForText(page.locator(".syntax"), /^JSON: /);
    await page.getByRole("button", { name: "Save" }).click();
    await waitForText(page.locator(".editor .notice.error"), /Not saved: JSON/);
    expect((await stale(there, "app/db.json")).status).toBe(404);

    await page.getByLabel("Value").fill('{"host": "db1", "port": 5432}');
    await waitForText(page.locator(".syntax"), /valid JSON/);
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator('a[data-key="app/db.json"]').waitFor();
    await waitForText(page.locator(".editor .meta"), /created at index \d+/);
    await seenOn(there, "app/db.json", '{"host": "db1", "port": 5432}');

    await page.getByLabel("Value").fill('{"host": "db2", "port": 5432}');
    await page.getByRole("button", { name: "Save" }).click();
    await waitForText(page.locator(".editor .notice.ok"), /Saved at index \d+/);
    await seenOn(there, "app/db.json", '{"host": "db2", "port": 5432}');

    // History: two versions, their diff, and a rollback to the first.
    await page.getByRole("button", { name: "History" }).click();
    await page.locator(".history tr[data-version]").nth(1).waitFor();
    await waitForText(page.locator(".diff pre"), /−\s+\{"host": "db1", "port": 5432\}[\s\S]*\+\s+\{"host": "db2", "port": 5432\}/);
    await screenshot(page, "kv-history-1280");
    await page.locator(".history tr[data-version]").nth(1).getByRole("button", { name: "Roll back" }).click();
    await confirm(page, "Roll back");
    await waitForText(page.locator(".editor .notice.ok"), /Rolled back to index \d+: new version at index \d+/);
    expect(await page.getByLabel("Value").inputValue()).toBe('{"host": "db1", "port": 5432}');
    await seenOn(there, "app/db.json", '{"host": "db1", "port": 5432}');

    await page.getByRole("button", { name: "Delete" }).click();
    await confirm(page, "Delete");
    await page.locator('a[data-key="app/db.json"]').waitFor({ state: "detached" });
    await seenOn(there, "app/db.json", null);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 60_000);

  it("shows keys as a tree, searches by prefix, and follows writes made on another node live", async () => {
    const [here, there] = [await follower(), await cluster.leader()];
    for (const key of ["tree/a/one", "tree/a/two", "tree/b", "other/x"]) {
      expect((await fetch(`${url(there)}/v1/kv/${key}`, { method: "PUT", body: `value of ${key}` })).status).toBe(200);
    }
    const { page } = await openConsole(browser, `${url(here)}/ui/#/kv`);
    await page.getByLabel("Prefix").fill("tree/");
    await page.getByRole("button", { name: "Search" }).click();
    await waitForText(page.locator(".count"), /^3 keys under tree\/$/);
    expect(await page.locator(".tree .folder").allTextContents()).toEqual(["tree/", "a/"]);
    expect(await page.locator(".tree a.key").allTextContents()).toEqual(["one", "two", "b"]);

    // A write elsewhere arrives over the watch stream; one outside the prefix does not.
    await fetch(`${url(there)}/v1/kv/tree/a/three`, { method: "PUT", body: "3" });
    await fetch(`${url(there)}/v1/kv/other/y`, { method: "PUT", body: "y" });
    await page.locator('a[data-key="tree/a/three"]').waitFor();
    await page.locator('a[data-key="tree/a/one"]').click();
    await waitForText(page.locator(".editor .key-name"), /^tree\/a\/one$/);
    await waitForText(page.locator(".editor .meta"), /modified at index/);
    expect(await page.getByLabel("Value").inputValue()).toBe("value of tree/a/one");
    // The open key changes elsewhere while unedited: the editor shows the new value.
    await fetch(`${url(there)}/v1/kv/tree/a/one`, { method: "PUT", body: "changed elsewhere" });
    await waitForText(page.locator(".editor .meta"), /modified at index/);
    await waitUntil("the editor to show the new value", async () => (await page.getByLabel("Value").inputValue()) === "changed elsewhere" || undefined);
    await fetch(`${url(there)}/v1/kv/tree/b`, { method: "DELETE" });
    await page.locator('a[data-key="tree/b"]').waitFor({ state: "detached" });
    await waitForText(page.locator(".count"), /^3 keys under tree\/$/);
    expect(await page.locator('a[data-key="other/y"]').count()).toBe(0);
    await page.context().close();
  }, 60_000);

  it("refuses to overwrite someone else's write silently: the save shows the cas conflict, and overwriting takes a confirmation", async () => {
    const [here, there] = [await follower(), await cluster.leader()];
    await fetch(`${url(there)}/v1/kv/app/feature.yaml`, { method: "PUT", body: "enabled: false\nlimit: 10\n" });
    const { page } = await openConsole(browser, `${url(here)}/ui/#/kv/app/feature.yaml`);
    await waitForText(page.locator(".editor .meta"), /modified at index/);
    expect(await page.getByLabel("Format").inputValue()).toBe("yaml");
    await page.getByLabel("Value").fill("enabled: [true\n");
    await waitForText(page.locator(".syntax"), /^YAML: .*line \d+, column \d+/);
    await page.getByLabel("Value").fill("enabled: true\nlimit: 10\n");
    await waitForText(page.locator(".syntax"), /valid YAML/);

    // Meanwhile, someone else writes the key through another node.
    const theirs = (await (await fetch(`${url(there)}/v1/kv/app/feature.yaml`, { method: "PUT", body: "enabled: false\nlimit: 20\n" })).json()) as { index: number };
    await waitForText(page.locator(".remote"), new RegExp(`changed this key at index ${theirs.index}`));
    await page.getByRole("button", { name: "Save" }).click();
    const conflict = await waitForText(page.locator(".conflict"), /CAS_FAILED/);
    expect(conflict).toMatch(new RegExp(`check-and-set failed: expected modifyIndex \\d+, but its modifyIndex is ${theirs.index}`));
    expect(await page.locator(".conflict .diff .line.del").allTextContents()).toEqual(["− enabled: false", "− limit: 20"]);
    expect(await page.locator(".conflict .diff .line.add").allTextContents()).toEqual(["+ enabled: true", "+ limit: 10"]);
    await screenshot(page, "kv-conflict-1280");
    expect((await stale(there, "app/feature.yaml")).value).toBe("enabled: false\nlimit: 20\n");

    await page.getByRole("button", { name: "Overwrite with mine" }).click();
    await confirm(page, "Overwrite");
    await waitForText(page.locator(".editor .notice.ok"), /Saved at index/);
    await seenOn(there, "app/feature.yaml", "enabled: true\nlimit: 10\n");
    await page.context().close();
  }, 60_000);
});

describe("Plugin pages and small screens", () => {
  it("shows a plugin's routes from /openapi, and calls them", async () => {
    const { page } = await openConsole(browser, `${url(await follower())}/ui/#/plugins`);
    await page.locator(".plugin-list a").first().waitFor();
    // Every plugin's routes; naming also has a page of its own (plugin-pages.test.ts), linked beside them.
    expect(await page.locator(".plugin-list li > a").allTextContents()).toEqual(["kv", "naming"]);
    expect(await page.locator(".plugin-list a.page").allTextContents()).toEqual(["Naming page"]);
    await page.getByRole("link", { name: "naming", exact: true }).click();
    const register = page.locator('article[data-route="PUT /v1/naming/services/{service}/instances/{id}"]');
    await register.getByLabel("service", { exact: true }).fill("web");
    await register.getByLabel("id", { exact: true }).fill("web-1");
    // Bad input first: the answer is shown as the API words it.
    await register.getByLabel("Body").fill('{"address": "10.0.0.5", "port": 0}');
    await register.getByRole("button", { name: "Send" }).click();
    await confirm(page, "Send");
    await waitForText(register.locator(".result"), /^INVALID_REQUEST .*port/);
    await register.getByLabel("Body").fill('{"address": "10.0.0.5", "port": 8080}');
    await register.getByRole("button", { name: "Send" }).click();
    await confirm(page, "Send");
    await waitForText(register.locator(".result"), /^200 PUT \/v1\/naming\/services\/web\/instances\/web-1/);

    const read = page.locator('article[data-route="GET /v1/naming/services/{service}"]');
    await read.getByLabel("service", { exact: true }).fill("web");
    await read.getByRole("button", { name: "Send" }).click();
    await waitForText(read.locator(".result pre"), /"web-1"[\s\S]*"10\.0\.0\.5"/);
    await screenshot(page, "plugin-naming");
    // The node's own routes are not a plugin's.
    expect(await page.locator("article[data-route*='/v1/cluster']").count()).toBe(0);

    await page.getByRole("link", { name: "Plugins" }).click();
    await page.getByRole("link", { name: "kv", exact: true }).click();
    await page.locator('article[data-route="GET /v1/kv/{key}"]').waitFor();
    await page.context().close();
  }, 60_000);

  it("fits a phone-width screen without sideways scrolling", async () => {
    const { page } = await openConsole(browser, `${url(await follower())}/ui/`, { width: 390, height: 844 });
    for (const id of IDS) await row(page, id).waitFor();
    const overflow = () => page.evaluate("document.documentElement.scrollWidth - window.innerWidth") as Promise<number>;
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, "cluster-phone");
    await page.goto(`${url(await follower())}/ui/#/kv/app/feature.yaml`);
    await waitForText(page.locator(".editor .meta"), /modified at index/);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, "kv-phone");
    await page.context().close();
  }, 60_000);
});

describe("Losing the leader", () => {
  it("shows the dead leader unreachable and the new leader, live, on a surviving node's page", async () => {
    const leader = await cluster.leader();
    const page = (await openConsole(browser, `${url(await follower())}/ui/`)).page;
    await row(page, leader).locator(".role.leader").waitFor();
    await cluster.kill(leader);
    await row(page, leader).locator(".role.unreachable").waitFor();
    const survivors = IDS.filter((id) => id !== leader);
    const next = await cluster.leader(survivors, 30_000);
    await row(page, next).locator(".role.leader").waitFor();
    await waitForText(page.locator(".leader-id"), new RegExp(`^${next}$`));
    expect(await row(page, leader).getAttribute("data-role")).toBe("unreachable");
    await screenshot(page, "cluster-leader-killed");
    // The console's files come from the node asked, never from the leader: a reload works with the old leader gone.
    await page.reload();
    await row(page, leader).locator(".role.unreachable").waitFor();
    await page.context().close();
  }, 60_000);
});
