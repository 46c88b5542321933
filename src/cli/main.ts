#!/usr/bin/env bun
// `pontoon`: the command line for people and scripts. Tables for people,
// `--json` for scripts, and exit codes a script can act on:
//   0 done   1 refused (bad input, cas failed, ...)   2 bad usage
//   3 unavailable (no node reachable, no leader): retry later
//   4 not found   5 outcome unknown: read before retrying the write

import { connect, PontoonError, type Consistency, type PontoonClient, type WatchEvent, type WatchReset } from "../client/index.ts";
import { parseArgs, UsageError, wholeNumber, type ParsedArgs } from "./args.ts";
import { readFileSync, renameSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { sha256Hex } from "../api/access.ts";
import { BackupError, decodeBackup } from "../fsm/backup.ts";
import { renderPrefix } from "./render.ts";
import { SyncRefused, syncDirectory } from "./sync.ts";
import { table } from "./table.ts";

export const EXIT = { ok: 0, refused: 1, usage: 2, unavailable: 3, notFound: 4, unknown: 5 } as const;

const USAGE = `usage: pontoon <command> [flags]

  kv get KEY [--consistency linearizable|leader|stale]
  kv put KEY VALUE [--cas N] [--ttl 30s]   VALUE "-" reads standard input
  kv del KEY [--cas N]
  kv ls [PREFIX]
  kv watch [PREFIX] [--after N]       one line per change until Ctrl-C
  kv history KEY
  kv rollback KEY INDEX
  cluster status
  cluster members
  cluster join ID RAFT_ADDRESS HTTP_ADDRESS [--nonvoter] [--join-secret S]   (or PONTOON_JOIN_SECRET)
  cluster remove ID
  cluster transfer [ID]
  snapshot save FILE                  a consistent backup from the leader, checksum verified
  snapshot restore FILE [--force]     load a backup into this (empty, unless --force) cluster
  token new NAME [--role read|write|admin] [--prefix P1,P2]
                                      a new random token, and its auth.tokens entry for the YAML
  token hash [TOKEN]                  the SHA-256 for auth.tokens (reads the token from standard input if not given)
  sync DIR --prefix P [--once]        mirror a directory of config files into keys, and keep watching it
  render --prefix P --out DIR [--exec CMD] [--once]
                                      write the keys out as files (atomically), rerun CMD after each change

flags:  --endpoints host:port,...   (PONTOON_ENDPOINTS; default 127.0.0.1:2221)
        --token TOKEN               (PONTOON_TOKEN)
        --cacert FILE               the CA that signs the nodes, for a cluster with tls: (PONTOON_CACERT)
        --timeout-ms N              per attempt (default 5000)
        --json                      machine-readable output
exit:   0 done, 1 refused, 2 bad usage, 3 unavailable, 4 not found, 5 outcome unknown`;

interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** Runs one command line; returns the exit code. */
export async function run(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: Output): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    io.err(`pontoon: ${(error as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (args.flags.has("help") || args.words.length === 0) {
    (args.words.length === 0 && !args.flags.has("help") ? io.err : io.out)(USAGE);
    return args.flags.has("help") ? EXIT.ok : EXIT.usage;
  }
  if (args.words[0] === "token") {
    try {
      return await tokenCommand(args, io);
    } catch (error) {
      return report(error, io);
    }
  }
  try {
    const endpoints = String(args.flags.get("endpoints") ?? env.PONTOON_ENDPOINTS ?? "127.0.0.1:2221").split(",").map((e) => e.trim()).filter(Boolean);
    const token = (args.flags.get("token") as string | undefined) ?? env.PONTOON_TOKEN;
    const caFile = (args.flags.get("cacert") as string | undefined) ?? env.PONTOON_CACERT;
    let ca: string | undefined;
    if (caFile !== undefined) {
      try {
        ca = readFileSync(caFile, "utf8");
      } catch (error) {
        throw new UsageError(`--cacert: cannot read ${caFile}: ${(error as Error).message}`);
      }
    }
    const client = connect({ endpoints, token, timeoutMs: wholeNumber(args.flags, "timeout-ms") ?? 5_000, ...(ca ? { ca } : {}) });
    return await dispatch(client, args, io);
  } catch (error) {
    return report(error, io);
  }
}

async function dispatch(client: PontoonClient, { words, flags }: ParsedArgs, io: Output): Promise<number> {
  const json = flags.has("json");
  const [group, command, ...rest] = words;
  const need = (n: number, what: string): string[] => {
    if (rest.length < n) throw new UsageError(`${group} ${command} needs ${what}`);
    if (rest.length > n) throw new UsageError(`${group} ${command}: unexpected ${JSON.stringify(rest[n])}`);
    return rest;
  };
  const print = (value: unknown, human: () => string | string[]): void => {
    const text = json ? JSON.stringify(value) : human();
    for (const line of Array.isArray(text) ? text : [text]) io.out(line);
  };
  const cas = wholeNumber(flags, "cas");
  const consistency = flags.get("consistency") as Consistency | undefined;
  if (consistency !== undefined && !["linearizable", "leader", "stale"].includes(consistency)) {
    throw new UsageError(`--consistency must be linearizable, leader or stale, got ${JSON.stringify(consistency)}`);
  }

  if (group === "sync" || group === "render") return files(client, group, words.slice(1), flags, io);

  switch (`${group} ${command}`) {
    case "kv get": {
      const [key] = need(1, "a KEY");
      const entry = await client.get(key!, { consistency });
      if (!entry) {
        io.err(`pontoon: key ${JSON.stringify(key)} does not exist`);
        return EXIT.notFound;
      }
      print(entry, () => entry.value);
      return EXIT.ok;
    }
    case "kv put": {
      const [key, value] = need(2, "a KEY and a VALUE");
      const body = value === "-" ? new Uint8Array(await Bun.stdin.arrayBuffer()) : value!;
      const ttl = flags.get("ttl");
      const index = await client.put(key!, body, { cas, ...(typeof ttl === "string" ? { ttl } : {}) });
      print({ index }, () => `${key} written at index ${index}`);
      return EXIT.ok;
    }
    case "kv del": {
      const [key] = need(1, "a KEY");
      const result = await client.delete(key!, { cas });
      print(result, () => (result.deleted ? `${key} deleted at index ${result.index}` : `${key} did not exist`));
      return EXIT.ok;
    }
    case "kv ls": {
      if (rest.length > 1) throw new UsageError(`kv ls takes one PREFIX, got ${rest.length}`);
      const list = await client.list(rest[0] ?? "", { consistency });
      print(list, () => table(["KEY", "MODIFIED", "VALUE"], list.items.map((e) => [e.key, String(e.modifyIndex), preview(e.value)])));
      return EXIT.ok;
    }
    case "kv history": {
      const [key] = need(1, "a KEY");
      const versions = await client.history(key!);
      print(versions, () => table(["INDEX", "OP", "VALUE"], versions.map((v) => [String(v.index), v.op, v.value === null ? "" : preview(v.value)])));
      return EXIT.ok;
    }
    case "kv rollback": {
      const [key, to] = need(2, "a KEY and an INDEX");
      if (!/^\d+$/.test(to!)) throw new UsageError(`INDEX must be a whole number, got ${JSON.stringify(to)}`);
      const result = await client.rollback(key!, Number(to));
      print(result, () => `${key} rolled back to its version at ${to}, as index ${result.index}${result.deleted ? " (deleted)" : ""}`);
      return EXIT.ok;
    }
    case "kv watch": {
      if (rest.length > 1) throw new UsageError(`kv watch takes one PREFIX, got ${rest.length}`);
      return watch(client, rest[0] ?? "", wholeNumber(flags, "after"), json, io);
    }
    case "snapshot save": {
      const [file] = need(1, "a FILE");
      const backup = await client.backup();
      const { header } = decodeBackup(backup); // the checksum, checked before anything is written
      const temp = `${file}.${process.pid}.tmp`;
      await Bun.write(temp, backup);
      renameSync(temp, file!);
      print(header, () => `saved ${backup.length} bytes to ${file}: state at index ${header.appliedIndex} of plugins [${header.plugins.join(", ")}], sha256 ${header.sha256.slice(0, 16)}...`);
      return EXIT.ok;
    }
    case "snapshot restore": {
      const [file] = need(1, "a FILE");
      const bytes = new Uint8Array(await Bun.file(file!).arrayBuffer());
      decodeBackup(bytes); // a damaged file is refused here, before it is sent
      const result = await client.restore(bytes, { force: flags.has("force") });
      print(result, () => `restored ${file} (state at index ${result.restoredFrom.appliedIndex} of the cluster it came from) as index ${result.index}`);
      return EXIT.ok;
    }
    case "cluster status": {
      need(0, "nothing more");
      const s = await client.cluster();
      print(s, () => [
        `node ${s.id}: ${s.state}, term ${s.term}, commit ${s.commitIndex}, applied ${s.appliedIndex}, snapshot ${s.snapshotIndex}`,
        `leader: ${s.leader ? `${s.leader.id} (raft ${s.leader.raft}, http ${s.leader.http ?? "unknown"})` : "none known"}`,
        ...table(["MEMBER", "ROLE", "RAFT", "HTTP", "MATCH", "LAG"], s.members.map((m) => {
          const r = s.replication.find((p) => p.id === m.id);
          const role = m.id === s.leader?.id ? "leader" : m.voter ? "voter" : "non-voter";
          return [m.id, role, m.raft, m.http ?? "", r ? String(r.match) : "", r ? String(r.lag) : ""];
        })),
      ]);
      return EXIT.ok;
    }
    case "cluster members": {
      need(0, "nothing more");
      const s = await client.cluster();
      print(s.members, () => table(["ID", "VOTER", "RAFT", "HTTP", "LEADER"], s.members.map((m) => [m.id, m.voter ? "yes" : "no", m.raft, m.http ?? "", m.id === s.leader?.id ? "*" : ""])));
      return EXIT.ok;
    }
    case "cluster join": {
      const [id, raft, http] = need(3, "ID RAFT_ADDRESS HTTP_ADDRESS");
      const secret = flags.get("join-secret") ?? process.env.PONTOON_JOIN_SECRET;
      const result = await client.join({ id: id!, raft: raft!, http: http!, voter: !flags.has("nonvoter") }, typeof secret === "string" ? secret : undefined);
      print(result, () => (result.joined ? `${id} joined as a ${flags.has("nonvoter") ? "non-voter" : "voter"} at index ${result.index}` : `${id} is already a member`));
      return EXIT.ok;
    }
    case "cluster remove": {
      const [id] = need(1, "an ID");
      const result = await client.removeMember(id!);
      print(result, () => `${id} removed at index ${result.index}`);
      return EXIT.ok;
    }
    case "cluster transfer": {
      if (rest.length > 1) throw new UsageError("cluster transfer takes at most one ID");
      const result = await client.transferLeadership(rest[0]);
      print(result, () => `${result.leader.id} now leads`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(words.join(" "))}`);
  }
}

