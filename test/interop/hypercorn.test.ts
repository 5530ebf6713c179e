// Our client against a foreign RFC 8441 server: Debian's hypercorn (python3-hypercorn) serving a small ASGI
// echo app over TLS (test/interop/hypercorn_peer.py), with WebSockets over HTTP/2 and over HTTP/1.1.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Http2Agent, WebSocket } from "../../runtimes/node/index.js";
import { nextData, pattern } from "../support/h2-foreign-server.js";
import { throwawayCert } from "../support/tls-cert.js";
import { openedOrError } from "../support/client-events.js";
import { within } from "../runtimes/node/peers.js";
import { PYTHON, pythonModuleMissing } from "../support/missing.js";

const PEER = fileURLToPath(new URL("./hypercorn_peer.py", import.meta.url));

const missing = pythonModuleMissing("hypercorn", "python3-hypercorn");
if (missing) console.warn(`skipping hypercorn interop: ${missing}`);

describe.skipIf(missing)("hypercorn (HTTP/2 and HTTP/1.1) ↔ our client", () => {
  const tls = throwawayCert();
  let child: ChildProcess;
  let dir: string;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "wasmsocket-hypercorn-"));
    writeFileSync(join(dir, "cert.pem"), tls.cert);
    writeFileSync(join(dir, "key.pem"), tls.key);
    child = spawn(PYTHON, [PEER, join(dir, "cert.pem"), join(dir, "key.pem")], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const [line] = (await within(once(child.stdout!, "data"), 10_000, "hypercorn port")) as [Buffer];
    base = `wss://localhost:${Number(String(line).trim())}`;
  });
  afterAll(async () => {
    const exited = once(child, "exit");
    child.stdin!.end();
    await within(exited, 5000, "hypercorn exits").catch(() => child.kill());
    rmSync(dir, { recursive: true, force: true });
  });

  function open(
    path: string,
    options: ConstructorParameters<typeof WebSocket>[2] = {},
    protocols: string[] = [],
  ) {
    const ws = new WebSocket(`${base}${path}`, protocols, { ca: tls.cert, ...options });
    return openedOrError(ws, 10_000, `open ${path}`);
  }

  /** The server closes (hypercorn then ends the stream: END_STREAM both ways). */
  async function serverCloses(ws: WebSocket): Promise<void> {
    const closed = new Promise<CloseEvent>((resolve) =>
      ws.addEventListener("close", resolve, { once: true }),
    );
    ws.send("close!");
    const event = await within(closed, 10_000, "close");
    expect([event.code, event.reason, event.wasClean]).toEqual([1000, "server says bye", true]);
  }

  /** Which HTTP version and client port (so which connection) the server sees. */
  async function who(ws: WebSocket): Promise<string> {
    ws.send("who?");
    return String(await nextData(ws));
  }

  // hypercorn 0.13.2 closes its whole HTTP/2 connection once a WebSocket it closed has ended (and resets
  // nothing): each test has its own agent, so its own connection.
  it("opens over HTTP/2 and echoes text and binary byte-exact, then the server closes", async () => {
    const own = new Http2Agent({ idleTimeout: 0 });
    try {
      const ws = await open("/echo", { http2: own });
      expect(await who(ws)).toMatch(/^2 \d+$/);
      for (const size of [0, 125, 126, 65535, 65536, 1 << 20]) {
        ws.send(pattern(size));
        expect((await nextData(ws)).equals(pattern(size)), `${size} bytes`).toBe(true);
        const text = "héllo wörld ".repeat(size >> 4);
        ws.send(text);
        expect(String(await nextData(ws))).toBe(text);
      }
      await serverCloses(ws);
    } finally {
      own.close(true);
    }
  });

  it("carries two WebSockets on one HTTP/2 connection, with a subprotocol and permessage-deflate", async () => {
    const own = new Http2Agent({ idleTimeout: 0 });
    try {
      const [a, b] = await Promise.all([open("/a", { http2: own }, ["chat"]), open("/b", { http2: own })]);
      expect([a.protocol, b.protocol]).toEqual(["chat", ""]);
      expect(a.extensions).toMatch(/^permessage-deflate/);
      // The same client port: one TCP connection, one HTTP/2 session.
      const [whoA, whoB] = await Promise.all([who(a), who(b)]);
      expect(whoA).toMatch(/^2 \d+$/);
      expect(whoB).toBe(whoA);
      const text = "squeeze ".repeat(5000);
      a.send(text);
      b.send(pattern(100_000));
      expect(String(await nextData(a))).toBe(text);
      expect((await nextData(b)).equals(pattern(100_000))).toBe(true);
      await serverCloses(a);
    } finally {
      own.close(true);
    }
  });

  it("closes cleanly when the client closes, though hypercorn never ends the stream (reset after closeTimeout)", async () => {
    const own = new Http2Agent({ idleTimeout: 0 });
    try {
      const ws = await open("/client-closes", { http2: own, closeTimeout: 300 });
      const closed = new Promise<CloseEvent>((resolve) =>
        ws.addEventListener("close", resolve, { once: true }),
      );
      ws.close(1000, "bye");
      const event = await within(closed, 10_000, "close");
      expect([event.code, event.reason, event.wasClean]).toEqual([1000, "bye", true]);
    } finally {
      own.close(true);
    }
  });

  it("still opens over HTTP/1.1 without the http2 option", async () => {
    const ws = await open("/h1");
    expect(await who(ws)).toMatch(/^1\.1 \d+$/);
    await serverCloses(ws);
  });
});
