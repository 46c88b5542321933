// What a key may be (CONTRACT.md): 1-512 bytes of UTF-8, `/` separates
// segments, no empty segment (so no leading, trailing or doubled `/`), no
// control characters. Checked at the edge so a bad key is a 400 that says why.

import { Type } from "@sinclair/typebox";
import { PluginError } from "../../src/fsm/sdk.ts";

export const MAX_KEY_BYTES = 512;

/** A key in a command. The schema bounds its length in UTF-16 units; keyProblem, at the edge, in bytes. */
export const keySchema = Type.String({ minLength: 1, maxLength: MAX_KEY_BYTES });
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The reason `key` is not a valid key, or null when it is. */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return "a key must not be empty";
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_KEY_BYTES) return `a key is at most ${MAX_KEY_BYTES} bytes of UTF-8; this one is ${bytes}`;
  if (key.isWellFormed && !key.isWellFormed()) return "a key must be valid UTF-8 (it has a lone surrogate)";
  if (CONTROL.test(key)) return "a key must not contain control characters";
  if (key.split("/").some((segment) => segment.length === 0)) return "a key has no empty segments: no leading, trailing or doubled '/'";
  return null;
}

export function assertKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new PluginError("INVALID_KEY", `${problem} (key ${JSON.stringify(key.slice(0, 80))})`, 400, { field: "key" });
}

/** A prefix is a key or the start of one: it may be empty and may end with '/'. */
export function assertPrefix(prefix: string): void {
  if (prefix === "") return;
  const trimmed = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  const problem = trimmed === "" ? "a prefix must not start with '/'" : keyProblem(trimmed);
  if (problem) throw new PluginError("INVALID_PREFIX", `${problem} (prefix ${JSON.stringify(prefix.slice(0, 80))})`, 400, { field: "prefix" });
}
