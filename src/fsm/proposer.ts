// The one way in for every write: validate a plugin command against its
// schema, refuse it if some member could not apply it, encode it with the
// leader's clock, replicate it, and hand back what apply returned.

import type { TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import type { Database } from "bun:sqlite";
import { NotLeaderError } from "../raft/errors.ts";
import { decodeCommand, encodeCommand } from "./command-codec.ts";
import { HOST_PLUGIN, hostCommands, readMembers } from "./host-commands.ts";
import type { CommandOutcome, PluginHost } from "./plugin-host.ts";
import { PluginError, type Consistency } from "./sdk.ts";

/** What the plugin layer needs from the Raft node (RaftNode fits). */
export interface ReplicatedLog {
  apply(command: Uint8Array, options?: { timeoutMs?: number }): Promise<{ index: number; response: unknown }>;
  /** Follower: hands `payload` to the leader's onForwarded handler and returns its answer. */
  forward?(payload: Uint8Array, options?: { timeoutMs?: number }): Promise<Uint8Array>;
  /** Whether this node leads now (a follower then forwards without trying apply first). */
  isLeader?(): boolean;
  onForwarded?(handler: (payload: Uint8Array, timeoutMs: number) => Promise<Uint8Array>): void;
  readIndex(options?: { timeoutMs?: number }): Promise<number>;
  leaseRead(options?: { timeoutMs?: number }): Promise<number>;
}

export interface ProposerOptions {
  /** The leader's clock, written into each command (default Date.now). */
  now?: () => number;
  /** Timeout for a call that names none (e.g. the current request's deadline); undefined: the node's default. */
  timeoutMs?: () => number | undefined;
  /** Told how long each successful write took from propose to applied. */
  observeApply?: (seconds: number) => void;
}

export class Proposer {
  private readonly checks = new Map<string, TypeCheck<TSchema>>();
  private members: Map<string, { http: string; plugins: string[] }> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly host: PluginHost,
    private readonly log: ReplicatedLog,
    private readonly options: ProposerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    // Member records change only through host commands: re-read them after those.
    host.onApplied((batch) => {
      if (batch.membersChanged) this.members = undefined;
    });
    host.onRestored(() => {
      this.members = undefined;
    });
    // The leader's side of a write made on a follower: checked again here and
    // stamped with this leader's clock, as if it had been made here.
    log.onForwarded?.(async (payload, timeoutMs) => {
      const command = decodeCommand(payload);
      const answer = (index: number, response: unknown) => encodeCommand({ plugin: FORWARDED_RESULT, command: FORWARDED_RESULT, args: { index, response }, timestamp: 0 });
      try {
        this.check(command.plugin, command.command, command.args);
        if (command.plugin !== HOST_PLUGIN) this.ensureEveryMemberRuns(command.plugin);
      } catch (error) {
        // Refused before proposing: the follower answers with this error as if it were its own.
        if (!(error instanceof PluginError)) throw error;
        return answer(0, { ok: false, error: { code: error.code, message: error.message, status: error.status, details: error.details } } satisfies CommandOutcome);
      }
      const { index, response } = await this.log.apply(encodeCommand({ ...command, timestamp: this.now() }), { timeoutMs });
      return answer(index, response);
    });
  }

  async propose(plugin: string, command: string, args: unknown, options: { timeoutMs?: number } = {}): Promise<{ index: number; value: unknown }> {
    this.check(plugin, command, args);
    if (plugin !== HOST_PLUGIN) this.ensureEveryMemberRuns(plugin);
    const data = encodeCommand({ plugin, command, args, timestamp: this.now() });
    const started = performance.now();
    const timeout = { timeoutMs: options.timeoutMs ?? this.options.timeoutMs?.() };
    // Hands the proposal to the leader over the Raft transport.
    const forward = () => this.log.forward!(data, timeout).then(decodeForwardedResult);
    // A follower forwards at once: apply() would refuse with a NotLeaderError,
    // and building two errors (with their stacks) was a visible share of every
    // write a follower takes.
    const { index, response } =
      this.log.forward && this.log.isLeader?.() === false
        ? await forward()
        : await this.log.apply(data, timeout).catch((error: unknown) => {
            // Not the leader (it stepped down just now), so never appended here.
            if (!(error instanceof NotLeaderError) || !this.log.forward) throw error;
            return forward();
          });
    this.options.observeApply?.((performance.now() - started) / 1000);
    const outcome = response as CommandOutcome;
    if (!outcome.ok) throw new PluginError(outcome.error.code, outcome.error.message, outcome.error.status, outcome.error.details);
    return { index, value: outcome.value };
  }

  /** Waits until a read at `consistency` is safe here; returns the index the read reflects. */
  async readable(consistency: Consistency, options: { timeoutMs?: number } = {}): Promise<number> {
    const timeout = { timeoutMs: options.timeoutMs ?? this.options.timeoutMs?.() };
    if (consistency === "linearizable") return this.log.readIndex(timeout);
    if (consistency === "leader") return this.log.leaseRead(timeout);
    return this.host.appliedIndex();
  }

  async read<T>(consistency: Consistency, query: (db: Database) => T, options: { timeoutMs?: number } = {}): Promise<{ index: number; value: T }> {
    const index = await this.readable(consistency, options);
    // Synchronous from here: no batch can be applied between the wait and the query.
    return { index, value: query(this.host.database) };
  }

  /** The member records (HTTP address and plugins) as replicated. */
  memberRecords(): Map<string, { http: string; plugins: string[] }> {
    this.members ??= readMembers(this.host.database);
    return this.members;
  }

  private check(plugin: string, command: string, args: unknown): void {
    const key = `${plugin}.${command}`;
    let check = this.checks.get(key);
    if (!check) {
      const commands = (plugin === HOST_PLUGIN ? hostCommands : this.host.plugin(plugin)?.definition.commands) as Record<string, TSchema> | undefined;
      // Own properties only: "constructor" or "toString" is not a command.
      const schema = commands && Object.hasOwn(commands, command) ? commands[command] : undefined;
      if (!schema) {
        const known = plugin === HOST_PLUGIN || this.host.plugin(plugin) ? "command" : "plugin";
        throw new PluginError("UNKNOWN_COMMAND", known === "plugin" ? `no plugin "${plugin}" runs on this node` : `plugin "${plugin}" has no command "${command}"`, 400);
      }
      check = TypeCompiler.Compile(schema);
      this.checks.set(key, check);
    }
    if (check.Check(args)) return;
    const first = check.Errors(args).First();
    const field = first?.path ? first.path.slice(1).replaceAll("/", ".") : "(the command)";
    throw new PluginError("INVALID_COMMAND", `${plugin}.${command}: ${field || "(the command)"}: ${first?.message ?? "does not match the schema"}`, 400, { field });
  }

  private ensureEveryMemberRuns(plugin: string): void {
    for (const [id, member] of this.memberRecords()) {
      if (!member.plugins.includes(plugin)) {
        throw new PluginError(
          "PLUGIN_NOT_ON_ALL_MEMBERS",
          `member ${id} does not run plugin "${plugin}" (it runs [${member.plugins.join(", ")}]); start every node with the same plugins: list`,
          503,
        );
      }
    }
  }
}

/** Names the answer to a forwarded proposal, which travels in the command format (blob-safe JSON). */
const FORWARDED_RESULT = "_result";

function decodeForwardedResult(payload: Uint8Array): { index: number; response: unknown } {
  const decoded = decodeCommand(payload);
  if (decoded.plugin !== FORWARDED_RESULT) throw new Error(`the leader answered a forwarded proposal with ${JSON.stringify(decoded.plugin)}`);
  return decoded.args as { index: number; response: unknown };
}
