// Throw-away self-signed certificates made by Debian's openssl: for our servers' TLS tests and benches, and the
// C host's (test/runtimes/wamr/tls.test.ts).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const LOOPBACK = ["127.0.0.1", "localhost"];

/**
 * Write a P-256 key and a one-day certificate for `host` (CN, and IP and DNS subjectAltNames) as PEM files;
 * for a loopback host (the default) both 127.0.0.1 and localhost are named.
 */
export function writeCertificate(keyFile: string, certFile: string, host = "127.0.0.1"): void {
  const hosts = LOOPBACK.includes(host) ? LOOPBACK : [host];
  const names = `subjectAltName=${hosts
    .map((name) => (/^[\d.]+$/.test(name) ? `IP:${name},DNS:${name}` : `DNS:${name}`))
    .join(",")}`;
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
    ].concat(["-subj", `/CN=${host}`, "-addext", names, "-keyout", keyFile, "-out", certFile]),
    { stdio: ["ignore", "ignore", "pipe"] },
  );
}

/** A fresh key and certificate for `host` (default 127.0.0.1), as PEM text. */
export function throwawayCert(host = "127.0.0.1"): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "wasmsocket-cert-"));
  try {
    const [keyFile, certFile] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    writeCertificate(keyFile, certFile, host);
    return { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
