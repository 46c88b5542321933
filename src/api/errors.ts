// Errors mapped once, at the edge: every error any layer throws becomes
// {"error": {"code", "message"}} (plus details such as `current` for a failed
// cas) with one fitting status. Nothing below the API knows about HTTP.

import { PluginError } from "../fsm/sdk.ts";
import { PluginMismatchError } from "../fsm/errors.ts";
import { ConfigurationChangeError, LeadershipLostError, LeadershipTransferError, NotLeaderError, RaftError, ShutdownError, TimeoutError, TransferInProgressError } from "../raft/errors.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function errorResponse(e: ApiError): Response {
  const { field, ...rest } = e.details;
  const body = { error: { code: e.code, message: e.message, ...(field === undefined ? {} : { field }) }, ...rest };
  return new Response(JSON.stringify(body), { status: e.status, headers: { "content-type": "application/json", ...e.headers } });
}

/** The error as the client should see it. `wrote` says whether a write may have been proposed. */
export function toApiError(error: unknown, wrote: boolean): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof PluginError) return new ApiError(error.status, error.code, error.message, error.details ?? {});
  if (error instanceof NotLeaderError) {
    // Never proposed: safe to retry anywhere.
    const headers: Record<string, string> = { "retry-after": "1" };
    if (error.leader) headers["x-pontoon-leader"] = error.leader;
    return new ApiError(503, "NO_LEADER", `${error.message}; retry shortly`, {}, headers);
  }
  if (error instanceof TimeoutError) {
    return wrote
      ? new ApiError(504, "OUTCOME_UNKNOWN", `${error.message}`, {}, { "retry-after": "1" })
      : new ApiError(503, "TIMEOUT", error.message, {}, { "retry-after": "1" });
  }
  if (error instanceof LeadershipLostError) {
    return wrote
      ? new ApiError(503, "OUTCOME_UNKNOWN", error.message, {}, { "retry-after": "1" })
      : new ApiError(503, "NO_LEADER", error.message, {}, { "retry-after": "1" });
  }
  if (error instanceof ShutdownError) return new ApiError(503, "SHUTTING_DOWN", `${error.message}; use another node`, {}, { "retry-after": "1" });
  if (error instanceof TransferInProgressError) return new ApiError(503, "TRANSFER_IN_PROGRESS", `${error.message}; retry once the new leader is elected`, {}, { "retry-after": "1" });
  if (error instanceof ConfigurationChangeError) return new ApiError(409, "MEMBERSHIP_CONFLICT", error.message);
  if (error instanceof LeadershipTransferError) return new ApiError(409, error.code, error.message);
  if (error instanceof PluginMismatchError) return new ApiError(503, error.code, error.message);
  // A transfer to a server that is not a voter, or in a cluster with no other voter: retrying cannot help.
  if (error instanceof RaftError && error.code === "NO_TRANSFER_TARGET") return new ApiError(409, error.code, error.message, { field: "body.id" });
  if (error instanceof RaftError) return new ApiError(503, error.code, error.message, {}, { "retry-after": "1" });
  return new ApiError(500, "INTERNAL", `unexpected error: ${error instanceof Error ? error.message : String(error)}`);
}

/** Elysia's validation error, worded for a person: which field, what was expected. */
export function validationError(error: unknown): ApiError {
  const e = error as { type?: string; on?: string; all?: { path?: string; message?: string; summary?: string }[]; message?: string };
  const first = e.all?.[0];
  // This Elysia puts the part of the request in `type` and leaves `on` empty; older ones used `on`.
  const part = e.on ?? e.type;
  const where = part === "body" ? "body" : part === "query" ? "query" : part === "params" ? "path" : "request";
  const path = first?.path ? first.path.replace(/^\//, "").replaceAll("/", ".") : "";
  const field = path ? `${where}.${path}` : where;
  const what = first?.summary ?? first?.message ?? "is invalid";
  return new ApiError(400, "INVALID_REQUEST", `${field}: ${what}`, { field });
}