/** `token new` and `token hash`: offline, nothing is sent anywhere. */
async function tokenCommand({ words, flags }: ParsedArgs, io: Output): Promise<number> {
  const [, command, ...rest] = words;
  if (command === "hash") {
    if (rest.length > 1) throw new UsageError("token hash takes at most one TOKEN");
    const token = rest[0] ?? (await Bun.stdin.text()).trim();
    if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError("token hash: a token is visible ASCII characters without spaces");
    io.out(sha256Hex(token));
    return EXIT.ok;
  }
  if (command === "new") {
    if (rest.length !== 1) throw new UsageError("token new needs one NAME");
    const name = rest[0]!;
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new UsageError("token new: NAME is 1-64 letters, digits, '.', '_' or '-'");
    const role = String(flags.get("role") ?? "read");
    if (!["read", "write", "admin"].includes(role)) throw new UsageError(`--role must be read, write or admin, got ${JSON.stringify(role)}`);
    const prefixes = flags.has("prefix") ? String(flags.get("prefix")).split(",").filter(Boolean) : [];
    const token = `pt_${randomBytes(24).toString("base64url")}`;
    const entry = { name, sha256: sha256Hex(token), role, ...(prefixes.length > 0 ? { prefixes } : {}) };
    if (flags.has("json")) {
      io.out(JSON.stringify({ token, entry }));
      return EXIT.ok;
    }
    io.out(`token (give it to the client; it is not stored anywhere): ${token}`);
    io.out("add under auth.tokens on every node (nodes reload it live):");
    io.out(`  - { name: ${name}, sha256: "${entry.sha256}", role: ${role}${prefixes.length > 0 ? `, prefixes: ${JSON.stringify(prefixes)}` : ""} }`);
    return EXIT.ok;
  }
  throw new UsageError(`unknown command ${JSON.stringify(words.join(" "))}`);
}

