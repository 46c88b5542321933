// A free loopback port, for tests, the demo and benchmarks that start nodes.

const handedOut = new Set<number>();

/**
 * A port free now and never handed out before in this process: the OS may
 * offer a just-closed port again, and two nodes started from one process
 * must not be given the same one.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}
