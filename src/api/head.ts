// HEAD is the GET without its body. Elysia answers a HEAD by running the GET
// and reading its whole body for the length, which never ends for an event
// stream (GET /v1/watch): the HEAD hung, holding a watch subscription, until
// the client gave up. This plugin answers every HEAD itself, from the GET's
// status and headers, and cancels a stream at once.

import type { AnyElysia } from "elysia";

export function headAsGet<App extends AnyElysia>(app: App): App {
  return app.onRequest(async ({ request }) => {
    if (request.method !== "HEAD") return undefined;
    const get = await app.handle(new Request(request.url, { method: "GET", headers: request.headers, signal: request.signal }));
    const headers = new Headers(get.headers);
    if ((headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      await get.body?.cancel();
    } else if (!headers.has("content-length")) {
      headers.set("content-length", String((await get.arrayBuffer()).byteLength));
    }
    return new Response(null, { status: get.status, headers });
  }) as App;
}
