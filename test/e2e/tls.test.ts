// TLS everywhere: a three-node cluster whose HTTP API, Raft traffic and
// node-to-node calls all run over TLS with certificates this test makes
// (openssl), peers checked both ways (tls.mutual); a peer with a certificate
// from another CA is turned away at the handshake.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../../src/cli/main.ts";
import { ProcessCluster } from "./process-cluster.ts";

function openssl(dir: string, ...args: string[]): void {
  const result = Bun.spawnSync(["openssl", ...args], { cwd: dir, stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${result.stderr.toString()}`);
}

/** A CA, and certificates it signs for 127.0.0.1, good for servers and clients. */
function makeCertificates(dir: string, ca: string, names: string[]): void {
  mkdirSync(dir, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(dir, "req", "-x509", ...ec, "-keyout", `${ca}.key`, "-out", `${ca}.pem`, "-days", "2", "-subj", `/CN=${ca}`);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  for (const name of names) {
    openssl(dir, "req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", "ext.cnf");
  }
}

describe("TLS for HTTP, Raft and node-to-node calls", () => {
  const cluster = new ProcessCluster();
  const certs = join(cluster.root, "certs");
  const ids = ["t1", "t2", "t3"];

  beforeAll(async () => {
    makeCertificates(certs, "ca", ids);
    makeCertificates(certs, "rogue-ca", ["rogue"]);
    cluster.httpsCa = readFileSync(join(certs, "ca.pem"), "utf8");
    for (const id of ids) await cluster.define(id);
    for (const id of ids) {
      const file = cluster.peersFile(ids, {
        name: `${id}.yaml`,
        before: `tls:\n  cert: ${join(certs, `${id}.pem`)}\n  key: ${join(certs, `${id}.key`)}\n  ca: ${join(certs, "ca.pem")}\n  mutual: true\n`,
      });
      await cluster.start(id, {}, ["--config", file]);
    }
    await cluster.leader();
  }, 90_000);
  afterAll(() => cluster.shutdown());

  it("forms a cluster and serves writes and linearizable reads through followers", async () => {
    const leader = await cluster.leader();
    const [a, b] = ids.filter((id) => id !== leader).map((id) => cluster.node(id));
    const put = await cluster.fetch(`${a!.url}/v1/kv/secure/key`, { method: "PUT", body: "over tls" });
    expect(put.status).toBe(200);
    const read = await cluster.fetch(`${b!.url}/v1/kv/secure/key?raw`);
    expect(read.status).toBe(200);
    expect(read.headers.get("x-pontoon-leader")).toBe(leader);
    expect(await read.text()).toBe("over tls");
    const status = await cluster.status(a!.id);
    expect(status.members.map((m) => m.id).sort()).toEqual(ids);
    expect(cluster.logs(a!.id)).toContain(`tls="on, peers mutual"`);
  }, 60_000);

  it("lets the command line in with --cacert (endpoints without a scheme become https)", async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    const endpoints = ids.map((id) => `127.0.0.1:${cluster.node(id).httpPort}`).join(",");
    expect(await run(["kv", "put", "secure/cli", "from the cli", "--endpoints", endpoints, "--cacert", join(certs, "ca.pem")], {}, io)).toBe(0);
    expect(await run(["kv", "get", "secure/cli", "--endpoints", endpoints, "--cacert", join(certs, "ca.pem"), "--json"], {}, io)).toBe(0);
    expect(out.at(-1)).toContain("from the cli");
    expect(await run(["kv", "get", "secure/cli", "--endpoints", endpoints, "--timeout-ms", "1000"], {}, io)).toBe(3);
  }, 30_000);

  it("does not speak plain HTTP, and a client that does not trust the CA is refused", async () => {
    const node = cluster.node("t1");
    const plain = await fetch(`http://127.0.0.1:${node.httpPort}/v1/health`).then((r) => r.status, (e: Error) => e.message);
    expect(plain).not.toBe(200);
    const untrusting = await fetch(`${node.url}/v1/health`).then((r) => r.status, (e: Error) => e.message);
    expect(String(untrusting)).toMatch(/certificate|self.signed|UNABLE_TO_VERIFY|issuer/i);
  });

  it("turns away a Raft peer whose certificate another CA signed, and keeps serving", async () => {
    const node = cluster.node("t1");
    const handshake = (name: string, ca: string) =>
      new Promise<string>((resolve) => {
        const tls = { cert: readFileSync(join(certs, `${name}.pem`), "utf8"), key: readFileSync(join(certs, `${name}.key`), "utf8"), ca: readFileSync(join(certs, `${ca}.pem`), "utf8") };
        let settled = false;
        const done = (what: string) => {
          if (!settled) resolve(what);
          settled = true;
        };
        void Bun.connect({
          hostname: "127.0.0.1",
          port: node.raftPort,
          tls,
          socket: {
            handshake: (socket, success) => {
              // The server's verdict on our certificate comes as a close right after the handshake.
              if (!success) done("handshake failed");
              setTimeout(() => {
                done("still open");
                socket.end();
              }, 1_000);
            },
            close: () => done("closed"),
            error: () => done("closed"),
            connectError: () => done("closed"),
            data: () => {},
          },
        }).catch(() => done("closed"));
      });
    expect(await handshake("rogue", "ca")).not.toBe("still open");
    expect(await handshake("t2", "ca")).toBe("still open");
    const put = await cluster.fetch(`${node.url}/v1/kv/secure/after`, { method: "PUT", body: "fine" });
    expect(put.status).toBe(200);
  }, 30_000);

  it("stops at start-up with the YAML path of an unreadable certificate", async () => {
    await cluster.define("bad");
    const file = join(cluster.root, "bad.yaml");
    writeFileSync(file, `tls:\n  cert: ${join(certs, "missing.pem")}\n  key: ${join(certs, "t1.key")}\n`);
    await expect(cluster.start("bad", {}, ["--config", file])).rejects.toThrow(/tls\.cert: cannot read .*missing\.pem/);
  }, 30_000);
});
