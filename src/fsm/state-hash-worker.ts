// The worker behind imageHashInWorker: hashes one serialized fsm.db off the
// node's main thread and answers { hash } or { error }.

import { imageHash } from "./state-hash.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<Uint8Array>) => {
  try {
    // The worker's copy is its own: no need to copy 40 MB again.
    self.postMessage({ hash: imageHash(event.data, true) });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
