// `ipvsadm-save -n` text both ways: what a real LVS box prints reads into the
// table, and the table writes back out as the same text.

import { describe, expect, it } from "bun:test";
import { PluginError } from "../../src/fsm/sdk.ts";
import { normalizeServer, normalizeService } from "./model.ts";
import { formatSave, parseSave } from "./save-format.ts";

/** Text as the kernel's table prints it: services and their servers, canonical, in libipvs's sort order. */
const SAVED = [
  "-A -t 10.0.0.1:0 -s lblcr -p 120 -M 255.255.255.0",
  "-A -t 10.0.0.1:80 -s wrr -p 300",
  "-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 5",
  "-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 0 -x 200 -y 20",
  "-A -u 10.0.0.1:53 -s rr -o",
  "-a -u 10.0.0.1:53 -r 10.0.0.4:53 -i -w 1",
  "-A --sctp-service 10.0.0.1:3868 -s lc",
  "-A -t [2001:db8::1]:443 -s sh -p 60 -M 64 -b sh-fallback,sh-port",
  "-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -g -w 3",
  "-A -f 12 -s mh -b mh-port",
  "-a -f 12 -r 10.0.0.9:0 -g -w 1",
  "-A -f 12 -6 -s wlc -p 300 --pe sip",
  "",
].join("\n");

function roundTrip(text: string): string {
  return formatSave(
    parseSave(text).map(({ service, servers }) => {
      const s = normalizeService(service);
      return { service: s, servers: servers.map((r) => normalizeServer(s, r)) };
    }),
  );
}

describe("ipvsadm-save -n text", () => {
  it("reads every kind of rule ipvsadm -Sn prints and writes it back unchanged", () => {
    expect(roundTrip(SAVED)).toBe(SAVED);
  });

  it("reads what a person or ipvsadm-restore would take: long options, -p without a timeout, a port-less -r, comments", () => {
    const text = "# from lb1\n--add-service --tcp-service 10.0.0.1:80 --scheduler rr --persistent\n--add-server --tcp-service 10.0.0.1:80 --real-server 10.0.0.2 --masquerading --weight 2\n";
    expect(roundTrip(text)).toBe("-A -t 10.0.0.1:80 -s rr -p 300\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 2\n");
  });

  const bad: [string, string, number, RegExp][] = [
    ["-A -t 10.0.0.1:80 -s fastest", "INVALID_IMPORT", 400, /^line 1: -s: unknown scheduler "fastest"/],
    ["-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.999:80 -g -w 1", "INVALID_IMPORT", 400, /^line 2: -r: "10.0.0.999:80" is not an address:port/],
    ["-A -t 10.0.0.1:99999 -s rr", "INVALID_IMPORT", 400, /^line 1: -t: expected an integer 0-65535/],
    ["-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1", "INVALID_IMPORT", 400, /^line 1: -a for service tcp\/10.0.0.1\/80, which no -A line above adds/],
    ["-A -t 10.0.0.1:80 -s rr\n\n-A -t 10.0.0.1:80 -s wrr", "SERVICE_EXISTS", 409, /^line 3: service tcp\/10.0.0.1\/80 is already added on line 1/],
    ["-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 2", "SERVER_EXISTS", 409, /^line 3: real server 10.0.0.2:80/],
    ["-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:81 -g -w 1", "INVALID_PORT", 400, /^line 2: port: with forwarding route/],
    ["-A -t 10.0.0.1:80 -s rr -w 3", "INVALID_IMPORT", 400, /^line 1: -w belongs on a real server's -a line/],
    ["-E -t 10.0.0.1:80 -s rr", "INVALID_IMPORT", 400, /^line 1: expected -A/],
    ["-A -t 10.0.0.1:80 -s rr --frobnicate", "INVALID_IMPORT", 400, /^line 1: unknown option "--frobnicate"/],
  ];
  for (const [text, code, status, message] of bad) {
    it(`refuses ${JSON.stringify(text.split("\n").at(-1))} naming the line`, () => {
      let caught: unknown;
      try {
        parseSave(text);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(PluginError);
      const e = caught as PluginError;
      expect([e.code, e.status]).toEqual([code, status]);
      expect(e.message).toMatch(message);
    });
  }
});
