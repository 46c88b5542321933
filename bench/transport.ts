// bun bench/transport.ts [--seconds 3] — how fast the TCP transport moves
// append messages between two transports in one process over 127.0.0.1
// (sender and receiver share one thread, so this is a lower bound for two
// processes). Encoding, framing, CRC, socket writes and decoding included.

import type { Entry, Message } from "../src/raft/core/types.ts";
import { encodeMessage } from "../src/transport/codec.ts";
import { TcpTransport } from "../src/transport/tcp-transport.ts";

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf("--seconds") + 1] || 3) || 3;
/** Bytes sent but not yet delivered: keeps the sender's queue well under maxQueueBytes (64 MiB), so nothing is dropped. */
const WINDOW_BYTES = 16 * 1024 * 1024;

function appendOf(seq: number, perMessage: number, entrySize: number): Message {
  const entries: Entry[] = [];
  for (let i = 0; i < perMessage; i++) entries.push({ index: seq * perMessage + i + 1, term: 1, type: 0, data: new Uint8Array(entrySize).fill(seq & 0xff) });
  return { type: "append", from: "a", to: "b", term: 1, prevIndex: seq * perMessage, prevTerm: 1, entries, commit: seq, seq };
}

async function run(perMessage: number, entrySize: number): Promise<void> {
  let received = 0;
  const a = new TcpTransport({ host: "127.0.0.1", port: 0 });
  const b = new TcpTransport({ host: "127.0.0.1", port: 0 });
  await a.start(() => {});
  await b.start(() => received++);
  const to = { id: "b", address: b.localAddress };
  // Messages are prebuilt (a Raft leader has its entries in memory already); the bench times the transport.
  const pool = Array.from({ length: 64 }, (_, i) => appendOf(i, perMessage, entrySize));
  const frameBytes = encodeMessage(pool[0]!).length;
  const window = Math.max(1000, Math.floor(WINDOW_BYTES / frameBytes));
  let sent = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    if (sent - received < window) {
      for (let i = 0; i < 1000 && sent - received < window; i++) a.send(to, pool[sent++ & 63]!);
    }
    await new Promise((r) => setImmediate(r));
  }
  const dropCount = (): number => a.peers().reduce((n, p) => n + p.dropped, 0);
  // Drain; a dropped message would never arrive, so count those too rather than wait forever.
  while (received + dropCount() < sent) await new Promise((r) => setImmediate(r));
  const elapsed = (performance.now() - start) / 1000;
  const dropped = dropCount();
  await a.close();
  await b.close();
  const msgs = received / elapsed;
  console.log(
    `${perMessage} × ${entrySize} B entries/msg: ${Math.round(msgs).toLocaleString("en")} msgs/s, ` +
      `${Math.round(msgs * perMessage).toLocaleString("en")} entries/s, ${((msgs * frameBytes) / 1e6).toFixed(1)} MB/s on the wire ` +
      `(${frameBytes} B frames, ${received} delivered, ${dropped} dropped)`,
  );
}

await run(1, 256);
await run(64, 256);
