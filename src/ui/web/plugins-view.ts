// Plugin routes, for every plugin (the only view of one without a page of
// its own in plugin-pages.ts): its routes as GET /openapi describes them (the
// node builds that document from the routes' schemas), each with a form to
// call it and the answer shown as it came.

import { call, callJson } from "./api.ts";
import { h, labelled, type El, type FieldEl } from "./dom.ts";
import { pageOf } from "./plugin-pages.ts";
import { confirmAction, errorParts, Notice, type View } from "./widgets.ts";

interface Parameter {
  name: string;
  in: "path" | "query";
  required: boolean;
  description?: string;
  schema?: { description?: string };
}

interface Operation {
  summary?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, unknown> };
}

interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
}

/** Tags that are the node's own routes, not a plugin's. */
const CORE_TAGS = new Set(["cluster", "health", "pontoon", "metrics", "openapi", "ui"]);

export async function pluginNames(): Promise<string[]> {
  const status = await callJson<{ plugins?: Record<string, string[]> }>("GET", "/v1/cluster");
  return [...new Set(Object.values(status.plugins ?? {}).flat())].sort();
}

export function pluginsView(name: string | null): View {
  const notice = new Notice();
  const body = h("div");
  const el = h("section", { class: "view plugins" }, h("h1", { text: name ? `Plugin: ${name}` : "Plugins" }), notice.el, body);
  void (async () => {
    try {
      if (name === null) {
        const names = await pluginNames();
        body.replaceChildren(
          h("p", { text: "Each plugin's routes, from the node's OpenAPI document; a plugin with a page of its own also has its tab." }),
          h("ul", { class: "plugin-list" }, ...names.map((n) => h("li", {}, h("a", { text: n, attrs: { href: `#/plugins/${encodeURIComponent(n)}` } }), pageOf(n) ? h("span", { class: "hint" }, " · ", h("a", { class: "page", text: `${pageOf(n)!.title} page`, attrs: { href: `#/${encodeURIComponent(n)}` } })) : null))),
        );
        return;
      }
      const document = await callJson<OpenApi>("GET", "/openapi");
      const routes = Object.entries(document.paths).flatMap(([path, methods]) =>
        Object.entries(methods)
          .filter(([, op]) => (op.tags ?? []).includes(name) && !(op.tags ?? []).some((t) => CORE_TAGS.has(t)))
          .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
      );
      if (routes.length === 0) body.replaceChildren(h("p", { text: `The OpenAPI document lists no routes for ${name}.` }));
      else body.replaceChildren(...routes.map((r) => routeCard(r.method, r.path, r.op)));
    } catch (error) {
      notice.error(error);
    }
  })();
  return { el, dispose: () => {} };
}

function routeCard(method: string, path: string, op: Operation): El {
  const params = op.parameters ?? [];
  const inputs = new Map<Parameter, FieldEl>(params.map((p) => [p, h("input", { placeholder: p.required ? "required" : "optional", attrs: { name: p.name } })]));
  const bodyInput = op.requestBody ? h("textarea", { attrs: { "aria-label": "Request body", rows: "4", spellcheck: "false" } }) : null;
  const result = h("div", { class: "result" });
  const send = async (): Promise<void> => {
    let url = path;
    const query = new URLSearchParams();
    for (const [p, input] of inputs) {
      const value = input.value;
      if (p.in === "path") url = url.replace(`{${p.name}}`, p.name === "key" ? value.split("/").map(encodeURIComponent).join("/") : encodeURIComponent(value));
      else if (value !== "") query.set(p.name, value);
    }
    if (query.size > 0) url += `?${query}`;
    if (method !== "GET" && !(await confirmAction("Send request", `${method} ${url}: this changes the cluster's state.`, "Send", method === "DELETE"))) return;
    try {
      const json = op.requestBody && "application/json" in op.requestBody.content;
      const response = await call(method, url, bodyInput ? (json ? { body: bodyInput.value, headers: { "content-type": "application/json" } } : { body: bodyInput.value }) : {});
      result.replaceChildren(h("p", { class: "notice ok", text: `${response.status} ${method} ${url}` }), h("pre", { text: await bodyText(response) }));
    } catch (error) {
      result.replaceChildren(h("p", { class: "notice error" }, ...errorParts(error)));
    }
  };
  return h(
    "article",
    { class: "route", attrs: { "data-route": `${method} ${path}` } },
    h("h2", {}, h("span", { class: `method ${method.toLowerCase()}`, text: method }), " ", h("code", { text: path })),
    op.summary ? h("p", { text: op.summary }) : null,
    params.length ? h("div", { class: "row" }, ...[...inputs].map(([p, input]) => labelled(`${p.name}${p.in === "query" ? " (query)" : ""}`, input))) : null,
    params.some((p) => p.description ?? p.schema?.description) ? h("ul", { class: "param-docs" }, ...params.filter((p) => p.description ?? p.schema?.description).map((p) => h("li", {}, h("code", { text: p.name }), ` ${p.description ?? p.schema?.description}`))) : null,
    bodyInput ? labelled("Body", bodyInput) : null,
    h("button", { text: "Send", type: "button", on: { click: () => void send() } }),
    result,
  );
}

/** The answer as text; of an event stream (a watch), only what came first, since it never ends. */
async function bodyText(response: Response): Promise<string> {
  if (!(response.headers.get("content-type") ?? "").includes("text/event-stream") || !response.body) return pretty(await response.text());
  const reader = response.body.getReader();
  const first = await reader.read();
  await reader.cancel();
  return `${new TextDecoder().decode(first.value ?? new Uint8Array())}\n(a stream of Server-Sent Events: this is its start)`;
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
