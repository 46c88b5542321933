import { describe, expect, it } from "bun:test";
import { AccessPolicy, requirementOf, sha256Hex } from "../../src/api/access.ts";
import { ClientLimits } from "../../src/api/client-limits.ts";
import { ApiError } from "../../src/api/errors.ts";
import { requestContext } from "../../src/api/request-context.ts";
import { PluginError, requireKeyAccess } from "../../src/fsm/sdk.ts";

const request = (token?: string, headers: Record<string, string> = {}) =>
  new Request("http://n/v1/kv/a", { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });

const policy = new AccessPolicy({
  token: "the-cluster-token",
  joinSecret: "join-secret-0123456789",
  tokens: [
    { name: "ro", sha256: sha256Hex("ro-secret"), role: "read" },
    { name: "app", sha256: sha256Hex("app-secret"), role: "write", prefixes: ["app/", "shared/"], plugins: ["kv"] },
  ],
});

describe("AccessPolicy", () => {
  it("lets everyone do everything when no token is configured", () => {
    const open = new AccessPolicy({ tokens: [] });
    expect(open.enabled).toBe(false);
    const who = open.authenticate(request());
    expect(who).toMatchObject({ role: "admin" });
  });

  it("knows the cluster token and the hashed tokens, and nothing else", () => {
    expect(policy.authenticate(request("the-cluster-token"))).toMatchObject({ name: "cluster", role: "admin" });
    expect(policy.authenticate(request("ro-secret"))).toMatchObject({ name: "ro", role: "read" });
    expect(policy.authenticate(request(sha256Hex("ro-secret")))).toBeInstanceOf(ApiError);
    const missing = policy.authenticate(request());
    expect(missing).toBeInstanceOf(ApiError);
    expect((missing as ApiError).status).toBe(401);
  });

  it("ranks roles and names the one missing", () => {
    const ro = policy.authenticate(request("ro-secret")) as Exclude<ReturnType<typeof policy.authenticate>, ApiError>;
    expect(policy.authorize(ro, { role: "read", plugin: "kv" }, request(), "GET /v1/kv/a")).toBeNull();
    const denied = policy.authorize(ro, { role: "write", plugin: "kv" }, request(), "PUT /v1/kv/a");
    expect(denied?.status).toBe(403);
    expect(denied?.details).toMatchObject({ missing: "write", plugin: "kv" });
    expect(policy.authorize(ro, { role: "admin" }, request(), "POST /v1/cluster/snapshot")?.message).toContain("needs role admin");
  });

  it("keeps a token to its plugins", () => {
    const app = policy.authenticate(request("app-secret")) as Exclude<ReturnType<typeof policy.authenticate>, ApiError>;
    expect(policy.authorize(app, { role: "write", plugin: "kv" }, request(), "PUT")).toBeNull();
    expect(policy.authorize(app, { role: "read", plugin: "naming" }, request(), "GET")?.details).toMatchObject({ missing: "plugin:naming" });
  });

  it("asks a join for the join secret even of an admin", () => {
    const admin = policy.authenticate(request("the-cluster-token")) as Exclude<ReturnType<typeof policy.authenticate>, ApiError>;
    const need = requirementOf("POST", "/v1/cluster/join", () => undefined)!;
    expect(policy.authorize(admin, need, request(), "POST /v1/cluster/join")?.code).toBe("JOIN_SECRET_REQUIRED");
    expect(policy.authorize(admin, need, request(undefined, { "x-pontoon-join-secret": "join-secret-0123456789" }), "POST /v1/cluster/join")).toBeNull();
  });
});

describe("requirementOf", () => {
  const pluginOf = (path: string) => (path.startsWith("/v1/kv") || path === "/v1/watch" ? "kv" : undefined);
  it("maps methods and paths to roles", () => {
    expect(requirementOf("GET", "/v1/health", pluginOf)).toBeNull();
    expect(requirementOf("GET", "/ui/app.js", pluginOf)).toBeNull();
    expect(requirementOf("POST", "/ui/x", pluginOf)).toEqual({ role: "write" });
    expect(requirementOf("GET", "/v1/kv/a", pluginOf)).toEqual({ role: "read", plugin: "kv" });
    expect(requirementOf("DELETE", "/v1/kv/a", pluginOf)).toEqual({ role: "write", plugin: "kv" });
    expect(requirementOf("GET", "/v1/watch", pluginOf)).toEqual({ role: "read", plugin: "kv" });
    expect(requirementOf("GET", "/v1/cluster", pluginOf)).toEqual({ role: "read" });
    expect(requirementOf("GET", "/v1/cluster/backup", pluginOf)).toEqual({ role: "admin" });
    expect(requirementOf("DELETE", "/v1/cluster/members/n2", pluginOf)).toEqual({ role: "admin" });
    expect(requirementOf("GET", "/metrics", pluginOf)).toEqual({ role: "read" });
  });
});

describe("requireKeyAccess", () => {
  const scoped = { name: "app", role: "write" as const, prefixes: ["app/"], plugins: null };
  it("refuses keys and prefixes outside the token's prefixes, naming the field", () => {
    requestContext.run({ route: "x", principal: scoped }, () => {
      expect(() => requireKeyAccess("write", "app/x")).not.toThrow();
      expect(() => requireKeyAccess("read", "app/", true)).not.toThrow();
      let error: unknown;
      try {
        requireKeyAccess("read", "", true);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PluginError);
      expect((error as PluginError).status).toBe(403);
      expect((error as PluginError).details).toMatchObject({ field: "prefix" });
      expect(() => requireKeyAccess("write", "ops/x")).toThrow('may write only keys under "app/"');
    });
  });
  it("lets internal calls (no request) through", () => {
    expect(() => requireKeyAccess("write", "anything")).not.toThrow();
  });
});

describe("ClientLimits", () => {
  it("lets a burst through, then refuses with a Retry-After until the bucket refills", () => {
    let now = 0;
    const limits = new ClientLimits(() => ({ requestsPerSecond: 2, burst: 3, watchersPerClient: 0 }), () => now);
    for (let i = 0; i < 3; i++) limits.admit("c");
    let refused: ApiError | undefined;
    try {
      limits.admit("c");
    } catch (e) {
      refused = e as ApiError;
    }
    expect(refused?.status).toBe(429);
    expect(refused?.headers["retry-after"]).toBe("1");
    limits.admit("other");
    now += 500;
    limits.admit("c");
    expect(() => limits.admit("c")).toThrow("over its limit of 2 requests/s");
    expect(() => limits.admit("fast", 1000)).not.toThrow();
  });

  it("counts open watches per client and frees each place once", () => {
    const limits = new ClientLimits(() => ({ requestsPerSecond: 0, burst: 1, watchersPerClient: 2 }));
    const a = limits.openWatch("c");
    limits.openWatch("c");
    expect(() => limits.openWatch("c")).toThrow("limits.watchersPerClient");
    a();
    a();
    expect(limits.openWatches("c")).toBe(1);
    limits.openWatch("c");
    expect(limits.openWatches("c")).toBe(2);
  });
});
