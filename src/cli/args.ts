// The command line of `pontoon`: words, then flags anywhere (`--name value`
// or `--name=value`; boolean flags take no value). An unknown flag or a
// missing value is a usage error, never ignored.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface ParsedArgs {
  words: string[];
  flags: Map<string, string | true>;
}

/** Flags that take no value. */
const BOOLEAN_FLAGS = new Set(["json", "help", "nonvoter", "once", "force"]);
/** Flags that take one. */
const VALUE_FLAGS = new Set(["endpoints", "token", "timeout-ms", "cas", "consistency", "after", "prefix", "out", "exec", "ttl", "role", "join-secret", "cacert"]);

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const words: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-h") {
      flags.set("help", true);
      continue;
    }
    if (!arg.startsWith("--")) {
      words.push(arg);
      continue;
    }
    const equals = arg.indexOf("=");
    const name = arg.slice(2, equals > 0 ? equals : undefined);
    if (BOOLEAN_FLAGS.has(name)) {
      if (equals > 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
    } else if (VALUE_FLAGS.has(name)) {
      const value = equals > 0 ? arg.slice(equals + 1) : argv[++i];
      if (value === undefined || value === "") throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
    } else {
      throw new UsageError(`unknown flag ${arg}`);
    }
  }
  return { words, flags };
}

/** A flag's value as a whole number >= 0, or undefined when absent. */
export function wholeNumber(flags: ParsedArgs["flags"], name: string): number | undefined {
  const raw = flags.get(name);
  if (raw === undefined) return undefined;
  if (raw === true || !/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}
