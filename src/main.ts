// `bun src/main.ts [--config FILE.yaml]`: one Pontoon node (src/node-main.ts).
// The allocator settings come first and alone: they may restart the process
// (see that file), and loading the node's modules only afterwards keeps that
// restart to the cost of starting Bun.

import "./allocator-settings.ts";

await import("./node-main.ts");
