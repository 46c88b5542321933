// A stand-in for ipvsadm, for the reconciler's tests: it appends each call's
// arguments to a log and keeps its table in a file, with ipvsadm's answers
// (-Sn prints the table; -A of an existing service fails "Service already
// exists"; ...). Written apart from the plugin's own parser on purpose, so a
// bug there cannot hide itself here.
//
// Environment: FAKE_IPVSADM_DIR (its table and log live there);
// FAKE_IPVSADM_NO_KERNEL=1 answers as a kernel without IPVS does;
// FAKE_IPVSADM_REFUSE_SCHEDULER=mh refuses services with that scheduler.

import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

interface Rule {
  name: string;
  options: string;
  servers: { address: string; options: string }[];
}

const dir = process.env.FAKE_IPVSADM_DIR;
if (!dir) fail(3, "FAKE_IPVSADM_DIR is not set");
const tableFile = join(dir, "table.json");
const args = process.argv.slice(2);
appendFileSync(join(dir, "calls.log"), `${JSON.stringify(args)}\n`);

if (process.env.FAKE_IPVSADM_NO_KERNEL === "1") {
  fail(2, "Can't initialize ipvs: Protocol not available\nAre you sure that IP Virtual Server is built in the kernel or as module?");
}

const table: Rule[] = existsSync(tableFile) ? (JSON.parse(readFileSync(tableFile, "utf8")) as Rule[]) : [];
const [command, ...rest] = args;

/** The service name (`-t 10.0.0.1:80`, `-f 12 -6`) and what follows it. */
function splitName(words: string[]): { name: string; after: string[] } {
  if (words[0] === "-f") {
    const v6 = words[2] === "-6";
    return { name: words.slice(0, v6 ? 3 : 2).join(" "), after: words.slice(v6 ? 3 : 2) };
  }
  return { name: words.slice(0, 2).join(" "), after: words.slice(2) };
}

function fail(code: number, message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function save(): void {
  writeFileSync(tableFile, JSON.stringify(table));
}

switch (command) {
  case "-Sn":
  case "-S": {
    const lines: string[] = [];
    for (const rule of table) {
      lines.push(`-A ${rule.name} ${rule.options}`);
      for (const s of rule.servers) lines.push(`-a ${rule.name} -r ${s.address} ${s.options}`);
    }
    process.stdout.write(lines.map((l) => `${l}\n`).join(""));
    break;
  }
  case "-C":
    table.length = 0;
    save();
    break;
  case "-A":
  case "-E":
  case "-D": {
    const { name, after } = splitName(rest);
    const i = table.findIndex((r) => r.name === name);
    const refused = process.env.FAKE_IPVSADM_REFUSE_SCHEDULER;
    if (command !== "-D" && refused && after.join(" ").includes(`-s ${refused}`)) fail(1, "Scheduler not found");
    if (command === "-A") {
      if (i >= 0) fail(1, "Service already exists");
      table.push({ name, options: after.join(" "), servers: [] });
    } else if (i < 0) {
      fail(1, "No such service");
    } else if (command === "-E") {
      table[i]!.options = after.join(" ");
    } else {
      table.splice(i, 1);
    }
    save();
    break;
  }
  case "-a":
  case "-e":
  case "-d": {
    const { name, after } = splitName(rest);
    const rule = table.find((r) => r.name === name);
    if (!rule) fail(1, "No such service");
    if (after[0] !== "-r" || !after[1]) fail(2, "-r is required");
    const address = after[1];
    const options = after.slice(2).join(" ");
    const j = rule.servers.findIndex((s) => s.address === address);
    if (command === "-a") {
      if (j >= 0) fail(1, "Destination already exists");
      rule.servers.push({ address, options });
    } else if (j < 0) {
      fail(1, "No such destination");
    } else if (command === "-e") {
      rule.servers[j]!.options = options;
    } else {
      rule.servers.splice(j, 1);
    }
    save();
    break;
  }
  default:
    fail(2, `fake ipvsadm: unsupported command ${JSON.stringify(args)}`);
}
