// What a client call throws: the server's error (status, code, message and
// field, as the API words them), or the fact that no endpoint answered.

export class PontoonError extends Error {
  constructor(
    /** HTTP status, or 0 when no endpoint could be reached. */
    readonly status: number,
    /** The API's error code (KEY_NOT_FOUND, CAS_FAILED, NO_LEADER, ...), or UNREACHABLE. */
    readonly code: string,
    message: string,
    /** Whatever else the error body carried: `field`, `current` for a failed cas, `oldestIndex` for an expired watch. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "PontoonError";
  }

  /** The write may or may not have happened: read before retrying it. */
  get outcomeUnknown(): boolean {
    return this.code === "OUTCOME_UNKNOWN";
  }
}

/** The API's error body ({"error": {"code", "message", "field"}, ...details}) as a PontoonError. */
export async function errorFrom(response: Response, endpoint: string): Promise<PontoonError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; field?: string } } & Record<string, unknown>;
    const { error, ...rest } = body;
    if (error?.code) return new PontoonError(response.status, error.code, error.message ?? error.code, { ...rest, ...(error.field ? { field: error.field } : {}) });
  } catch {
    // not our error format: report what came back
  }
  return new PontoonError(response.status, `HTTP_${response.status}`, `${endpoint} answered ${response.status}: ${text.slice(0, 200)}`);
}
