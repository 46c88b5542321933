// Who may do what. A request's bearer token names a principal: the cluster
// token (auth.token: admin of everything, and what nodes send each other), or
// one of auth.tokens, found by its SHA-256 (only hashes are written down).
// Each request needs a role (read < write < admin) on a part of the API, and a
// token's scopes narrow it to some plugins and, for kv, some key prefixes.
// With no token configured at all, auth is off and everyone is admin.

import { createHash } from "node:crypto";
import type { ApiTokenConfig, Role } from "../config/schema.ts";
import { tokenMatches } from "./auth.ts";
import { ApiError } from "./errors.ts";

export interface Principal {
  /** The token's name (`cluster` for auth.token, `anonymous` when auth is off). */
  readonly name: string;
  readonly role: Role;
  /** Key prefixes (kv) the token may touch; null: every key. */
  readonly prefixes: readonly string[] | null;
  /** Plugins the token may call; null: every plugin. */
  readonly plugins: readonly string[] | null;
  /** Its own request rate (auth.tokens[].requestsPerSecond), over limits.requestsPerSecond. */
  readonly requestsPerSecond?: number;
}

/** What one request needs: a role, on a plugin or on the node itself; null needs nothing. */
export interface Requirement {
  role: Role;
  /** The plugin the route belongs to; absent for the node's own routes (cluster, metrics, openapi). */
  plugin?: string;
  /** Also the join secret (POST /v1/cluster/join), when one is configured. */
  joinSecret?: boolean;
}

export interface AuthSettings {
  token?: string;
  joinSecret?: string;
  tokens: readonly ApiTokenConfig[];
}

export const JOIN_SECRET_HEADER = "x-pontoon-join-secret";

const RANK: Record<Role, number> = { read: 0, write: 1, admin: 2 };
const ANONYMOUS: Principal = { name: "anonymous", role: "admin", prefixes: null, plugins: null };
const CLUSTER: Principal = { name: "cluster", role: "admin", prefixes: null, plugins: null };

export function sha256Hex(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** The node's access rules as the YAML says now; main.ts builds a new one when the YAML changes. */
export class AccessPolicy {
  private readonly byHash = new Map<string, Principal>();

  constructor(readonly settings: AuthSettings) {
    for (const t of settings.tokens) {
      this.byHash.set(t.sha256, {
        name: t.name,
        role: t.role,
        prefixes: t.prefixes ?? null,
        plugins: t.plugins ?? null,
        ...(t.requestsPerSecond === undefined ? {} : { requestsPerSecond: t.requestsPerSecond }),
      });
    }
  }

  get enabled(): boolean {
    return this.settings.token !== undefined || this.byHash.size > 0;
  }

  /** The principal the request's token names, or a 401 saying what is wrong with it. */
  authenticate(request: Request): Principal | ApiError {
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "");
    const found = this.principalOf(match ? match[1]!.trim() : null);
    if (found === "missing") {
      return new ApiError(401, "UNAUTHORIZED", "this node requires a token: send `Authorization: Bearer <token>`", {}, { "www-authenticate": 'Bearer realm="pontoon"' });
    }
    if (found === "invalid") {
      return new ApiError(401, "UNAUTHORIZED", "the bearer token is not valid for this cluster", {}, { "www-authenticate": 'Bearer realm="pontoon", error="invalid_token"' });
    }
    return found;
  }

  /** The principal a token names (null: none was given); each API words the two refusals its own way. */
  principalOf(given: string | null): Principal | "missing" | "invalid" {
    if (!this.enabled) return ANONYMOUS;
    if (given === null || given === "") return "missing";
    if (this.settings.token !== undefined && tokenMatches(given, this.settings.token)) return CLUSTER;
    // A lookup by the hash of what was given reveals nothing about the stored hashes to a timing attacker.
    return this.byHash.get(sha256Hex(given)) ?? "invalid";
  }

  /** Null when `who` may make a request that needs `need`, else the 403 that names what is missing. */
  authorize(who: Principal, need: Requirement, request: Request, what: string): ApiError | null {
    if (need.joinSecret && this.settings.joinSecret !== undefined) {
      const given = request.headers.get(JOIN_SECRET_HEADER) ?? "";
      if (!tokenMatches(given, this.settings.joinSecret)) {
        return new ApiError(403, "JOIN_SECRET_REQUIRED", `${what} needs the cluster's join secret in ${JOIN_SECRET_HEADER} (auth.joinSecret on the joining node, env PONTOON_JOIN_SECRET)`, { missing: "joinSecret" });
      }
    }
    if (RANK[who.role] < RANK[need.role]) {
      return new ApiError(403, "FORBIDDEN", `token "${who.name}" has role ${who.role}; ${what} needs role ${need.role}${need.plugin ? ` on plugin ${need.plugin}` : ""}`, {
        missing: need.role,
        ...(need.plugin ? { plugin: need.plugin } : {}),
      });
    }
    if (need.plugin && who.plugins && !who.plugins.includes(need.plugin)) {
      return new ApiError(403, "FORBIDDEN", `token "${who.name}" may call ${who.plugins.length === 0 ? "no plugin" : `plugins ${who.plugins.join(", ")}`}; ${what} belongs to plugin ${need.plugin}`, { missing: `plugin:${need.plugin}`, plugin: need.plugin });
    }
    return null;
  }
}

/**
 * The role a request needs. `pluginOf` names the plugin a path belongs to
 * (its /v1/<plugin> group, or one of its root routes such as /v1/watch).
 */
export function requirementOf(method: string, path: string, pluginOf: (path: string) => string | undefined): Requirement | null {
  const reading = method === "GET" || method === "HEAD";
  if (reading && (path === "/v1/health" || path === "/" || path === "/ui" || path.startsWith("/ui/"))) return null;
  if (path === "/v1/cluster/join") return { role: "admin", joinSecret: true };
  // A backup is every key of every plugin: as much as admin may see.
  if (path === "/v1/cluster/backup") return { role: "admin" };
  if (path === "/v1/cluster" || path.startsWith("/v1/cluster/")) return { role: reading ? "read" : "admin" };
  const plugin = pluginOf(path);
  return { role: reading ? "read" : "write", ...(plugin ? { plugin } : {}) };
}
