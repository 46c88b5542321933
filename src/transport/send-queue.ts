// The per-peer outbound queue: encoded frames waiting for the socket, bounded
// in bytes so a slow or dead peer cannot make the leader buffer without limit.
//
// When a frame does not fit, the OLDEST non-snapshot frames are dropped
// first: an old heartbeat or append is the least useful message in the queue
// (newer ones carry a later commit index and seq, and the leader re-sends any
// entries the follower turns out to lack). Snapshot chunks are kept because
// the follower accepts them only in offset order, so losing one in the middle
// wastes every chunk after it. If only snapshot chunks are left, the NEW frame
// is dropped instead. Either way Raft retries; nothing is ever corrupted.

interface Item {
  bytes: Uint8Array;
  /** A snapshot chunk: evicted only by dropping the newcomer instead. */
  keep: boolean;
  dropped: boolean;
}

export class SendQueue {
  private items: Item[] = [];
  private head = 0;
  /** Every live item before this index is a `keep` item: eviction resumes here. */
  private evictFrom = 0;
  /** Bytes queued (not yet taken). */
  bytes = 0;
  /** Frames currently queued. */
  length = 0;
  /** Frames dropped because the queue was full (since construction). */
  dropped = 0;

  constructor(readonly maxBytes: number) {}

  /** Queues a frame; returns false if it was dropped (the queue is full of snapshot chunks, or the frame alone exceeds maxBytes). */
  push(bytes: Uint8Array, keep: boolean): boolean {
    if (bytes.length > this.maxBytes) {
      this.dropped++;
      return false;
    }
    this.evictFrom = Math.max(this.evictFrom, this.head);
    while (this.bytes + bytes.length > this.maxBytes && this.evictFrom < this.items.length) {
      const item = this.items[this.evictFrom]!;
      if (!item.dropped && !item.keep) {
        item.dropped = true;
        this.bytes -= item.bytes.length;
        this.length--;
        this.dropped++;
      }
      this.evictFrom++;
    }
    if (this.bytes + bytes.length > this.maxBytes) {
      this.dropped++;
      return false;
    }
    this.items.push({ bytes, keep, dropped: false });
    this.bytes += bytes.length;
    this.length++;
    return true;
  }

  /**
   * Removes frames from the front and returns them as one buffer of at most
   * `limit` bytes (but always at least one frame), so many small frames cost
   * one socket write. A single frame is returned as is, without a copy.
   */
  take(limit: number): Uint8Array | null {
    const picked: Uint8Array[] = [];
    let size = 0;
    while (this.head < this.items.length) {
      const item = this.items[this.head]!;
      if (item.dropped) {
        this.head++;
        continue;
      }
      if (picked.length > 0 && size + item.bytes.length > limit) break;
      picked.push(item.bytes);
      size += item.bytes.length;
      this.head++;
    }
    this.compact();
    if (picked.length === 0) return null;
    this.bytes -= size;
    this.length -= picked.length;
    if (picked.length === 1) return picked[0]!;
    const out = new Uint8Array(size);
    let at = 0;
    for (const b of picked) {
      out.set(b, at);
      at += b.length;
    }
    return out;
  }

  /** Drops everything queued; returns how many frames that was. */
  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    this.evictFrom = 0;
    this.bytes = 0;
    this.length = 0;
    return n;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      this.evictFrom = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.evictFrom = Math.max(0, this.evictFrom - this.head);
      this.head = 0;
    }
  }
}
