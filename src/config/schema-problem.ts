// TypeBox's first complaint about a value, reworded for a person editing YAML:
// the setting's YAML path (`cluster.peers[1].raft`), what it takes and what it
// got. Shared by the node's own sections and every plugin's.

import type { TSchema } from "@sinclair/typebox";
import { Value, ValueErrorType, type ValueError } from "@sinclair/typebox/value";

export interface SchemaProblem {
  /** YAML path of the offending setting, e.g. `raft.port` or `cluster.peers[0].id`. */
  path: string;
  /** What is wrong, e.g. `expected an integer 1-65535, got "abc"`. */
  problem: string;
  /** The setting is one the schema does not have (a typo, or a setting of another section). */
  unknownKey: boolean;
}

/** Looks at this many errors at most, to prefer the most telling one. */
const ERRORS_CONSIDERED = 64;

/** The most useful problem with `value` (prefixed with `basePath`), or null when it matches `schema`. */
export function findSchemaProblem(schema: TSchema, value: unknown, basePath = ""): SchemaProblem | null {
  if (Value.Check(schema, value)) return null;
  const errors: ValueError[] = [];
  for (const error of Value.Errors(schema, value)) {
    errors.push(error);
    if (errors.length >= ERRORS_CONSIDERED) break;
  }
  // A misspelt key usually also leaves the real one missing; naming the typo is what helps.
  const chosen = errors.find((e) => e.type === ValueErrorType.ObjectAdditionalProperties) ?? errors[0];
  if (!chosen) return { path: basePath, problem: "is not valid", unknownKey: false };
  return { path: yamlPath(basePath, chosen.path, value), problem: describe(chosen), unknownKey: chosen.type === ValueErrorType.ObjectAdditionalProperties };
}

/**
 * A list or a single value where the schema wants a mapping. Checked before
 * TypeBox fills defaults, because filling a mapping's defaults into a list
 * turns `[1]` into `{ "0": 1, ... }` and the error would then name a key "0".
 */
export function findMisshapenMapping(schema: TSchema, value: unknown, path: string): SchemaProblem | null {
  const s = schema as TSchema & { type?: unknown; properties?: Record<string, TSchema> };
  if (s.type !== "object" || !s.properties || value === undefined || value === null) return null;
  if (Array.isArray(value) || typeof value !== "object") {
    return { path, problem: `expected ${expected(schema)}, got ${shown(value)}`, unknownKey: false };
  }
  for (const [key, property] of Object.entries(s.properties)) {
    const found = findMisshapenMapping(property, (value as Record<string, unknown>)[key], path === "" ? key : `${path}.${key}`);
    if (found) return found;
  }
  return null;
}

/** `/cluster/peers/0/id` → `cluster.peers[0].id`, using the value to tell list indexes from keys. */
export function yamlPath(basePath: string, pointer: string, value: unknown): string {
  let path = basePath;
  let at: unknown = value;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(at)) {
      path += `[${key}]`;
    } else {
      path += path === "" ? key : `.${key}`;
    }
    at = at !== null && typeof at === "object" ? (at as Record<string, unknown>)[key] : undefined;
  }
  return path;
}

function describe(error: ValueError): string {
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    const known = Object.keys((error.schema as { properties?: object }).properties ?? {});
    return known.length > 0 ? `unknown setting; known here: ${known.join(", ")}` : "unknown setting";
  }
  if (error.type === ValueErrorType.ObjectRequiredProperty) return `missing; expected ${expected(error.schema, error)}`;
  return `expected ${expected(error.schema, error)}, got ${shown(error.value)}`;
}

/** The schema's own `expected` wording, or one derived from its type and limits. */
function expected(schema: TSchema, error?: ValueError): string {
  const s = schema as TSchema & Record<string, unknown>;
  if (typeof s.expected === "string") return s.expected;
  const anyOf = s.anyOf as { const?: unknown }[] | undefined;
  if (anyOf?.every((choice) => choice.const !== undefined)) return `one of ${anyOf.map((choice) => String(choice.const)).join(", ")}`;
  const range = (noun: string): string => {
    const min = s.minimum as number | undefined;
    const max = s.maximum as number | undefined;
    if (min !== undefined && max !== undefined) return `${noun} ${min}-${max}`;
    if (min !== undefined) return `${noun} of at least ${min}`;
    if (max !== undefined) return `${noun} of at most ${max}`;
    return noun;
  };
  switch (s.type) {
    case "integer":
      return range("an integer");
    case "number":
      return range("a number");
    case "boolean":
      return "true or false";
    case "string":
      if (typeof s.format === "string") return `a ${s.format} string`;
      if (typeof s.pattern === "string") return `text matching ${s.pattern}`;
      if (typeof s.minLength === "number" && s.minLength > 0) return "a non-empty string";
      return "a string";
    case "array":
      return typeof s.minItems === "number" && s.minItems > 0 ? `a list of at least ${s.minItems}` : "a list";
    case "object": {
      const keys = Object.keys((s.properties as object | undefined) ?? {});
      return keys.length > 0 ? `a mapping of ${keys.join(", ")}` : "a mapping";
    }
    default:
      return error ? error.message.replace(/^Expected /, "").toLowerCase() : "a different value";
  }
}

/** The offending value as it would read in YAML terms. */
export function shown(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : `a list ${truncate(JSON.stringify(value))}`;
  if (typeof value === "object") return `a mapping ${truncate(JSON.stringify(value))}`;
  return truncate(JSON.stringify(value) ?? String(value));
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
