// A headless Chromium for the console's tests: Debian's /usr/bin/chromium
// driven by playwright-core, with screenshots under test-artifacts/ui/. Every
// page records the URLs it asked for, so a test can prove the console needs
// nothing but its own node.

import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";

export const ARTIFACTS = resolve(import.meta.dir, "../../test-artifacts/ui");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Generous: the machine running the suite may be busy; a wait ends as soon as its condition holds. */
export const WAIT_MS = 20_000;

export async function launch(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
}

export interface ConsolePage {
  page: Page;
  /** Every URL the page requested. */
  requests: string[];
  /** Console errors and uncaught exceptions in the page. */
  errors: string[];
}

export async function openConsole(browser: Browser, url: string, options: { width?: number; height?: number } = {}): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const requests: string[] = [];
  const errors: string[] = [];
  page.on("request", (request) => requests.push(request.url()));
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto(url);
  return { page, requests, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Waits until the locator's text matches. */
export async function waitForText(locator: Locator, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  let last = "";
  while (Date.now() < deadline) {
    last = (await locator.textContent({ timeout: WAIT_MS }).catch(() => "")) ?? "";
    if (pattern.test(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${pattern} (last text: ${JSON.stringify(last.slice(0, 300))})`);
}

/** Clicks the confirmation dialog's button (the action's name), after checking the dialog asks first. */
export async function confirm(page: Page, button: string): Promise<void> {
  const dialog = page.locator("dialog.confirm[open]");
  await dialog.waitFor();
  await dialog.getByRole("button", { name: button, exact: true }).click();
  await dialog.waitFor({ state: "detached" });
}
