// The cluster view: every member as the members themselves report it, live
// from GET /v1/cluster/events, with the membership actions behind a
// confirmation.

import type { ClusterOverview, MemberView } from "../cluster-overview.ts";
import { callJson } from "./api.ts";
import { h, labelled, type El } from "./dom.ts";
import { openStream, type Stream } from "./sse.ts";
import { confirmAction, formatMs, Notice, type View } from "./widgets.ts";

const COLUMNS = ["Member", "Role", "Raft address", "HTTP address", "Term", "Commit", "Applied", "Lag", "Last contact", "Reachable", ""];

export function clusterView(): View {
  const notice = new Notice();
  const live = h("p", { class: "live", text: "Connecting…" });
  const summary = h("p", { class: "summary" });
  const body = h("tbody");
  const table = h("table", { class: "members cards" }, h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", { text: c })))), body);
  let overview: ClusterOverview | null = null;

  /** Runs a confirmed action and reports what the API said; the live stream shows its effect. */
  async function act(title: string, text: string, label: string, run: () => Promise<string>, danger = false): Promise<void> {
    if (!(await confirmAction(title, text, label, danger))) return;
    notice.ok(`${title}…`);
    try {
      notice.ok(await run());
    } catch (error) {
      notice.error(error);
    }
  }

  const transfer = (m: MemberView) =>
    act("Transfer leadership", `Hand leadership to ${m.id}? Writes pause for a moment while it takes over.`, "Transfer", async () => {
      const { leader } = await callJson<{ leader: { id: string } }>("POST", "/v1/cluster/transfer-leadership", { json: { id: m.id } });
      return `Leadership moved to ${leader.id}.`;
    });
  const remove = (m: MemberView) =>
    act("Remove member", `Remove ${m.id} (${m.raft}) from the cluster? It stops receiving the log; to come back it must join again.`, "Remove", async () => {
      const { index } = await callJson<{ index: number }>("DELETE", `/v1/cluster/members/${encodeURIComponent(m.id)}`);
      return `${m.id} was removed (configuration at index ${index}).`;
    }, true);

  function row(m: MemberView): El {
    const isLeader = overview?.leader?.id === m.id && m.state === "Leader";
    const role = !m.reachable ? "unreachable" : !m.voter ? "non-voter" : (m.state ?? "").toLowerCase();
    const cell = (label: string, value: El | string, cls = "") => h("td", { attrs: { "data-label": label }, class: cls }, value);
    const actions = h("td", { class: "actions" });
    if (m.voter && !isLeader && m.reachable) actions.append(h("button", { text: "Make leader", type: "button", on: { click: () => void transfer(m) } }));
    actions.append(h("button", { text: "Remove", type: "button", class: "danger", on: { click: () => void remove(m) } }));
    return h(
      "tr",
      { attrs: { "data-member": m.id, "data-role": role }, class: m.reachable ? "" : "down" },
      cell("Member", h("span", {}, h("strong", { text: m.id }), m.id === overview?.from ? h("span", { class: "here", text: " this page's node" }) : null), "id"),
      cell("Role", h("span", { class: `role ${role}`, text: isLeader ? "leader" : role })),
      cell("Raft address", m.raft),
      cell("HTTP address", m.http ?? "not recorded"),
      cell("Term", String(m.term ?? "—")),
      cell("Commit", String(m.commitIndex ?? "—")),
      cell("Applied", String(m.appliedIndex ?? "—")),
      cell("Lag", m.lag === null ? "—" : String(m.lag)),
      cell("Last contact", m.state === "Leader" ? "— (leads)" : formatMs(m.lastContactMs)),
      cell("Reachable", m.reachable ? "yes" : h("span", { title: m.error ?? "", text: "no" })),
      actions,
    );
  }

  function render(next: ClusterOverview): void {
    overview = next;
    summary.replaceChildren(
      "Leader: ",
      h("strong", { class: "leader-id", text: next.leader?.id ?? "none (election under way or no quorum)" }),
      ` · term ${next.term} · ${next.members.length} members · seen from ${next.from}`,
    );
    body.replaceChildren(...next.members.map(row));
  }

  const stream: Stream = openStream(() => "/v1/cluster/events", {
    event(event) {
      if (event.event !== "overview") return;
      render(JSON.parse(event.data) as ClusterOverview);
      live.className = "live open";
      live.textContent = `Live · updated ${new Date().toLocaleTimeString()}`;
    },
    state(state, detail) {
      if (state === "retrying") {
        live.className = "live retrying";
        live.textContent = `Reconnecting: ${detail ?? ""}`;
      }
    },
    refused(failure) {
      live.className = "live retrying";
      live.textContent = `The node refused the live view: ${failure.message}`;
      return false;
    },
  });

  const addForm = addMemberForm((member) =>
    act("Add member", `Add ${member.id} (raft ${member.raft}, http ${member.http}) as a ${member.voter ? "voter" : "non-voter"}?${member.voter ? " A voter that is not running counts against the quorum." : ""}`, "Add", async () => {
      const { index, joined } = await callJson<{ index: number; joined: boolean }>("POST", "/v1/cluster/join", { json: member });
      return joined ? `${member.id} was added (configuration at index ${index}).` : `${member.id} was already a member.`;
    }),
  );
  const snapshot = h("button", {
    text: "Take snapshot",
    type: "button",
    on: {
      click: () =>
        void act("Take snapshot", "Snapshot the leader's state now and compact its log behind it?", "Take snapshot", async () => {
          const result = await callJson<{ snapshot: unknown }>("POST", "/v1/cluster/snapshot");
          return `Snapshot taken: ${JSON.stringify(result.snapshot)}`;
        }),
    },
  });

  const el = h("section", { class: "view cluster" }, h("div", { class: "title" }, h("h1", { text: "Cluster" }), live), summary, notice.el, h("div", { class: "scroll" }, table), h("div", { class: "toolbar" }, snapshot), addForm);
  return { el, dispose: () => stream.close() };
}

interface NewMember {
  id: string;
  raft: string;
  http: string;
  voter: boolean;
}

function addMemberForm(submit: (member: NewMember) => void): El {
  const id = h("input", { placeholder: "n4", attrs: { name: "id", required: "" } });
  const raft = h("input", { placeholder: "10.0.0.4:1111", attrs: { name: "raft", required: "" } });
  const http = h("input", { placeholder: "10.0.0.4:2221", attrs: { name: "http", required: "" } });
  const voter = h("input", { type: "checkbox", checked: true, attrs: { name: "voter" } });
  return h(
    "form",
    {
      class: "add-member",
      on: {
        submit: (event) => {
          event.preventDefault();
          submit({ id: id.value.trim(), raft: raft.value.trim(), http: http.value.trim(), voter: voter.checked });
        },
      },
    },
    h("h2", { text: "Add a member" }),
    h("div", { class: "row" }, labelled("Id", id), labelled("Raft address", raft), labelled("HTTP address", http), labelled("Voter", voter)),
    h("button", { text: "Add member…", type: "submit", class: "primary" }),
  );
}