/** sync and render: run once with --once, else until Ctrl-C. */
async function files(client: PontoonClient, group: "sync" | "render", rest: string[], flags: ParsedArgs["flags"], io: Output): Promise<number> {
  const prefix = flags.get("prefix");
  if (typeof prefix !== "string") throw new UsageError(`${group} needs --prefix P (e.g. --prefix app/)`);
  const once = flags.has("once");
  const log = (line: string) => io.err(`pontoon ${group}: ${line}`);
  let handle: { close(): Promise<void> };
  if (group === "sync") {
    if (rest.length !== 1) throw new UsageError("sync needs one DIR");
    try {
      const synced = await syncDirectory(client, rest[0]!, { prefix, watch: !once, log });
      await synced.ready;
      handle = synced;
    } catch (error) {
      if (!(error instanceof SyncRefused)) throw error;
      io.err(`pontoon sync: ${error.message}`);
      return EXIT.refused;
    }
  } else {
    const out = flags.get("out");
    if (typeof out !== "string" || rest.length > 0) throw new UsageError("render needs --out DIR and no other words");
    const exec = flags.get("exec");
    handle = await renderPrefix(client, out, { prefix, watch: !once, exec: typeof exec === "string" ? exec : undefined, log });
  }
  if (once) return EXIT.ok;
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await handle.close();
  return EXIT.ok;
}

