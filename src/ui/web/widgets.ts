// Small pieces every view uses: the confirmation dialog, the notice line that
// reports an action's result or the API's error, and a diff's rendering.

import { ApiFailure } from "./api.ts";
import { lineDiff } from "./diff.ts";
import { doc, h, type El } from "./dom.ts";

/** What the shell shows in its main area, and closes (its streams) when the route moves on. */
export interface View {
  el: El;
  dispose(): void;
}

/** Asks before an action; resolves true only when the user confirms. */
export function confirmAction(title: string, text: string, confirmLabel: string, danger = false): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      dialog.close();
      dialog.remove();
      resolve(ok);
    };
    const dialog = h(
      "dialog",
      { class: "confirm", attrs: { "aria-label": title } },
      h("h2", { text: title }),
      h("p", { text }),
      h(
        "div",
        { class: "buttons" },
        h("button", { text: "Cancel", type: "button", on: { click: () => finish(false) } }),
        h("button", { text: confirmLabel, type: "button", class: danger ? "danger" : "primary", on: { click: () => finish(true) } }),
      ),
    );
    // Escape closes a modal dialog without a click: count it as cancel.
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    doc.body.append(dialog);
    dialog.showModal();
  });
}

/** The line under a view's title that says what the last action did, or what the API answered when it failed. */
export class Notice {
  readonly el = h("div", { class: "notice", attrs: { role: "status", "aria-live": "polite" } });

  ok(text: string): void {
    this.el.className = "notice ok";
    this.el.replaceChildren(text);
  }

  error(error: unknown): void {
    this.el.className = "notice error";
    this.el.replaceChildren(...errorParts(error));
  }

  clear(): void {
    this.el.className = "notice";
    this.el.replaceChildren();
  }
}

/** An error as the API worded it: its code, then its message. */
export function errorParts(error: unknown): (El | string)[] {
  if (error instanceof ApiFailure) return [h("code", { text: error.code }), " ", error.message];
  return [String((error as Error)?.message ?? error)];
}

export function diffView(before: string, after: string, labels: [string, string]): El {
  const lines = lineDiff(before, after);
  const head = h("div", { class: "diff-head" }, h("span", { class: "del", text: `− ${labels[0]}` }), h("span", { class: "add", text: `+ ${labels[1]}` }));
  if (lines === null) return h("div", { class: "diff" }, head, h("p", { text: "These versions are too large to compare line by line here." }));
  if (lines.every((l) => l.op === "same")) return h("div", { class: "diff" }, head, h("p", { text: "No differences." }));
  const sign = { same: " ", add: "+", del: "−" } as const;
  return h("div", { class: "diff" }, head, h("pre", {}, ...lines.map((l) => h("div", { class: `line ${l.op}`, text: `${sign[l.op]} ${l.text}` }))));
}

export function formatMs(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
