// The checks themselves, against real sockets on loopback.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { HealthCheck } from "./model.ts";
import { probe } from "./health.ts";

let server: ReturnType<typeof Bun.serve>;
let closedPort: number;
beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/ok") return new Response("status: ok");
      if (path === "/degraded") return new Response("status: degraded");
      if (path === "/hang") return new Promise<Response>(() => {});
      return new Response("nope", { status: 503 });
    },
  });
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  closedPort = listener.port;
  listener.stop(true);
});
afterAll(() => server.stop(true));

const check = (c: Partial<HealthCheck>): HealthCheck => ({ type: "http", port: server.port!, path: "/ok", status: 200, body: null, intervalMs: 1000, timeoutMs: 500, fall: 2, rise: 1, ...c });

describe("probe", () => {
  const cases: [string, Partial<HealthCheck> | (() => Partial<HealthCheck>), boolean][] = [
    ["tcp: a listening port passes", { type: "tcp", path: null, status: null }, true],
    ["tcp: a closed port fails", () => ({ type: "tcp", path: null, status: null, port: closedPort }), false],
    ["http: the expected status passes", {}, true],
    ["http: another status fails", { path: "/down" }, false],
    ["http: a status asked for passes", { path: "/down", status: 503 }, true],
    ["http: a body that matches passes", { body: "status: (ok|fine)" }, true],
    ["http: a body that does not match fails", { path: "/degraded", body: "status: (ok|fine)" }, false],
    ["http: no answer within the timeout fails", { path: "/hang", timeoutMs: 100 }, false],
    ["http: a refused connection fails", () => ({ port: closedPort }), false],
  ];
  for (const [what, overrides, expected] of cases) {
    it(what, async () => {
      expect(await probe("127.0.0.1", check(typeof overrides === "function" ? overrides() : overrides))).toBe(expected);
    });
  }
});
