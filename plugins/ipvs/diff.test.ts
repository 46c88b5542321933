import { describe, expect, it } from "bun:test";
import { planCommands, type KernelTable } from "./diff.ts";
import { normalizeServer, normalizeService } from "./model.ts";
import { parseSave } from "./save-format.ts";

/** save text → the diff's table form, weights as written. */
function table(text: string): KernelTable[] {
  return parseSave(text).map(({ service, servers }) => {
    const s = normalizeService(service);
    return { service: s, servers: servers.map((spec) => ({ server: normalizeServer(s, spec), weight: spec.weight ?? 1 })) };
  });
}
const plan = (desired: string, current: string) => planCommands(table(desired), table(current)).map((c) => c.join(" "));

describe("planCommands", () => {
  const web = "-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1\n-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 1\n";

  it("nothing when the kernel already matches", () => {
    expect(plan(web, web)).toEqual([]);
  });

  it("builds an empty kernel from scratch: each service, then its servers", () => {
    expect(plan(web, "")).toEqual(["-A -t 10.0.0.1:80 -s wrr", "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1", "-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 1"]);
  });

  it("edits a changed weight in place (-e) instead of deleting the server", () => {
    expect(plan(web.replace("10.0.0.3:80 -g -w 1", "10.0.0.3:80 -g -w 0"), web)).toEqual(["-e -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 0"]);
  });

  it("edits a changed scheduler in place (-E), keeping the servers", () => {
    expect(plan(web.replace("-s wrr", "-s lc -p 60"), web)).toEqual(["-E -t 10.0.0.1:80 -s lc -p 60"]);
  });

  it("deletes what the kernel has and the table does not: stray services whole (-D), stray servers (-d)", () => {
    const kernel = `${web}-a -t 10.0.0.1:80 -r 10.0.0.4:80 -g -w 1\n-A -f 9 -s rr\n-a -f 9 -r 10.0.0.9:0 -g -w 1\n`;
    expect(plan(web, kernel)).toEqual(["-D -f 9", "-d -t 10.0.0.1:80 -r 10.0.0.4:80"]);
  });

  it("a server whose port changes is another server: -d the old, -a the new", () => {
    const masq = "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 1\n";
    expect(plan(masq.replace("8080", "8081"), masq)).toEqual(["-d -t 10.0.0.1:80 -r 10.0.0.2:8080", "-a -t 10.0.0.1:80 -r 10.0.0.2:8081 -m -w 1"]);
  });

  it("names IPv6 and fwmark services as ipvsadm takes them", () => {
    expect(plan("-A -u [2001:db8::1]:53 -s rr\n-A -f 7 -6 -s sh -b sh-port\n", "")).toEqual(["-A -u [2001:db8::1]:53 -s rr", "-A -f 7 -6 -s sh -b sh-port"]);
  });
});
