// Bearer-token auth: when a token is configured, every call except
// GET /v1/health needs `Authorization: Bearer <token>`. The comparison runs
// in constant time so response timing does not reveal the token.

import { timingSafeEqual, createHash } from "node:crypto";
import { ApiError } from "./errors.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();

// The expected token's digest, computed again only when the token changes.
let expectedToken = "";
let expectedDigest = digest("");

/** Returns the error for a request that lacks the token, or null when it may pass. `token()` is read per request: it reloads live. */
export function checkAuth(request: Request, path: string, token: () => string | undefined): ApiError | null {
  const expected = token();
  if (!expected) return null;
  if (path === "/v1/health" && request.method === "GET") return null;
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match) {
    return new ApiError(401, "UNAUTHORIZED", "this node requires a token: send `Authorization: Bearer <token>`", {}, { "www-authenticate": 'Bearer realm="pontoon"' });
  }
  if (!tokenMatches(match[1]!, expected)) {
    return new ApiError(401, "UNAUTHORIZED", "the bearer token is not valid for this cluster", {}, { "www-authenticate": 'Bearer realm="pontoon", error="invalid_token"' });
  }
  return null;
}

/** Whether `given` is the expected token, compared in constant time (both hashed: equal lengths, no early exit). */
export function tokenMatches(given: string, expected: string): boolean {
  if (expected !== expectedToken) {
    expectedToken = expected;
    expectedDigest = digest(expected);
  }
  return timingSafeEqual(digest(given.trim()), expectedDigest);
}

/** The header a node sends to another with the cluster's token (none without one). */
export function bearerHeader(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}
