// What a plugin's own console page is given: the one file a plugin author
// imports from (types only, so a page's bundle carries none of the console).
// A page is a module whose default export is a ConsolePage; the plugin names
// it in definePlugin({ consolePage: { title, module } }). The console bundles
// it on its own, serves it at /ui/plugins/<plugin>.js, and calls it when its
// tab opens. Change this file only by adding: pages written against it
// must keep working.
//
//   import type { ConsolePage } from "../../src/ui/web/page-api.ts";
//   const page: ConsolePage = (root, api) => {
//     void api.get<Flag[]>("/v1/flags/").then((flags) => ..., api.onError);
//   };
//   export default page;

/**
 * The element a page draws in, and what it creates inside it. In the browser
 * these are HTMLElements; they are declared here by the members a page needs,
 * since the project compiles without lib.dom (a page compiled with lib.dom
 * may treat them as HTMLElement).
 */
export interface PageElement {
  textContent: string | null;
  className: string;
  hidden: boolean;
  readonly dataset: Record<string, string | undefined>;
  readonly ownerDocument: { createElement(tag: string): PageElement };
  append(...nodes: (PageElement | string)[]): void;
  replaceChildren(...nodes: (PageElement | string)[]): void;
  remove(): void;
  setAttribute(name: string, value: string): void;
  getAttribute(name: string): string | null;
  addEventListener(type: string, listener: (event: { preventDefault(): void; target: unknown }) => void): void;
  querySelector(selector: string): PageElement | null;
}

/** input, select, textarea. */
export interface PageField extends PageElement {
  value: string;
  checked: boolean;
  disabled: boolean;
}

/** A call the node refused: the API's own code and message (and the whole error body: `field`, ...). */
export interface ConsolePageFailure extends Error {
  /** HTTP status; 0 when the node could not be reached. */
  readonly status: number;
  readonly code: string;
  readonly body: Record<string, unknown>;
}

/**
 * Calls to the node that served the console, with the user's token. Paths
 * are the API's (`/v1/<plugin>/...`). A 2xx resolves with the body (parsed
 * when JSON, else text); anything else rejects with a ConsolePageFailure
 * worded as the API worded it. A 401 also returns the user to the token
 * prompt.
 */
export interface ConsolePageApi {
  /** The plugin whose page this is. */
  readonly plugin: string;
  get<T = unknown>(path: string): Promise<T>;
  post<T = unknown>(path: string, body?: unknown): Promise<T>;
  put<T = unknown>(path: string, body?: unknown): Promise<T>;
  del<T = unknown>(path: string, body?: unknown): Promise<T>;
  /** Shows an error (a ConsolePageFailure with its code, or any message) on the page's notice line; null clears it. */
  onError(error: unknown): void;
  /** Aborted when the tab closes: calls made through this object end then, and a page ends its own timers on it. */
  readonly signal: AbortSignal;
}

/** A page's default export. What it returns, if a function, is called when the tab closes. */
export type ConsolePage = (root: PageElement, api: ConsolePageApi) => void | (() => void);
