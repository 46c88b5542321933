// The parts of the browser's DOM this console uses, typed here: the project's
// tsconfig carries Bun's types and not lib.dom, and adding lib.dom would
// change how the server code's fetch and streams are typed. The browser tests
// run all of it in a real Chromium, which is what proves these shapes.

export interface Ev {
  readonly type: string;
  readonly key?: string;
  readonly target: unknown;
  preventDefault(): void;
  stopPropagation(): void;
}

export interface El {
  id: string;
  className: string;
  textContent: string | null;
  hidden: boolean;
  title: string;
  readonly classList: { add(...names: string[]): void; remove(...names: string[]): void; toggle(name: string, force?: boolean): boolean; contains(name: string): boolean };
  readonly dataset: Record<string, string | undefined>;
  append(...nodes: (El | string)[]): void;
  replaceChildren(...nodes: (El | string)[]): void;
  remove(): void;
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
  addEventListener(type: string, listener: (event: Ev) => void): void;
  querySelector(selector: string): El | null;
  focus(): void;
}

/** input, textarea, select. */
export interface FieldEl extends El {
  value: string;
  checked: boolean;
  disabled: boolean;
}

export interface ButtonEl extends El {
  disabled: boolean;
}

export interface DialogEl extends El {
  readonly open: boolean;
  showModal(): void;
  close(): void;
}

interface Doc {
  createElement(tag: string): El;
  getElementById(id: string): El | null;
  readonly body: El;
  title: string;
}

interface Storage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

interface Win {
  readonly location: { hash: string; pathname: string };
  readonly sessionStorage: Storage;
  addEventListener(type: string, listener: (event: Ev) => void): void;
}

const browser = globalThis as unknown as { document: Doc; window: Win };
export const doc = browser.document;
export const win = browser.window;

type Child = El | string | null | undefined | false;

export interface Props {
  class?: string;
  text?: string;
  title?: string;
  type?: string;
  placeholder?: string;
  value?: string;
  disabled?: boolean;
  checked?: boolean;
  hidden?: boolean;
  /** Other attributes: aria-*, data-*, for, href, name... */
  attrs?: Record<string, string>;
  on?: Record<string, (event: Ev) => void>;
}

type ElementOf<K extends string> = K extends "input" | "textarea" | "select" ? FieldEl : K extends "button" ? ButtonEl : K extends "dialog" ? DialogEl : El;

/** One element with its properties, listeners and children; text is always set as text, never parsed as HTML. */
export function h<K extends string>(tag: K, props: Props = {}, ...children: Child[]): ElementOf<K> {
  const el = doc.createElement(tag) as ElementOf<K> & Partial<FieldEl>;
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.title !== undefined) el.title = props.title;
  if (props.type !== undefined) el.setAttribute("type", props.type);
  if (props.placeholder !== undefined) el.setAttribute("placeholder", props.placeholder);
  if (props.value !== undefined) el.value = props.value;
  if (props.disabled !== undefined) el.disabled = props.disabled;
  if (props.checked !== undefined) el.checked = props.checked;
  if (props.hidden !== undefined) el.hidden = props.hidden;
  for (const [name, value] of Object.entries(props.attrs ?? {})) el.setAttribute(name, value);
  for (const [type, listener] of Object.entries(props.on ?? {})) el.addEventListener(type, listener);
  for (const child of children) if (child) el.append(child);
  return el;
}

/** A labelled form field: the label wraps the control, so clicking the text focuses it and tests can find it by its label. */
export function labelled(label: string, control: El): El {
  return h("label", { class: "field" }, h("span", { text: label }), control);
}
