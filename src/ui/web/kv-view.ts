// The KV view: keys under a prefix as a tree, kept current by the watch
// stream (GET /v1/watch, resumed after the list's index so no change falls
// between the two), and the selected key's editor beside it.

import { ApiFailure, callJson } from "./api.ts";
import { h, labelled, win, type El } from "./dom.ts";
import { KeyEditor, type Entry } from "./kv-editor.ts";
import { keyTree, type TreeNode } from "./key-tree.ts";
import { openStream, type Stream } from "./sse.ts";
import { Notice, type View } from "./widgets.ts";

interface WatchEvent {
  key: string;
  value: string | null;
  index: number;
  createIndex: number;
  modifyIndex: number;
}

/** The hash route of a key: each segment encoded, the slashes kept. */
export function keyRoute(key: string): string {
  return `#/kv/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** Keys past which the tree opens folded. */
const FOLD_ABOVE = 200;

export interface KvView extends View {
  /** Shows the key named by the route (null: none selected). */
  select(key: string | null): void;
}

export function kvView(): KvView {
  const notice = new Notice();
  const keys = new Map<string, number>(); // key → modifyIndex
  const collapsed = new Set<string>();
  let prefix = "";
  let after = 0;
  let stream: Stream | null = null;
  let editor: KeyEditor | null = null;
  let selected: string | null = null;

  const search = h("input", { type: "search", placeholder: "app/", attrs: { "aria-label": "Prefix", name: "prefix" } });
  const count = h("p", { class: "count" });
  const live = h("span", { class: "live" });
  const tree = h("ul", { class: "tree", attrs: { role: "tree", "aria-label": "Keys" } });
  const detail = h("div", { class: "detail" }, h("p", { class: "hint", text: "Pick a key, or create one." }));

  function fold(nodes: TreeNode[]): void {
    for (const node of nodes) {
      if (node.children.length === 0) continue;
      collapsed.add(node.path);
      fold(node.children);
    }
  }

  function renderTree(): void {
    const root = keyTree(keys.keys());
    tree.replaceChildren(...root.children.map(branch));
    count.textContent = `${keys.size} key${keys.size === 1 ? "" : "s"}${prefix ? ` under ${prefix}` : ""}`;
  }

  function branch(node: TreeNode): El {
    const item = h("li", { attrs: { role: "treeitem" } });
    const line = h("div", { class: "node" });
    if (node.children.length > 0) {
      const open = !collapsed.has(node.path);
      line.append(h("button", { class: "toggle", type: "button", text: open ? "▾" : "▸", attrs: { "aria-label": `${open ? "Collapse" : "Expand"} ${node.path}/` }, on: { click: () => (open ? collapsed.add(node.path) : collapsed.delete(node.path), renderTree()) } }));
    } else {
      line.append(h("span", { class: "toggle" }));
    }
    if (node.isKey) line.append(h("a", { class: node.path === selected ? "key selected" : "key", text: node.name, attrs: { href: keyRoute(node.path), "data-key": node.path } }));
    else line.append(h("span", { class: "folder", text: `${node.name}/` }));
    item.append(line);
    if (node.children.length > 0 && !collapsed.has(node.path)) item.append(h("ul", { attrs: { role: "group" } }, ...node.children.map(branch)));
    return item;
  }

  async function load(): Promise<void> {
    stream?.close();
    try {
      const list = await callJson<{ index: number; items: Entry[] }>("GET", `/v1/kv?prefix=${encodeURIComponent(prefix)}`);
      keys.clear();
      for (const item of list.items) keys.set(item.key, item.modifyIndex);
      // A large keyspace opens folded below the top level; a small one, all open.
      collapsed.clear();
      if (keys.size > FOLD_ABOVE) for (const node of keyTree(keys.keys()).children) fold(node.children);
      after = list.index;
      notice.clear();
    } catch (error) {
      notice.error(error);
      return;
    }
    renderTree();
    stream = openStream(() => `/v1/watch?prefix=${encodeURIComponent(prefix)}&after=${after}`, {
      event(event) {
        if (event.event !== "put" && event.event !== "delete") return;
        const change = JSON.parse(event.data) as WatchEvent;
        after = Math.max(after, change.index);
        if (event.event === "put") keys.set(change.key, change.modifyIndex);
        else keys.delete(change.key);
        renderTree();
        if (change.key === selected) editor?.remoteChange(change.value === null ? null : { key: change.key, value: change.value, createIndex: change.createIndex, modifyIndex: change.modifyIndex }, change.index);
      },
      state(state, detail) {
        live.className = `live ${state}`;
        live.textContent = state === "open" ? "live" : state === "retrying" ? `reconnecting: ${detail ?? ""}` : "connecting…";
      },
      refused(failure: ApiFailure) {
        // The history no longer reaches back to our index: read everything again.
        if (failure.code === "WATCH_EXPIRED") void load();
        else notice.error(failure);
        return false;
      },
    });
  }

  function open(next: KeyEditor | null): void {
    editor = next;
    detail.replaceChildren(next?.el ?? h("p", { class: "hint", text: "Pick a key, or create one." }));
  }

  const events = {
    deleted(key: string) {
      keys.delete(key);
      win.location.hash = "#/kv";
      notice.ok(`Deleted ${key}.`);
    },
    created(key: string) {
      win.location.hash = keyRoute(key);
      notice.ok(`Created ${key}.`);
    },
  };

  function select(key: string | null): void {
    if (key === selected && editor) return;
    if (selected !== null) notice.clear();
    selected = key;
    open(key === null ? null : new KeyEditor(key, events));
    renderTree();
  }

  const form = h(
    "form",
    {
      class: "search",
      on: {
        submit: (event) => {
          event.preventDefault();
          prefix = search.value;
          void load();
        },
      },
    },
    labelled("Prefix", search),
    h("button", { text: "Search", type: "submit" }),
  );
  const create = h("button", {
    text: "New key",
    type: "button",
    class: "primary",
    on: {
      click: () => {
        selected = null;
        const next = new KeyEditor(null, events);
        next.suggest(prefix);
        open(next);
        renderTree();
      },
    },
  });

  void load();
  const el = h(
    "section",
    { class: "view kv" },
    h("div", { class: "title" }, h("h1", { text: "Key-value" }), live),
    notice.el,
    h("div", { class: "split" }, h("nav", { class: "keys", attrs: { "aria-label": "Keys" } }, form, h("div", { class: "toolbar" }, create, count), tree), detail),
  );
  return { el, select, dispose: () => stream?.close() };
}
