// `pontoon token new|hash`: offline helpers whose output a node accepts as is.

import { describe, expect, it } from "bun:test";
import { AccessPolicy, sha256Hex } from "../../src/api/access.ts";
import { run } from "../../src/cli/main.ts";

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, {}, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe("pontoon token", () => {
  it("makes a token whose auth.tokens entry a node accepts", async () => {
    const { code, out } = await cli(["token", "new", "deploy-bot", "--role", "write", "--prefix", "app/,shared/", "--json"]);
    expect(code).toBe(0);
    const { token, entry } = JSON.parse(out[0]!) as { token: string; entry: { name: string; sha256: string; role: "write"; prefixes: string[] } };
    expect(entry).toMatchObject({ name: "deploy-bot", role: "write", prefixes: ["app/", "shared/"] });
    const policy = new AccessPolicy({ token: "cluster-token", tokens: [entry] });
    expect(policy.authenticate(new Request("http://n/", { headers: { authorization: `Bearer ${token}` } }))).toMatchObject({ name: "deploy-bot", role: "write" });
  });

  it("hashes a given token, and refuses bad usage with exit 2", async () => {
    expect((await cli(["token", "hash", "abc"])).out).toEqual([sha256Hex("abc")]);
    expect((await cli(["token", "new", "x", "--role", "root"])).code).toBe(2);
    expect((await cli(["token", "new"])).code).toBe(2);
    expect((await cli(["token", "hash", "has space"])).code).toBe(2);
  });
});
