// This node's kernel table, through the ipvsadm program: read with `-Sn`,
// changed one command at a time. Every failure becomes a message a person can
// act on: ipvsadm missing, the kernel without IPVS, a command refused.

import { existsSync } from "node:fs";
import type { KernelTable } from "./diff.ts";
import { normalizeServer, normalizeService } from "./model.ts";
import { parseSave } from "./save-format.ts";

export class KernelError extends Error {
  constructor(
    /** IPVSADM_MISSING, NO_IPVS, NOT_PERMITTED, COMMAND_FAILED, UNREADABLE_TABLE. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "KernelError";
  }
}

/** Runs `ipvsadm args`; resolves with its output when it exits 0, else throws a KernelError that says why. */
export async function ipvsadm(program: string, args: string[]): Promise<string> {
  const found = program.includes("/") ? (existsSync(program) ? program : null) : Bun.which(program);
  if (!found) {
    throw new KernelError("IPVSADM_MISSING", program.includes("/") ? `ipvsadm is not installed: ${program} does not exist (ipvs.ipvsadm)` : `ipvsadm is not installed: no "${program}" on PATH (install ipvsadm, or set ipvs.ipvsadm to its path)`);
  }
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn([found, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  } catch (error) {
    throw new KernelError("IPVSADM_MISSING", `cannot run ${found}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout as ReadableStream).text(), new Response(proc.stderr as ReadableStream).text(), proc.exited]);
  if (code === 0) return stdout;
  const said = stderr.trim().split("\n")[0] || `exit code ${code}`;
  const command = `ipvsadm ${args.join(" ")}`;
  // What ipvsadm prints when the ip_vs module is absent (or a container hides it): "Can't initialize ipvs: Protocol not available".
  if (/initialize ipvs|Protocol not available/i.test(stderr)) throw new KernelError("NO_IPVS", `the kernel has no IPVS (ip_vs module not loaded or not available here): ${command}: ${said}`);
  if (/Permission denied|Operation not permitted|must be root/i.test(stderr)) throw new KernelError("NOT_PERMITTED", `not allowed to change IPVS (needs root or CAP_NET_ADMIN): ${command}: ${said}`);
  throw new KernelError("COMMAND_FAILED", `${command} failed: ${said}`);
}

/** The kernel's table as `ipvsadm -Sn` prints it, parsed into the form the diff compares. */
export async function readKernelTable(program: string): Promise<KernelTable[]> {
  const text = await ipvsadm(program, ["-Sn"]);
  try {
    return parseSave(text).map(({ service, servers }) => {
      const s = normalizeService(service);
      return { service: s, servers: servers.map((spec) => ({ server: normalizeServer(s, spec), weight: spec.weight ?? 1 })) };
    });
  } catch (error) {
    throw new KernelError("UNREADABLE_TABLE", `cannot read the kernel's table from ipvsadm -Sn: ${error instanceof Error ? error.message : String(error)}`);
  }
}
