// Imported first by src/main.ts: restarts the process image once, in place
// (execve: same pid, same arguments, same open terminal), with Bun's
// allocator told to keep the memory it frees instead of handing it back to
// the kernel. mimalloc reads its options only at start-up, so the node cannot
// set this on itself any later.
//
// Why: a node under load frees and reuses the same memory all the time, and
// by default mimalloc returns freed pages to the kernel (madvise) after a
// short delay, only to fault them back in, zeroed, moments later. Two 3-node
// clusters side by side, 64 clients writing, alternating rounds: puts went up
// 20-25% with MIMALLOC_PURGE_DELAY=-1 (medians 2,617 -> 3,273/s; 2,815 ->
// 3,435/s against a 10 s delay; a 1 s delay or MADV_FREE changed nothing).
// The cost: a node's resident memory stays at its high-water mark (after 60 s
// of 64 writing clients, 200-257 MiB per node; with the default, 127-165 MiB,
// and 103-136 MiB once idle again).
//
// Set MIMALLOC_PURGE_DELAY yourself (any value, in ms; mimalloc's default is
// 10) and the node starts as it is, without the restart.

if (process.env.MIMALLOC_PURGE_DELAY === undefined && typeof process.execve === "function") {
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, MIMALLOC_PURGE_DELAY: "-1" });
  } catch (error) {
    // Only speed depends on it: start as we are, and say so.
    process.stderr.write(`pontoon: could not restart with MIMALLOC_PURGE_DELAY=-1 (${String(error)}); starting with the allocator's defaults\n`);
  }
}

export {};
