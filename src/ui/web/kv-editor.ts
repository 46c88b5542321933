// One key: its value and indexes, an editor with a syntax check, save with
// `cas` (so another person's write in between shows as a conflict instead of
// being overwritten), delete, and the key's history with diffs and rollback.

import { ApiFailure, call, callJson, kvPath } from "./api.ts";
import { h, labelled, type El, type FieldEl } from "./dom.ts";
import { checkSyntax, formatOf, FORMATS, type Format } from "./syntax.ts";
import { confirmAction, diffView, errorParts, Notice } from "./widgets.ts";

export interface Entry {
  key: string;
  value: string;
  createIndex: number;
  modifyIndex: number;
}

interface Version {
  index: number;
  op: "put" | "delete";
  value: string | null;
  createIndex: number;
}

export interface EditorEvents {
  /** The key was deleted here (the view clears the selection). */
  deleted(key: string): void;
  /** A new key was created here (the view selects it). */
  created(key: string): void;
}

export class KeyEditor {
  readonly el: El;
  private readonly notice = new Notice();
  private readonly meta = h("p", { class: "meta" });
  private readonly keyInput = h("input", { attrs: { "aria-label": "Key", name: "key" } });
  private readonly textarea = h("textarea", { attrs: { "aria-label": "Value", spellcheck: "false", rows: "14" } });
  private readonly formatSelect = h("select", { attrs: { "aria-label": "Format" } }, ...FORMATS.map((f) => h("option", { text: f, value: f })));
  private readonly syntax = h("p", { class: "syntax" });
  private readonly remote = h("div", { class: "remote", hidden: true, attrs: { role: "alert" } });
  private readonly conflict = h("div", { class: "conflict", hidden: true, attrs: { role: "alert" } });
  private readonly history = h("div", { class: "history", hidden: true });
  private readonly saveButton = h("button", { text: "Save", type: "button", class: "primary" });
  private syntaxOk = true;
  /** The version the edit started from; null while creating. */
  private base: Entry | null = null;
  private checkRun = 0;

  constructor(
    readonly key: string | null,
    private readonly events: EditorEvents,
  ) {
    const creating = key === null;
    this.textarea.addEventListener("input", () => void this.check());
    this.formatSelect.addEventListener("change", () => void this.check());
    this.saveButton.addEventListener("click", () => void this.save());
    const buttons = h("div", { class: "buttons" }, this.saveButton);
    if (!creating) {
      buttons.append(
        h("button", { text: "Revert", type: "button", title: "Discard your edits and show the stored value", on: { click: () => void this.load() } }),
        h("button", { text: "History", type: "button", on: { click: () => void this.showHistory() } }),
        h("button", { text: "Delete", type: "button", class: "danger", on: { click: () => void this.remove() } }),
      );
    }
    this.el = h(
      "section",
      { class: "editor", attrs: { "aria-label": creating ? "New key" : `Key ${key}` } },
      creating ? h("h2", { text: "New key" }) : h("h2", { class: "key-name", text: key }),
      creating ? labelled("Key", this.keyInput) : this.meta,
      this.notice.el,
      this.remote,
      this.conflict,
      h("div", { class: "row" }, labelled("Format", this.formatSelect), this.syntax),
      this.textarea,
      buttons,
      this.history,
    );
    if (creating) void this.check();
    else void this.load();
  }

  /** Prefills the new key's name (the folder being browsed). */
  suggest(prefix: string): void {
    this.keyInput.value = prefix;
  }

  private get dirty(): boolean {
    return this.base !== null && this.textarea.value !== this.base.value;
  }

  async load(): Promise<void> {
    if (this.key === null) return;
    this.remote.hidden = true;
    this.conflict.hidden = true;
    try {
      const entry = await callJson<Entry>("GET", kvPath(this.key));
      this.show(entry);
      this.notice.clear();
    } catch (error) {
      this.notice.error(error);
    }
  }

  private show(entry: Entry): void {
    this.base = entry;
    this.meta.textContent = `created at index ${entry.createIndex} · modified at index ${entry.modifyIndex}`;
    this.textarea.value = entry.value;
    this.formatSelect.value = formatOf(entry.key, entry.value);
    void this.check();
    if (!this.history.hidden) void this.showHistory();
  }

  /** A change to this key seen on the watch stream. */
  remoteChange(entry: Entry | null, index: number): void {
    if (this.key === null || (this.base && index <= this.base.modifyIndex)) return;
    // Unedited, or the change is our own save seen on the stream before its answer: take it as the new base.
    if (entry && (!this.dirty || entry.value === this.textarea.value)) {
      this.show(entry);
      return;
    }
    this.remote.hidden = false;
    this.remote.replaceChildren(
      entry ? `Someone changed this key at index ${index} while you were editing. ` : `Someone deleted this key at index ${index}. `,
      h("button", { text: "Load their version", type: "button", on: { click: () => void this.load() } }),
    );
  }

  private async check(): Promise<void> {
    const run = ++this.checkRun;
    const format = this.formatSelect.value as Format;
    const result = await checkSyntax(format, this.textarea.value);
    if (run !== this.checkRun) return;
    this.syntaxOk = result.ok;
    this.syntax.className = result.ok ? "syntax ok" : "syntax bad";
    this.syntax.textContent = result.ok ? (format === "text" ? "" : `valid ${format.toUpperCase()}`) : result.message;
  }

