// validateSection: how a plugin checks its own part of the YAML, with errors
// worded like the node's own.

import { describe, expect, it } from "bun:test";
import { Type } from "@sinclair/typebox";
import { ConfigError, type ConfigErrorCode } from "../../src/config/errors.ts";
import { validateSection } from "../../src/config/sections.ts";
import { kvConfig } from "../../plugins/kv/commands.ts";

describe("validateSection", () => {
  it("fills the plugin's defaults for a missing or empty section", () => {
    expect(validateSection(kvConfig, undefined, "kv")).toEqual({ maxValueBytes: 1_048_576, history: 10 });
    expect(validateSection(kvConfig, null, "kv")).toEqual({ maxValueBytes: 1_048_576, history: 10 });
    expect(validateSection(kvConfig, { maxValueBytes: 10 }, "kv")).toEqual({ maxValueBytes: 10, history: 10 });
  });

  it("does not change the value it was given", () => {
    const section = {};
    validateSection(kvConfig, section, "kv");
    expect(section).toEqual({});
  });

  const schema = Type.Object(
    { ttl: Type.Integer({ minimum: 1 }), mode: Type.Union([Type.Literal("fast"), Type.Literal("safe")]), tags: Type.Array(Type.String()) },
    { additionalProperties: false },
  );
  const cases: { name: string; value: unknown; code: ConfigErrorCode; message: string }[] = [
    { name: "a value of the wrong type", value: { maxValueBytes: "big" }, code: "BAD_SETTING", message: 'kv.maxValueBytes: expected an integer 1-67108864, got "big" (config/pontoon.yaml)' },
    { name: "an unknown setting", value: { maxValue: 5 }, code: "UNKNOWN_SETTING", message: "kv.maxValue: unknown setting; known here: maxValueBytes, history (config/pontoon.yaml)" },
    { name: "a section that is not a mapping", value: [1], code: "BAD_SETTING", message: "kv: expected a mapping of maxValueBytes, history, got a list [1] (config/pontoon.yaml)" },
  ];
  for (const c of cases) {
    it(`names the YAML path: ${c.name}`, () => {
      let error: unknown;
      try {
        validateSection(kvConfig, c.value, "kv", "config/pontoon.yaml");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe(c.code);
      expect((error as ConfigError).message).toBe(c.message);
    });
  }

  it("words what a schema without our `expected` annotations takes", () => {
    const messageFor = (value: unknown): string => {
      try {
        validateSection(schema, value, "mine");
      } catch (error) {
        return (error as Error).message;
      }
      return "valid";
    };
    expect(messageFor({ ttl: 0, mode: "fast", tags: [] })).toBe("mine.ttl: expected an integer of at least 1, got 0");
    expect(messageFor({ ttl: 1, mode: "slow", tags: [] })).toBe('mine.mode: expected one of fast, safe, got "slow"');
    expect(messageFor({ ttl: 1, mode: "safe", tags: ["a", 2] })).toBe("mine.tags[1]: expected a string, got 2");
    expect(messageFor({ mode: "safe", tags: [] })).toBe("mine.ttl: missing; expected an integer of at least 1");
    expect(messageFor({ ttl: 1, mode: "safe", tags: [] })).toBe("valid");
  });
});