async function watch(client: PontoonClient, prefix: string, after: number | undefined, json: boolean, io: Output): Promise<number> {
  const line = (e: WatchEvent | WatchReset): string => {
    if (json) return JSON.stringify(e);
    if (e.type === "reset") return `reset @${e.index}: ${e.items.length} keys (changes since the last event are no longer retained)`;
    return e.type === "put" ? `put ${e.key} = ${preview(e.value ?? "")} @${e.index}` : `delete ${e.key} @${e.index}`;
  };
  const w = client.watch(prefix, (e) => io.out(line(e)), {
    after,
    onStatus: (s) => io.err(s.connected ? `pontoon: watching ${JSON.stringify(prefix)} on ${s.endpoint}` : `pontoon: lost ${s.endpoint} (${s.error}); reconnecting`),
  });
  const stop = (): void => w.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  await w.closed;
  return EXIT.ok;
}

/** An error as one line on stderr, and the exit code it means. */
function report(error: unknown, io: Output): number {
  if (error instanceof UsageError) {
    io.err(`pontoon: ${error.message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (error instanceof BackupError) {
    io.err(`pontoon: ${error.message}`);
    return EXIT.refused;
  }
  if ((error as { code?: string }).code === "ENOENT") {
    io.err(`pontoon: ${(error as Error).message}`);
    return EXIT.notFound;
  }
  if (!(error instanceof PontoonError)) {
    io.err(`pontoon: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.refused;
  }
  io.err(`pontoon: ${error.code}: ${error.message}`);
  if (error.outcomeUnknown) return EXIT.unknown;
  if (error.status === 0 || error.status === 503 || error.status === 504) return EXIT.unavailable;
  if (error.status === 404) return EXIT.notFound;
  return EXIT.refused;
}

/** A value on one line of a table: newlines shown as ⏎, long ones cut. */
function preview(value: string): string {
  const flat = value.replaceAll("\n", "⏎");
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

if (import.meta.main) {
  const code = await run(process.argv.slice(2), process.env, { out: (l) => console.log(l), err: (l) => console.error(l) });
  process.exit(code);
}
