// npm run cluster: the three nodes of config/cluster/ in one terminal, each
// line prefixed with its node, all stopped together on Ctrl-C (SIGTERM to each,
// waiting for their clean shutdown). If one dies on its own, the rest stop too.

import { resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const nodes = (process.argv[2] ? process.argv.slice(2) : ["node1", "node2", "node3"]).map((id) => ({
  id,
  proc: Bun.spawn([process.execPath, "src/main.ts", "--config", `config/cluster/${id}.yaml`], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: process.env }),
}));

async function prefix(id: string, stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) out.write(`[${id}] ${line}\n`);
  }
  if (pending) out.write(`[${id}] ${pending}\n`);
}

let stopping = false;
async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const n of nodes) if (n.proc.exitCode === null) n.proc.kill("SIGTERM");
  }
  await Promise.all(nodes.map((n) => n.proc.exited));
  process.exit(code);
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));
for (const n of nodes) {
  void prefix(n.id, n.proc.stdout as ReadableStream<Uint8Array>, process.stdout);
  void prefix(n.id, n.proc.stderr as ReadableStream<Uint8Array>, process.stderr);
  void n.proc.exited.then((code) => {
    if (stopping) return;
    process.stderr.write(`[cluster] ${n.id} exited with code ${code}; stopping the others\n`);
    void stopAll(code === 0 ? 1 : code);
  });
}
console.log(`[cluster] started ${nodes.map((n) => n.id).join(", ")} (HTTP 127.0.0.1:2221-2223); Ctrl-C stops them`);
