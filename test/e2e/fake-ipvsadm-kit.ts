// The fake ipvsadm as a test uses it: a PATH entry that runs it, and one
// node's fake kernel (its table as -Sn lines, the calls made to it).

import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const FAKE = resolve(import.meta.dir, "fake-ipvsadm.ts");

/** A bin directory holding `ipvsadm`, a script that runs the fake; put it first on a node's PATH. */
export function fakeBin(root: string): string {
  const bin = join(root, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "ipvsadm"), `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" "$@"\n`);
  chmodSync(join(bin, "ipvsadm"), 0o755);
  return bin;
}

/** The fake kernel of one node: its directory, its table as -Sn lines, the calls made to it. */
export function fakeKernel(root: string, id: string) {
  const dir = join(root, `kernel-${id}`);
  mkdirSync(dir, { recursive: true });
  type Rule = { name: string; options: string; servers: { address: string; options: string }[] };
  const read = (): Rule[] => {
    try {
      return JSON.parse(readFileSync(join(dir, "table.json"), "utf8")) as Rule[];
    } catch {
      return [];
    }
  };
  return {
    dir,
    lines: (): string[] => read().flatMap((r) => [`-A ${r.name} ${r.options}`, ...r.servers.map((s) => `-a ${r.name} -r ${s.address} ${s.options}`)]).sort(),
    write: (rules: Rule[]) => writeFileSync(join(dir, "table.json"), JSON.stringify(rules)),
    read,
    calls: (): string[][] => {
      try {
        return readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as string[]);
      } catch {
        return [];
      }
    },
  };
}
