// The client's cache file: the last value read of each config key, so an app
// can start with its last known config while the cluster is unreachable.
// One JSON file, replaced atomically (written beside it, fsynced, renamed),
// so a crash mid-write leaves the previous cache, never half of one.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export interface CachedValue {
  value: string;
  modifyIndex: number;
  /** When it was read from the cluster (ms since the epoch). */
  savedAt: number;
}

export class ConfigCache {
  private entries: Record<string, CachedValue> | undefined;

  constructor(readonly file: string) {}

  get(key: string): CachedValue | undefined {
    return this.load()[key];
  }

  put(key: string, value: CachedValue): void {
    const entries = this.load();
    const old = entries[key];
    if (old && old.value === value.value && old.modifyIndex === value.modifyIndex) return;
    entries[key] = value;
    mkdirSync(dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    const fd = openSync(temp, "w");
    try {
      writeSync(fd, JSON.stringify({ version: 1, entries }, null, 1));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.file);
  }

  private load(): Record<string, CachedValue> {
    if (this.entries) return this.entries;
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      return (this.entries = {});
    }
    try {
      const parsed = JSON.parse(text) as { version?: number; entries?: Record<string, CachedValue> };
      this.entries = parsed.version === 1 && parsed.entries ? parsed.entries : {};
    } catch {
      // A damaged cache is no cache: the next good read rewrites it.
      this.entries = {};
    }
    return this.entries;
  }
}
