// The watchers of bench/watchers.ts, in a process of their own: opens
// --count SSE watches (watcher i on prefix w/<i>/, spread over --urls),
// prints "ready" once every one is open, then one JSON line per probe it
// receives: {"watcher": i, "latencyMs": ...}, the time from the write's
// timestamp (its value) to its arrival here.
//
//   BUN_CONFIG_MAX_HTTP_REQUESTS=6000 bun bench/watch-clients.ts --urls http://a,http://b --count 5000

export {};

const args = process.argv.slice(2);
const flag = (name: string) => args[args.indexOf(`--${name}`) + 1]!;
const urls = flag("urls").split(",");
const count = Number(flag("count"));
const now = () => performance.timeOrigin + performance.now();

/** Resolves once watcher i's stream is open; reads it in the background. */
async function open(i: number): Promise<void> {
  const response = await fetch(`${urls[i % urls.length]}/v1/watch?prefix=w/${i}/`);
  if (!response.ok) throw new Error(`watcher ${i}: ${response.status} ${await response.text()}`);
  void read(i, response.body!).catch((error: unknown) => {
    console.error(`watcher ${i}: ${String(error)}`);
    process.exit(1);
  });
}

async function read(i: number, body: ReadableStream<Uint8Array>): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const data = buffer.slice(0, end).split("\n").find((l) => l.startsWith("data: "));
      buffer = buffer.slice(end + 2);
      if (!data) continue;
      const { value } = JSON.parse(data.slice(6)) as { value: string | null };
      if (value !== null) console.log(JSON.stringify({ watcher: i, latencyMs: now() - Number(value) }));
    }
  }
}

// In batches, so the nodes are not hit by every connect at once.
for (let i = 0; i < count; i += 250) await Promise.all(Array.from({ length: Math.min(250, count - i) }, (_, k) => open(i + k)));
console.log("ready");
