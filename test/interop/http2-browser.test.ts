// Chromium opens WebSockets over the HTTP/2 connection it already holds to our server (RFC 8441): the page
// and its WebSockets are served by one node:http2 TLS server with two of our WebSocketServers attached
// (plain, and permessage-deflate). The server checks each WebSocket arrived as a stream of the page's own
// session, never as an HTTP/1.1 upgrade; then text, binary, a 16 MiB message, fragments, pings answered,
// deflate, and close handshakes with codes and reasons both ways. Last, the same server run by Bun (our Node
// host on Bun's node:http2, h2-bun-server.ts).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer, type ServerConnection } from "../../runtimes/node/index.js";
import { launchChromium, type Browser } from "../runtimes/browser/chromium.js";
import { within } from "../support/raw-client.js";
import { throwawayCert } from "../support/tls-cert.js";

const PAGE = "<!doctype html><meta charset=utf-8><title>wasmsocket over HTTP/2</title>";
const BIG = 16 * 1024 * 1024;

/** What the page's script gets: helpers to open a WebSocket and wait for its events. */
const pageHelpers = `
  window.openSocket = (url) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.inbox = [];
    ws.waiting = [];
    ws.onmessage = (e) => (ws.waiting.length ? ws.waiting.shift()(e.data) : ws.inbox.push(e.data));
    ws.closed = new Promise((done) => (ws.onclose = (e) => done({ code: e.code, reason: e.reason, wasClean: e.wasClean })));
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("WebSocket error"));
  });
  window.nextMessage = (ws) => ws.inbox.length ? Promise.resolve(ws.inbox.shift()) : new Promise((r) => ws.waiting.push(r));
`;

const { key, cert } = throwawayCert();
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium({ ignoreHTTPSErrors: true });
});

afterAll(async () => {
  await browser?.close();
});

