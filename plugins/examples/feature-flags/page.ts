// The flags plugin's page in the web console (its "Feature flags" tab): every
// flag with its rollout, a form that creates or replaces one, and a delete
// button per flag. Written against ConsolePageApi only: the console hands it
// an element and a way to call the node with the user's token, and shows the
// API's refusals (a bad name, maxFlags reached) as the API words them.

import type { ConsolePage, PageElement, PageField } from "../../../src/ui/web/page-api.ts";
// Types only: erased when the console bundles this page, so none of the plugin's server code comes along.
import type { Flag } from "./index.ts";

const page: ConsolePage = (root, api) => {
  const el = (tag: string, attrs: Record<string, string> = {}, ...children: (PageElement | string)[]): PageElement => {
    const e = root.ownerDocument.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) e.setAttribute(name, value);
    e.append(...children);
    return e;
  };
  const field = (tag: string, attrs: Record<string, string>) => el(tag, attrs) as PageField;
  const label = (text: string, control: PageElement) => el("label", { class: "field" }, el("span", {}, text), control);

  const rows = el("tbody");
  const count = el("p", { class: "hint" });
  const name = field("input", { name: "name", required: "", pattern: "[a-z0-9][a-z0-9._\\-]{0,63}", placeholder: "new-checkout" });
  const enabled = field("input", { name: "enabled", type: "checkbox" });
  const rollout = field("input", { name: "rollout", type: "number", min: "0", max: "100", value: "100", required: "" });
  const description = field("input", { name: "description", placeholder: "optional" });
  const saved = el("p", { class: "notice ok", role: "status" });
  const form = el(
    "form",
    { class: "flag-form", "aria-label": "Create or update a flag" },
    el("h2", {}, "Create or update a flag"),
    el("div", { class: "row" }, label("Name", name), label("Rollout %", rollout), label("Description", description), label("Enabled", enabled)),
    el("button", { type: "submit", class: "primary" }, "Save"),
    saved,
  );

  const load = async (): Promise<void> => {
    const flags = await api.get<Flag[]>("/v1/flags/");
    count.textContent = flags.length === 1 ? "1 flag" : `${flags.length} flags`;
    rows.replaceChildren(
      ...flags.map((f) => {
        const edit = el("button", { type: "button" }, "Edit");
        edit.addEventListener("click", () => {
          name.value = f.name;
          enabled.checked = f.enabled;
          rollout.value = String(f.rollout);
          description.value = f.description;
        });
        const remove = el("button", { type: "button", class: "danger" }, "Delete");
        remove.addEventListener("click", () => void act(`Deleted ${f.name}.`, () => api.del(`/v1/flags/${encodeURIComponent(f.name)}`)));
        return el("tr", { "data-flag": f.name }, el("td", {}, el("code", {}, f.name)), el("td", {}, f.enabled ? "on" : "off"), el("td", {}, `${f.rollout}%`), el("td", {}, f.description), el("td", {}, String(f.version)), el("td", {}, edit, " ", remove));
      }),
    );
  };

  /** Runs a change, then shows the list as the node now has it; a refusal goes to the console's notice line. */
  const act = async (done: string, change: () => Promise<unknown>): Promise<void> => {
    saved.textContent = "";
    try {
      await change();
      api.onError(null);
      saved.textContent = done;
      await load();
    } catch (error) {
      if (!api.signal.aborted) api.onError(error);
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { enabled: enabled.checked, rollout: Number(rollout.value), ...(description.value ? { description: description.value } : {}) };
    void act(`Saved ${name.value}.`, () => api.put(`/v1/flags/${encodeURIComponent(name.value)}`, body));
  });

  root.replaceChildren(
    count,
    el("table", { class: "flags" }, el("thead", {}, el("tr", {}, ...["Flag", "State", "Rollout", "Description", "Version", ""].map((t) => el("th", {}, t)))), rows),
    form,
  );
  load().catch((error: unknown) => api.signal.aborted || api.onError(error));
};

export default page;
