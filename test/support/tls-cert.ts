// A throw-away self-signed certificate for 127.0.0.1 and localhost, made by Debian's openssl for one test file.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh P-256 key and a one-day certificate for CN=localhost, SAN localhost and 127.0.0.1 (PEM). */
export function throwawayCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "wasmsocket-cert-"));
  try {
    const [keyFile, certFile] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    const subject = ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"];
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
      ].concat(["-keyout", keyFile, "-out", certFile], subject),
      { stdio: "ignore" },
    );
    return { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
