// Errors of the plugin host that are not a command's own outcome.

/**
 * This node was asked to apply something it cannot run the same way as the
 * others (a command of a plugin it does not have, a snapshot of another
 * plugin set). Applying it wrongly or skipping it would make this node
 * diverge, so the node stops and says what to fix.
 */
export class PluginMismatchError extends Error {
  readonly code = "PLUGIN_MISMATCH";
  constructor(detail: string, local: string[]) {
    super(
      `${detail}; this node runs plugins [${local.join(", ")}]. ` +
        "Start every node of the cluster with the same `plugins:` list (and the same Pontoon version), then restart this node: it resumes where it stopped",
    );
    this.name = "PluginMismatchError";
  }
}
