// Calls to the node that served the page, with the token from session
// storage. A failed call throws ApiFailure carrying the API's own code and
// message, so the console shows errors as the API words them.

import { win } from "./dom.ts";

const TOKEN_KEY = "pontoon.token";

export const token = {
  get: (): string | null => win.sessionStorage.getItem(TOKEN_KEY),
  set: (value: string): void => win.sessionStorage.setItem(TOKEN_KEY, value),
  clear: (): void => win.sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The whole error body: `current` for a failed cas, `field` for bad input. */
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Called when the node answers 401, so the shell can ask for a token again. */
let onUnauthorized: (failure: ApiFailure) => void = () => {};
export function whenUnauthorized(handler: (failure: ApiFailure) => void): void {
  onUnauthorized = handler;
}

export function authHeaders(): Record<string, string> {
  const t = token.get();
  return t ? { authorization: `Bearer ${t}` } : {};
}

export interface CallOptions {
  body?: string;
  json?: unknown;
  headers?: Record<string, string>;
  /** Ends a long call (a blocking query) when its view closes. */
  signal?: AbortSignal;
}

/** The response of a call that succeeded (2xx); anything else throws ApiFailure. */
export async function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...authHeaders(), ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers["content-type"] = "application/json";
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body, signal: options.signal });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiFailure(0, "NETWORK", `the node could not be reached (${String(error)})`, {});
  }
  if (response.ok) return response;
  throw await refusal(response);
}

/** The failure of a response that was not 2xx; a 401 also sends the user back to the token prompt. */
export async function refusal(response: Response): Promise<ApiFailure> {
  const failure = await failureOf(response);
  if (failure.status === 401) onUnauthorized(failure);
  return failure;
}

export async function callJson<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  return (await (await call(method, path, options)).json()) as T;
}

export async function failureOf(response: Response): Promise<ApiFailure> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiFailure(response.status, body.error.code ?? "ERROR", body.error.message, body as Record<string, unknown>);
  } catch {
    // not our error format: fall through
  }
  return new ApiFailure(response.status, `HTTP_${response.status}`, text.trim() || response.statusText, {});
}

/** `/v1/kv/<key>` with each segment percent-encoded. */
export function kvPath(key: string): string {
  return `/v1/kv/${key.split("/").map(encodeURIComponent).join("/")}`;
}
