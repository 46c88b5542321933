// fsync of a directory: after a rename or a new file, the directory entry is
// durable only once the directory itself is synced.

import { closeSync, fsyncSync, openSync } from "node:fs";

export function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