  private async save(cas?: number): Promise<void> {
    const key = this.key ?? this.keyInput.value.trim();
    await this.check();
    if (!this.syntaxOk) {
      this.notice.error(new Error(`Not saved: ${this.syntax.textContent}. Fix it, or set the format to text to store it as it is.`));
      return;
    }
    const expected = cas ?? this.base?.modifyIndex ?? 0;
    try {
      const { index } = await callJson<{ index: number }>("PUT", `${kvPath(key)}?cas=${expected}`, { body: this.textarea.value });
      this.conflict.hidden = true;
      this.remote.hidden = true;
      if (this.key === null) {
        this.events.created(key);
        return;
      }
      this.notice.ok(`Saved at index ${index}.`);
      this.show({ key, value: this.textarea.value, createIndex: this.base?.createIndex ?? index, modifyIndex: index });
    } catch (error) {
      if (error instanceof ApiFailure && error.status === 409 && "current" in error.body) this.showConflict(error, error.body.current as Entry | null);
      else this.notice.error(error);
    }
  }

  /** A cas refusal: what the API said, their version against ours, and the two ways out. */
  private showConflict(failure: ApiFailure, theirs: Entry | null): void {
    this.notice.clear();
    this.remote.hidden = true;
    this.conflict.hidden = false;
    const mine = this.textarea.value;
    this.conflict.replaceChildren(
      h("h3", { text: "Conflict: not saved" }),
      h("p", {}, ...errorParts(failure)),
      theirs ? h("p", { text: `Their version (modified at index ${theirs.modifyIndex}) against yours:` }) : h("p", { text: "The key no longer exists." }),
      theirs ? diffView(theirs.value, mine, ["theirs", "yours"]) : h("span"),
      h(
        "div",
        { class: "buttons" },
        h("button", {
          text: "Overwrite with mine",
          type: "button",
          class: "danger",
          on: {
            click: async () => {
              if (await confirmAction("Overwrite", `Replace their version${theirs ? ` (index ${theirs.modifyIndex})` : ""} with yours?`, "Overwrite", true)) void this.save(theirs?.modifyIndex ?? 0);
            },
          },
        }),
        theirs ? h("button", { text: "Take theirs", type: "button", on: { click: () => ((this.conflict.hidden = true), this.show(theirs)) } }) : h("span"),
      ),
    );
  }

  private async remove(): Promise<void> {
    if (this.key === null || !this.base) return;
    if (!(await confirmAction("Delete key", `Delete ${this.key}? Its history keeps the last versions for a rollback.`, "Delete", true))) return;
    try {
      await call("DELETE", `${kvPath(this.key)}?cas=${this.base.modifyIndex}`);
      this.events.deleted(this.key);
    } catch (error) {
      if (error instanceof ApiFailure && error.status === 409 && "current" in error.body) this.showConflict(error, error.body.current as Entry | null);
      else this.notice.error(error);
    }
  }

  private async showHistory(): Promise<void> {
    if (this.key === null) return;
    this.history.hidden = false;
    let versions: Version[];
    try {
      versions = (await callJson<{ versions: Version[] }>("GET", `${kvPath(this.key)}?history`)).versions;
    } catch (error) {
      this.history.replaceChildren(h("p", { class: "notice error" }, ...errorParts(error)));
      return;
    }
    const label = (v: Version) => `index ${v.index} (${v.op})`;
    const options = (select: FieldEl) => {
      select.append(...versions.map((v) => h("option", { text: label(v), value: String(v.index) })), h("option", { text: "the editor (unsaved)", value: "editor" }));
      return select;
    };
    const from = options(h("select", { attrs: { "aria-label": "Compare from" } }));
    const to = options(h("select", { attrs: { "aria-label": "Compare to" } }));
    from.value = String((versions[1] ?? versions[0])!.index);
    to.value = this.dirty ? "editor" : String(versions[0]!.index);
    const textOf = (choice: string) => (choice === "editor" ? this.textarea.value : (versions.find((v) => String(v.index) === choice)?.value ?? ""));
    const labelOf = (choice: string) => (choice === "editor" ? "the editor" : `index ${choice}`);
    const diff = h("div");
    const compare = () => diff.replaceChildren(diffView(textOf(from.value), textOf(to.value), [labelOf(from.value), labelOf(to.value)]));
    from.addEventListener("change", compare);
    to.addEventListener("change", compare);
    const rows = versions.map((v) =>
      h(
        "tr",
        { attrs: { "data-version": String(v.index) } },
        h("td", { text: String(v.index) }),
        h("td", { text: v.op }),
        h("td", { class: "value", text: v.value === null ? "(deleted)" : v.value.length > 80 ? `${v.value.slice(0, 80)}…` : v.value }),
        h("td", {}, h("button", { text: "Roll back", type: "button", disabled: v.index === this.base?.modifyIndex, on: { click: () => void this.rollback(v) } })),
      ),
    );
    this.history.replaceChildren(
      h("h3", { text: "History" }),
      h("table", { class: "versions" }, h("thead", {}, h("tr", {}, h("th", { text: "Index" }), h("th", { text: "Op" }), h("th", { text: "Value" }), h("th"))), h("tbody", {}, ...rows)),
      h("div", { class: "row" }, labelled("From", from), labelled("To", to)),
      diff,
    );
    compare();
  }

  private async rollback(version: Version): Promise<void> {
    if (this.key === null) return;
    const what = version.op === "delete" ? `delete ${this.key} again (as at index ${version.index})` : `write the value of index ${version.index} back as a new version`;
    if (!(await confirmAction("Roll back", `Roll back: ${what}?`, "Roll back", true))) return;
    try {
      const result = await callJson<{ index: number }>("POST", `${kvPath(this.key)}/rollback`, { json: { toIndex: version.index } });
      if (version.op === "delete") return this.events.deleted(this.key);
      await this.load();
      this.notice.ok(`Rolled back to index ${version.index}: new version at index ${result.index}.`);
    } catch (error) {
      this.notice.error(error);
    }
  }
}
