// The PEM files tls: names, read once at start-up. A missing or unreadable
// file, or one that holds no PEM block, stops the node with the YAML path
// that named it, rather than failing at the first handshake.

import { readFileSync } from "node:fs";
import { ConfigError } from "./errors.ts";
import type { PontoonConfig } from "./schema.ts";

/** What TLS needs, as PEM text. */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** The CA that signs the cluster's nodes; absent: the system's CAs. */
  ca?: string;
  /** Raft peers must show a certificate the CA signed. */
  mutual: boolean;
}

const PEM = /-----BEGIN [A-Z0-9 ]+-----/;

export function readTlsFiles(tls: PontoonConfig["tls"]): TlsMaterial | undefined {
  if (tls.cert === undefined || tls.key === undefined) return undefined;
  const read = (setting: string, path: string, what: string): string => {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new ConfigError("BAD_SETTING", `${setting}: cannot read ${path}: ${(error as Error).message}`, setting);
    }
    if (!PEM.test(text)) throw new ConfigError("BAD_SETTING", `${setting}: ${path} holds no PEM block; expected ${what}`, setting);
    return text;
  };
  return {
    cert: read("tls.cert", tls.cert, "a certificate (-----BEGIN CERTIFICATE-----)"),
    key: read("tls.key", tls.key, "a private key (-----BEGIN PRIVATE KEY-----)"),
    ...(tls.ca === undefined ? {} : { ca: read("tls.ca", tls.ca, "CA certificates (-----BEGIN CERTIFICATE-----)") }),
    mutual: tls.mutual,
  };
}