describe("Chromium's WebSockets over HTTP/2 to our server (RFC 8441)", () => {
  let server: http2.Http2SecureServer;
  let wss: WebSocketServer;
  let deflateWss: WebSocketServer;
  let origin: string;
  /** Sessions the page was served on, HTTP/1.1 upgrades seen, and each WebSocket's view of its request. */
  const pageSessions = new Set<http2.Http2Session>();
  /**
   * Every session the server opened: Chromium may open a second TLS connection it never sends a request on
   * (4 of 22 runs here), which node:http2's `server.close()` waits for like any other.
   */
  const sessions = new Set<http2.ServerHttp2Session>();
  let upgrades = 0;
  const opened: { path: string; httpVersion: string; pageSession: boolean }[] = [];
  const serverSide: { ws: ServerConnection; pongs: number; closes: [number, string][] }[] = [];

  function track(ws: ServerConnection, path: string, httpVersion: string): void {
    const session = (ws.socket as unknown as http2.ServerHttp2Stream).session;
    opened.push({ path, httpVersion, pageSession: !!session && pageSessions.has(session) });
    const entry = { ws, pongs: 0, closes: [] as [number, string][] };
    serverSide.push(entry);
    ws.on("pong", () => entry.pongs++);
    ws.on("close", (code, reason) => entry.closes.push([code, reason.toString()]));
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString();
      if (text === "close me") return ws.close(4001, "server says bye");
      if (text === "fragments please") return ws.send("x".repeat(10_000), { fragmentSize: 1000 });
      ws.send(data, { binary: isBinary });
    });
  }

  beforeAll(async () => {
    server = http2.createSecureServer({ key, cert, allowHTTP1: true }, (req, res) => {
      if (req.stream) pageSessions.add(req.stream.session!);
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.end(PAGE);
    });
    server.on("upgrade", () => upgrades++);
    server.on("session", (session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
    wss = new WebSocketServer({
      server,
      path: "/ws",
      maxPayload: 2 * BIG,
      heartbeat: { interval: 150, timeout: 5000 },
    });
    deflateWss = new WebSocketServer({ server, path: "/deflate", perMessageDeflate: true });
    for (const each of [wss, deflateWss])
      each.on("connection", (ws, req) => track(ws, req.url!, req.httpVersion));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await browser.page.goto(`${origin}/`);
    await browser.page.addScriptTag({ content: pageHelpers });
  });

  afterAll(async () => {
    await wss?.close();
    await deflateWss?.close();
    // The browser stays open for the next suite: end its sessions here so that the server can close (on
    // Node 20 `server.close()` closes no session itself and waits for all, the idle one included).
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it("loads the page over HTTP/2 and opens its WebSocket as a stream of that same session", async () => {
    const protocol = await browser.page.evaluate(
      async (url) => {
        const ws = await (window as any).openSocket(url);
        ws.send("hello over h2 ✓");
        const echoed = await (window as any).nextMessage(ws);
        (window as any).main = ws;
        return { echoed, protocol: ws.protocol, extensions: ws.extensions };
      },
      `wss://127.0.0.1:${new URL(origin).port}/ws`,
    );
    expect(protocol).toEqual({ echoed: "hello over h2 ✓", protocol: "", extensions: "" });
    expect(pageSessions.size).toBe(1);
    expect(opened).toEqual([{ path: "/ws", httpVersion: "2.0", pageSession: true }]);
    expect(upgrades).toBe(0);
  });

  it("echoes binary, a 16 MiB message byte for byte, and a message the server sends in fragments", async () => {
    const result = await browser.page.evaluate(async (size) => {
      const ws = (window as any).main;
      const next = (window as any).nextMessage;
      ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]));
      const binary = Array.from(new Uint8Array(await next(ws)));
      const big = new Uint8Array(size);
      for (let i = 0; i < size; i++) big[i] = (i * 31 + (i >>> 16)) & 255;
      ws.send(big);
      const back = new Uint8Array(await next(ws));
      let mismatches = 0;
      for (let i = 0; i < size; i++) if (back[i] !== big[i]) mismatches++;
      ws.send("fragments please");
      const fragmented = await next(ws);
      return { binary, bigLength: back.length, mismatches, fragmented: fragmented.length };
    }, BIG);
    expect(result).toEqual({
      binary: [0, 1, 2, 253, 254, 255],
      bigLength: BIG,
      mismatches: 0,
      fragmented: 10_000,
    });
  });

  it("answers the server's heartbeat pings with pongs on the stream", async () => {
    const entry = serverSide[0];
    for (let i = 0; i < 100 && entry.pongs === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(entry.pongs).toBeGreaterThan(0);
    expect(entry.ws.readyState).toBe(1);
  });

  it("negotiates permessage-deflate on a second server's path and echoes compressed messages", async () => {
    const result = await browser.page.evaluate(
      async (url) => {
        const ws = await (window as any).openSocket(url);
        const text = "compressible over HTTP/2 ".repeat(40_000);
        ws.send(text);
        const echoed = await (window as any).nextMessage(ws);
        ws.close(1000, "deflate done");
        return { extensions: ws.extensions, same: echoed === text, closed: await ws.closed };
      },
      `wss://127.0.0.1:${new URL(origin).port}/deflate`,
    );
    expect(result.extensions).toMatch(/^permessage-deflate/);
    expect(result).toMatchObject({
      same: true,
      closed: { code: 1000, reason: "deflate done", wasClean: true },
    });
    expect(opened[1]).toEqual({ path: "/deflate", httpVersion: "2.0", pageSession: true });
  });

  it("closes from the page with 4000 and a reason, and from the server with 4001, both clean", async () => {
    const result = await browser.page.evaluate(
      async (url) => {
        const main = (window as any).main;
        main.close(4000, "page says bye");
        const fromPage = await main.closed;
        const other = await (window as any).openSocket(url);
        other.send("close me");
        return { fromPage, fromServer: await other.closed };
      },
      `wss://127.0.0.1:${new URL(origin).port}/ws`,
    );
    expect(result).toEqual({
      fromPage: { code: 4000, reason: "page says bye", wasClean: true },
      fromServer: { code: 4001, reason: "server says bye", wasClean: true },
    });
    await within(
      (async () => {
        while (serverSide[0].closes.length === 0 || serverSide[2].closes.length === 0)
          await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      3000,
      "server close events",
    );
    expect(serverSide[0].closes).toEqual([[4000, "page says bye"]]);
    expect(serverSide[2].closes).toEqual([[4001, "server says bye"]]);
    expect(opened.every((entry) => entry.pageSession && entry.httpVersion === "2.0")).toBe(true);
    expect(pageSessions.size).toBe(1);
    expect(upgrades).toBe(0);
  });
});

describe("Chromium's WebSockets over HTTP/2 to our Node host running on Bun's node:http2", () => {
  it("loads the page and echoes over a stream of its session, then closes with a code and reason", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wasmsocket-h2-bun-"));
    const [keyFile, certFile] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    writeFileSync(keyFile, key);
    writeFileSync(certFile, cert);
    const bun = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "bun");
    const script = join(import.meta.dirname, "h2-bun-server.ts");
    const child = spawn(bun, [script, keyFile, certFile], { stdio: ["pipe", "pipe", "inherit"] });
    const lines: string[] = [];
    const waiters: Array<() => void> = [];
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      for (const wake of waiters.splice(0)) wake();
    });
    const lineMatching = (pattern: RegExp) =>
      within(
        (async () => {
          for (;;) {
            const found = lines.find((line) => pattern.test(line));
            if (found) return found;
            await new Promise<void>((resolve) => waiters.push(resolve));
          }
        })(),
        10_000,
        `Bun server line ${pattern}`,
      );
    try {
      const port = Number((await lineMatching(/^port /)).slice(5));
      const page = await browser.context.newPage();
      await page.goto(`https://127.0.0.1:${port}/`);
      expect(await page.title()).toBe("page over HTTP/2.0");
      await page.addScriptTag({ content: pageHelpers });
      const result = await page.evaluate(async (url) => {
        const ws = await (window as any).openSocket(url);
        ws.send("hello Bun over h2");
        const text = await (window as any).nextMessage(ws);
        ws.send(new Uint8Array(300_000).fill(7));
        const binary = new Uint8Array(await (window as any).nextMessage(ws));
        ws.close(4002, "bun done");
        return {
          text,
          binaryLength: binary.length,
          binaryOk: binary.every((b) => b === 7),
          closed: await ws.closed,
        };
      }, `wss://127.0.0.1:${port}/ws`);
      await page.close();
      expect(result).toEqual({
        text: "hello Bun over h2",
        binaryLength: 300_000,
        binaryOk: true,
        closed: { code: 4002, reason: "bun done", wasClean: true },
      });
      await lineMatching(/^close 4002 bun done$/);
      expect(lines.filter((line) => !line.startsWith("port "))).toEqual([
        "connection HTTP/2.0",
        "close 4002 bun done",
      ]);
    } finally {
      child.stdin!.end();
      await new Promise((resolve) => child.once("exit", resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
