// A plugin's YAML section is the one the config loader let through for its
// plugins: entry (a module's folder or file name), whatever the plugin calls itself.

import { describe, expect, it } from "bun:test";
import { Type } from "@sinclair/typebox";
import { configurePlugins } from "../../src/fsm/plugin-loader.ts";
import { definePlugin } from "../../src/fsm/sdk.ts";

const flags = definePlugin({
  name: "flags",
  config: Type.Object({ rolloutSeed: Type.Integer({ default: 1 }) }, { additionalProperties: false }),
  migrations: [],
  commands: {},
  apply: {},
});

describe("configurePlugins", () => {
  it("reads a path-loaded plugin's settings from the section named after its folder", () => {
    const [hosted] = configurePlugins([flags], { plugins: ["./plugins/examples/feature-flags/index.ts"], "feature-flags": { rolloutSeed: 7 } }, "pontoon.yaml");
    expect(hosted!.config).toEqual({ rolloutSeed: 7 });
  });

  it("names that section in an error", () => {
    expect(() => configurePlugins([flags], { plugins: ["./plugins/examples/feature-flags/index.ts"], "feature-flags": { rolloutSeed: "x" } }, "pontoon.yaml")).toThrow(/^feature-flags\.rolloutSeed/);
  });
});
