// Columns padded to their widest cell, for people; `--json` is for scripts.

export function table(headers: string[], rows: string[][]): string[] {
  if (rows.length === 0) return ["(none)"];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)];
}
