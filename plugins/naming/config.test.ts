// The naming plugin's YAML section: defaults filled in, and a bad setting
// refused with its YAML path, as the node's own settings are.

import { describe, expect, it } from "bun:test";
import { configurePlugins } from "../../src/fsm/plugin-loader.ts";
import naming from "./index.ts";

describe("naming config", () => {
  it("fills in the defaults: DNS off, removal after a minute", () => {
    const [hosted] = configurePlugins([naming], {}, "pontoon.yaml");
    expect(hosted!.config).toEqual({ deregisterAfterMs: 60_000, sweepMs: 500, dns: { port: 0, host: "127.0.0.1", domain: "pontoon", ttl: 5 } });
  });

  const bad = [
    { yaml: { naming: { dns: { port: 70_000 } } }, path: "naming.dns.port" },
    { yaml: { naming: { dns: { domain: "bad domain" } } }, path: "naming.dns.domain" },
    { yaml: { naming: { deregisterAfterMs: 5 } }, path: "naming.deregisterAfterMs" },
    { yaml: { naming: { ttl: 5 } }, path: "naming.ttl" },
  ];
  for (const c of bad) {
    it(`refuses ${JSON.stringify(c.yaml.naming)}, naming ${c.path}`, () => {
      expect(() => configurePlugins([naming], c.yaml, "pontoon.yaml")).toThrow(c.path);
    });
  }
});
