// Our client through Debian's nghttpx (nghttp2-proxy, 1.52): its TLS frontend takes WebSockets over HTTP/2
// (RFC 8441) and relays each to an HTTP/1.1 backend by a plain Upgrade, here ws's server. So the extended
// CONNECT meets an HTTP/2 implementation (nghttp2's) other than Node's, and the frames a WebSocket peer that
// is not ours.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import * as http2 from "node:http2";
import { createServer, type AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer as WSServer } from "ws";
import { WebSocket, type Http2Response } from "../../runtimes/node/index.js";
import { nextData, pattern } from "../support/h2-foreign-server.js";
import { throwawayCert } from "../support/tls-cert.js";
import { within } from "../runtimes/node/peers.js";
import { toolMissing } from "../support/missing.js";

const missing = toolMissing("nghttpx", ["--version"], "no nghttpx on PATH (apt install nghttp2-proxy)");
if (missing) console.warn(`skipping nghttpx interop: ${missing}`);

/** A port free right now on 127.0.0.1 (nghttpx cannot listen on port 0 and tell which it got). */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe.skipIf(missing)("nghttpx (HTTP/2 frontend, HTTP/1.1 backend: ws) ↔ our client", () => {
  const tls = throwawayCert();
  let dir: string;
  let proxy: ChildProcess;
  let backend: WSServer;
  const backendSaw: string[] = [];
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "wasmsocket-nghttpx-"));
    writeFileSync(join(dir, "cert.pem"), tls.cert);
    writeFileSync(join(dir, "key.pem"), tls.key);
    backend = new WSServer({ host: "127.0.0.1", port: 0, perMessageDeflate: true });
    await once(backend, "listening");
    backend.on("connection", (ws, request) => {
      backendSaw.push(`HTTP/${request.httpVersion} ${request.url}`);
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    const port = await freePort();
    proxy = spawn(
      "nghttpx",
      [
        "--conf=/dev/null",
        "--single-process",
        "--no-ocsp",
        `--frontend=127.0.0.1,${port}`,
        `--backend=127.0.0.1,${(backend.address() as AddressInfo).port}`,
        join(dir, "key.pem"),
        join(dir, "cert.pem"),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    await within(
      new Promise<void>((resolve, reject) => {
        proxy.stderr!.on("data", (chunk: Buffer) => {
          log += String(chunk);
          if (log.includes("Listening on")) resolve();
        });
        proxy.once("exit", () => reject(new Error(`nghttpx exited: ${log}`)));
      }),
      10_000,
      "nghttpx listening",
    );
    base = `wss://localhost:${port}`;
  });
  afterAll(async () => {
    const exited = once(proxy, "exit");
    proxy.kill();
    await within(exited, 5000, "nghttpx exits").catch(() => proxy.kill("SIGKILL"));
    backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("opens over HTTP/2 (200 from nghttp2), relayed to the backend by an HTTP/1.1 upgrade, and echoes byte-exact", async () => {
    const session = http2.connect(base.replace("wss:", "https:"), { ca: tls.cert });
    try {
      const clients = [1, 2].map(
        (n) => new WebSocket(`${base}/echo?n=${n}`, { http2: session, ca: tls.cert }),
      );
      const upgrades = clients.map(
        (ws) =>
          new Promise<Http2Response>((resolve) =>
            ws.once("upgrade", (r) => resolve(r as unknown as Http2Response)),
          ),
      );
      await within(Promise.all(clients.map((ws) => once(ws, "open"))), 10_000, "both open");
      for (const upgrade of upgrades)
        expect(await upgrade).toMatchObject({ statusCode: 200, httpVersion: "2.0" });
      expect(backendSaw.slice(-2).sort()).toEqual(["HTTP/1.1 /echo?n=1", "HTTP/1.1 /echo?n=2"]);
      // permessage-deflate negotiated end to end, through the proxy.
      for (const ws of clients) expect(ws.extensions).toMatch(/^permessage-deflate/);
      for (const [i, ws] of clients.entries())
        for (const size of [0, 126, 65536, 1 << 20]) {
          ws.send(pattern(size + i));
          expect((await nextData(ws)).equals(pattern(size + i)), `${size + i} bytes`).toBe(true);
          const text = "ünïcödé ".repeat(size >> 4);
          ws.send(text);
          expect(String(await nextData(ws))).toBe(text);
        }
      for (const ws of clients) {
        const closed = new Promise<CloseEvent>((resolve) =>
          ws.addEventListener("close", resolve, { once: true }),
        );
        ws.close(1000, "bye");
        const event = await within(closed, 10_000, "close");
        expect([event.code, event.reason, event.wasClean]).toEqual([1000, "bye", true]);
      }
      // Both WebSockets ran on the application's session, which stays open.
      expect(session.closed).toBe(false);
    } finally {
      session.close();
    }
  });
});
