// The console's shell: asks for a token when the node wants one, then shows
// the navigation and the view the URL's hash names (#/cluster, #/kv/<key>,
// #/plugins/<name>, and #/<plugin>/... for a plugin with a page of its own:
// #/naming/<service>, #/ipvs, #/flags), so a view can be bookmarked and reloaded.

import { ApiFailure, callJson, token, whenUnauthorized } from "./api.ts";
import { clusterView } from "./cluster-view.ts";
import { doc, h, labelled, win, type El } from "./dom.ts";
import { kvView, type KvView } from "./kv-view.ts";
import { addShippedPages, pageOf } from "./plugin-pages.ts";
import { pluginNames, pluginsView } from "./plugins-view.ts";
import { errorParts, type View } from "./widgets.ts";

const app = doc.getElementById("app")!;
let current: { name: string; view: View } | null = null;
let main: El | null = null;
let nav: El | null = null;
/** The plugins this node runs: only their pages get a tab. */
let loaded: string[] = [];

function route(): { name: string; rest: string[] } {
  const parts = win.location.hash.replace(/^#\/?/, "").split("/");
  const name = parts[0] || "cluster";
  return { name, rest: parts.slice(1).map((p) => decodeURIComponent(p)) };
}

function show(): void {
  if (!main) return;
  const { name, rest } = route();
  const page = loaded.includes(name) ? pageOf(name) : null;
  const key = name === "plugins" || page ? `${name}/${rest.join("/")}` : name;
  if (current?.name === key && name === "kv") {
    (current.view as KvView).select(rest.length && rest.join("/") ? rest.join("/") : null);
    return;
  }
  current?.view.dispose();
  let view: View;
  if (name === "kv") {
    const kv = kvView();
    kv.select(rest.length && rest.join("/") ? rest.join("/") : null);
    view = kv;
  } else if (name === "plugins") {
    view = pluginsView(rest[0] ?? null);
  } else if (page) {
    view = page.open(rest);
  } else {
    view = clusterView();
  }
  current = { name: key, view };
  main.replaceChildren(view.el);
  const tabs = ["cluster", "kv", ...pageTabs(), "plugins"];
  for (const link of tabs) nav?.querySelector(`a[data-nav="${link}"]`)?.classList.toggle("active", link === name || (link === "cluster" && !tabs.includes(name)));
}

function pageTabs(): string[] {
  return loaded.filter((p) => pageOf(p) !== null);
}

function shell(nodeId: string, plugins: string[]): void {
  loaded = plugins;
  const link = (id: string, text: string) => h("a", { text, attrs: { href: `#/${id}`, "data-nav": id } });
  nav = h("nav", { class: "main-nav", attrs: { "aria-label": "Views" } }, link("cluster", "Cluster"), link("kv", "KV"), ...pageTabs().map((p) => link(p, pageOf(p)!.title)), link("plugins", "Plugins"));
  const who = h("span", { class: "node", text: `node ${nodeId}`, title: `This page talks to node ${nodeId}` });
  const signOut = token.get() ? h("button", { text: "Sign out", type: "button", on: { click: () => (token.clear(), login("Signed out.")) } }) : null;
  main = h("main", { attrs: { "data-plugins": plugins.join(",") } });
  app.replaceChildren(h("header", { class: "top" }, h("a", { class: "brand", text: "Pontoon", attrs: { href: "#/cluster" } }), nav, h("div", { class: "who" }, who, signOut)), main);
  show();
}

/** The token prompt, with what the node said when it refused. */
function login(reason: string | ApiFailure): void {
  current?.view.dispose();
  current = null;
  main = null;
  const input = h("input", { type: "password", attrs: { name: "token", autocomplete: "current-password", required: "" } });
  const message = h("p", { class: "notice error", attrs: { role: "alert" } }, ...(typeof reason === "string" ? [reason] : errorParts(reason)));
  const form = h(
    "form",
    {
      class: "login",
      on: {
        submit: (event) => {
          event.preventDefault();
          token.set(input.value.trim());
          void start();
        },
      },
    },
    h("h1", { text: "Pontoon" }),
    h("p", { text: "This node needs a token. It is kept for this browser tab only (session storage)." }),
    message,
    labelled("Token", input),
    h("button", { text: "Sign in", type: "submit", class: "primary" }),
  );
  app.replaceChildren(form);
  input.focus();
}

async function start(): Promise<void> {
  try {
    const status = await callJson<{ id: string }>("GET", "/v1/cluster");
    // Without this list the console still works: its plugins' own pages just get no tab.
    addShippedPages(await callJson<Record<string, { title: string }>>("GET", "/ui/plugins.json").catch(() => ({})));
    shell(status.id, await pluginNames().catch(() => []));
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 401) return; // whenUnauthorized shows the prompt
    app.replaceChildren(h("p", { class: "notice error" }, ...errorParts(error)));
  }
}

whenUnauthorized((failure) => {
  token.clear();
  login(failure);
});
win.addEventListener("hashchange", show);
void start();
