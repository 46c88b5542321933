// The syntax check run while a value is edited. YAML's parser (the `yaml`
// package the server already uses for its config) is loaded on first use, as
// its own chunk, so the console's first load does not carry it.

export type Format = "json" | "yaml" | "text";
export const FORMATS: Format[] = ["json", "yaml", "text"];

export type SyntaxResult = { ok: true } | { ok: false; message: string };

/** The format a key's name promises (by extension), else what the value looks like. */
export function formatOf(key: string, value: string): Format {
  if (/\.json$/i.test(key)) return "json";
  if (/\.ya?ml$/i.test(key)) return "yaml";
  const start = value.trimStart()[0];
  if ((start === "{" || start === "[") && isJson(value)) return "json";
  return "text";
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export async function checkSyntax(format: Format, text: string): Promise<SyntaxResult> {
  if (format === "text") return { ok: true };
  if (format === "json") {
    try {
      JSON.parse(text);
      return { ok: true };
    } catch (error) {
      return { ok: false, message: `JSON: ${(error as Error).message}${jsonPosition(text, (error as Error).message)}` };
    }
  }
  const { parseAllDocuments } = await import("yaml");
  for (const document of parseAllDocuments(text)) {
    const error = "errors" in document ? document.errors[0] : undefined;
    if (!error) continue;
    const first = error.message.split("\n")[0]!.replace(/:$/, "");
    const where = error.linePos && !/ line \d+/.test(first) ? ` (line ${error.linePos[0].line}, column ${error.linePos[0].col})` : "";
    return { ok: false, message: `YAML: ${first}${where}` };
  }
  return { ok: true };
}

/** Line and column for engines whose message gives only "position N". */
function jsonPosition(text: string, message: string): string {
  if (/line \d+/.test(message)) return "";
  const match = /position (\d+)/.exec(message);
  if (!match) return "";
  const before = text.slice(0, Number(match[1]));
  const line = before.split("\n").length;
  return ` (line ${line}, column ${before.length - before.lastIndexOf("\n")})`;
}
