// The worker behind imageHashInWorker: hashes one serialized fsm.db off the
// node's main thread and answers { hash } or { error }.

import { imageHash } from "./state-hash.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<Uint8Array>) => {
  try {
    self.postMessage({ hash: imageHash(event.data) });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
