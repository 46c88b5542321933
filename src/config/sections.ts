// A plugin's own section of the YAML (`kv: { maxValueBytes: ... }`), checked
// against the plugin's schema with errors worded like the node's own:
//   kv.maxValueBytes: expected an integer 1-67108864, got "big" (config/pontoon.yaml)

import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { ConfigError } from "./errors.ts";
import { findMisshapenMapping, findSchemaProblem, type SchemaProblem } from "./schema-problem.ts";

/**
 * Fills the schema's defaults into a copy of `value` (a missing or empty
 * section counts as `{}`), checks it, and returns it. `yamlPath` is where the
 * section sits (e.g. "kv"); `file`, when given, is named at the end of an error.
 */
export function validateSection<T extends TSchema>(schema: T, value: unknown, yamlPath: string, file?: string): Static<T> {
  const given = value ?? {};
  const misshapen = findMisshapenMapping(schema, given, yamlPath);
  if (misshapen) fail(misshapen, file);
  const withDefaults: unknown = Value.Default(schema, structuredClone(given));
  const found = findSchemaProblem(schema, withDefaults, yamlPath);
  if (found === null) return withDefaults as Static<T>;
  fail(found, file);
}

function fail(found: SchemaProblem, file: string | undefined): never {
  throw new ConfigError(found.unknownKey ? "UNKNOWN_SETTING" : "BAD_SETTING", `${found.path || "(top level)"}: ${found.problem}${file ? ` (${file})` : ""}`, found.path);
}
