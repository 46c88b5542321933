// HTTP/1.1 over a raw TCP socket, for the API property tests: fetch() would
// normalise the very things they send on purpose (`..` in a path, broken
// percent-encoding, odd methods, a Content-Length that lies). One request per
// connection (`Connection: close`), so the answer ends where the socket does.

export interface RawRequest {
  method: string;
  /** The request target exactly as it goes on the wire (path and query). */
  target: string;
  headers: [string, string][];
  body: Uint8Array;
}

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
}

export type RawOutcome =
  | { kind: "answered"; response: RawResponse }
  /** An event stream began (status and headers came); it never ends by itself, so reading stops there. */
  | { kind: "stream"; status: number; headers: Map<string, string> }
  /** The server closed the connection without a complete answer. */
  | { kind: "dropped"; received: number; error?: string }
  /** Nothing complete within the deadline; `head` is the status line and headers if they came. */
  | { kind: "timeout"; head: { status: number; headers: Map<string, string> } | null };

const encoder = new TextEncoder();

export function encodeRequest(r: RawRequest, host: string): Uint8Array {
  const lines = [`${r.method} ${r.target} HTTP/1.1`, `Host: ${host}`, "Connection: close"];
  for (const [name, value] of r.headers) lines.push(`${name}: ${value}`);
  const head = encoder.encode(`${lines.join("\r\n")}\r\n\r\n`);
  const out = new Uint8Array(head.length + r.body.length);
  out.set(head);
  out.set(r.body, head.length);
  return out;
}

/** Sends one request and reads the whole answer, or says how it failed. */
export function rawRequest(port: number, request: RawRequest, timeoutMs: number): Promise<RawOutcome> {
  const bytes = encodeRequest(request, `127.0.0.1:${port}`);
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let settled = false;
    let socketRef: { end(): void; terminate(): void } | null = null;
    const finish = (outcome: RawOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socketRef?.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      const all = Buffer.concat(chunks);
      const parsed = parseHead(all);
      finish({ kind: "timeout", head: parsed ? { status: parsed.status, headers: parsed.headers } : null });
    }, timeoutMs);
    let written = 0;
    const pump = (socket: { write(b: Uint8Array): number }): void => {
      while (written < bytes.length) {
        const n = socket.write(bytes.subarray(written));
        if (n <= 0) return;
        written += n;
      }
    };
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(socket) {
          socketRef = socket;
          pump(socket);
        },
        drain(socket) {
          pump(socket);
        },
        data(_socket, chunk) {
          chunks.push(new Uint8Array(chunk));
          const all = Buffer.concat(chunks);
          // An answer can be complete before the server closes (it may keep reading a body it refused).
          const response = parseResponse(all, false, request.method);
          if (response) return finish({ kind: "answered", response });
          const head = parseHead(all);
          if (head && (head.headers.get("content-type") ?? "").startsWith("text/event-stream")) finish({ kind: "stream", status: head.status, headers: head.headers });
        },
        close() {
          const all = Buffer.concat(chunks);
          const response = parseResponse(all, true, request.method);
          finish(response ? { kind: "answered", response } : { kind: "dropped", received: all.length });
        },
        error(_socket, error) {
          const all = Buffer.concat(chunks);
          const response = parseResponse(all, true, request.method);
          finish(response ? { kind: "answered", response } : { kind: "dropped", received: all.length, error: error.message });
        },
      },
    }).catch((error: unknown) => finish({ kind: "dropped", received: 0, error: String(error) }));
  });
}

function parseHead(all: Uint8Array, from = 0): { status: number; headers: Map<string, string>; bodyAt: number } | null {
  const end = Buffer.from(all.buffer, all.byteOffset, all.byteLength).indexOf("\r\n\r\n", from);
  if (end < 0) return null;
  const lines = new TextDecoder().decode(all.subarray(from, end)).split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!status) return null;
  // An interim answer (100 Continue) comes before the real one.
  if (status[1]!.startsWith("1") && status[1] !== "101") return parseHead(all, end + 4);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(status[1]), headers, bodyAt: end + 4 };
}

/** The response once it is complete (by Content-Length, chunked encoding, or the close), else null. */
function parseResponse(all: Uint8Array, closed: boolean, method: string): RawResponse | null {
  const head = parseHead(all);
  if (!head) return null;
  // A HEAD answer declares the length of a body it never sends.
  if (method.toUpperCase() === "HEAD") return { status: head.status, headers: head.headers, body: new Uint8Array(0) };
  const rest = all.subarray(head.bodyAt);
  const length = head.headers.get("content-length");
  if (length !== undefined) {
    const n = Number(length);
    return rest.length >= n ? { status: head.status, headers: head.headers, body: rest.subarray(0, n) } : null;
  }
  if ((head.headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) {
    const body = dechunk(rest);
    return body ? { status: head.status, headers: head.headers, body } : null;
  }
  if (head.status === 204 || head.status === 304 || (head.status >= 100 && head.status < 200)) return { status: head.status, headers: head.headers, body: new Uint8Array(0) };
  return closed ? { status: head.status, headers: head.headers, body: rest } : null;
}

function dechunk(bytes: Uint8Array): Uint8Array | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf("\r\n", at);
    if (eol < 0) return null;
    const size = Number.parseInt(buf.subarray(at, eol).toString("latin1"), 16);
    if (!Number.isFinite(size)) return null;
    if (size === 0) return Buffer.concat(parts);
    if (eol + 2 + size + 2 > buf.length) return null;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
