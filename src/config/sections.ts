// Validating one section of the config against a schema (a plugin's own), with
// errors worded like the rest: the YAML path and what was expected.

import type { TSchema } from "@sinclair/typebox";
import { Value, type ValueError } from "@sinclair/typebox/value";
import { ConfigError } from "./errors.ts";

/** Fills defaults, then checks; returns the section's value. `yamlPath` is where it sits (e.g. "kv"). */
export function validateSection<T>(schema: TSchema, value: unknown, yamlPath: string): T {
  const withDefaults = Value.Default(schema, structuredClone(value ?? {}));
  if (Value.Check(schema, withDefaults)) return withDefaults as T;
  const error = Value.Errors(schema, withDefaults).First()!;
  const path = [yamlPath, ...error.path.split("/").filter(Boolean)].join(".");
  throw new ConfigError("BAD_SETTING", `${path}: ${describeSchemaError(error)}`, path);
}

/** TypeBox's wording, plus the offending value and, for enumerations, the choices. */
export function describeSchemaError(error: ValueError): string {
  const schema = error.schema as { anyOf?: { const?: unknown }[]; description?: string; minimum?: number; maximum?: number };
  const got = error.value === undefined ? "nothing" : JSON.stringify(error.value);
  if (schema.anyOf?.every((s) => s.const !== undefined)) return `expected one of ${schema.anyOf.map((s) => JSON.stringify(s.const)).join(", ")}, got ${got}`;
  const hint = schema.description ? ` (${schema.description})` : "";
  if (error.message.startsWith("Unexpected property")) return `unknown setting`;
  return `${error.message.toLowerCase()}${hint}, got ${got}`;
}
