// A page a plugin ships (definePlugin's consolePage), opened in its tab: its
// module is fetched from /ui/plugins/<plugin>.js only now, and called with
// the tab's element and a ConsolePageApi. What goes wrong with it (it did not
// build, it threw) is said in its own tab; the rest of the console does not
// depend on it.

import { call } from "./api.ts";
import { h } from "./dom.ts";
import type { ConsolePage, ConsolePageApi, PageElement } from "./page-api.ts";
import type { PluginPage } from "./plugin-pages.ts";
import { Notice, type View } from "./widgets.ts";

export function shippedPage(plugin: string, title: string): PluginPage {
  return { title, open: () => open(plugin, title) };
}

function open(plugin: string, title: string): View {
  const notice = new Notice();
  const root = h("div", { class: "page-root" });
  const el = h("section", { class: "view shipped-page", attrs: { "data-page": plugin, "data-state": "loading" } }, h("h1", { text: title }), notice.el, root);
  const closing = new AbortController();
  let cleanup: (() => void) | null = null;
  const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await call(method, path, { ...(body === undefined ? {} : { json: body }), signal: closing.signal });
    const text = await response.text();
    return ((response.headers.get("content-type") ?? "").includes("json") && text !== "" ? JSON.parse(text) : text) as T;
  };
  const api: ConsolePageApi = {
    plugin,
    get: (path) => request("GET", path),
    post: (path, body) => request("POST", path, body),
    put: (path, body) => request("PUT", path, body),
    del: (path, body) => request("DELETE", path, body),
    onError: (error) => {
      if (closing.signal.aborted) return;
      if (error === null || error === undefined) notice.clear();
      else notice.error(error);
    },
    signal: closing.signal,
  };
  const failed = (error: unknown): void => {
    el.dataset.state = "failed";
    notice.error(error);
  };
  void (async () => {
    const url = `/ui/plugins/${encodeURIComponent(plugin)}.js`;
    let page: unknown;
    try {
      page = ((await import(url)) as { default?: unknown }).default;
    } catch (error) {
      // The browser says only that the import failed; the node's answer says why (the bundler's error).
      failed(await call("GET", url).then(() => error, (refused: unknown) => refused));
      return;
    }
    if (closing.signal.aborted) return;
    if (typeof page !== "function") return failed(new Error(`${url} does not export a page as its default export ((root, api) => ...)`));
    try {
      const result = (page as ConsolePage)(root as unknown as PageElement, api);
      if (typeof result === "function") cleanup = result;
      el.dataset.state = "open";
    } catch (error) {
      failed(error);
    }
  })();
  return {
    el,
    dispose: () => {
      closing.abort();
      try {
        cleanup?.();
      } catch {
        // The tab is gone; its page's last error has no one to show it to.
      }
    },
  };
}
