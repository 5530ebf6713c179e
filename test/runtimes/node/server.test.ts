// WebSocketServer options and events, against real sockets: every refusal is the engine's answer.
import { spawn } from "node:child_process";
import { once } from "node:events";
import * as http from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import WS from "ws";
import { WebSocket, WebSocketServer, type ServerConnection } from "../../../runtimes/node/index.js";
import { frame, statusOf, upgradeRequest, within } from "../../support/raw-client.js";
import { throwawayCert } from "../../support/tls-cert.js";
import { echo, echoServer, listen, nextEvent, nextMessage, openClient, RawClient } from "./peers.js";

describe("WebSocketServer handshake", () => {
  it("answers 400 to another path (as ws) and accepts the configured one", async () => {
    const { wss, port, url } = await echoServer({ path: "/chat" });
    expect(await statusOf(port, upgradeRequest(port, "/other"))).toBe(400);
    const ws = await openClient(`${url}/chat?room=1`);
    ws.send("hi");
    expect(await nextMessage(ws)).toBe("hi");
    ws.close();
    await wss.close();
  });

  it("answers 431 past a configured maxHeaderSize", async () => {
    const { wss, port } = await listen({ maxHeaderSize: 2048 });
    expect(await statusOf(port, upgradeRequest(port, "/", `X-Big: ${"a".repeat(2100)}\r\n`))).toBe(431);
    await wss.close();
  });

  it("cuts a slowloris that sends half a request at handshakeTimeout", async () => {
    const { wss, port } = await listen({ handshakeTimeout: 300 });
    const raw = await RawClient.connect(port);
    raw.write(upgradeRequest(port).slice(0, 40));
    expect(await raw.closed(5000)).toBe(true);
    await wss.close();
  });

  it("ends a connection whose peer sends half a request and its FIN, without waiting for handshakeTimeout", async () => {
    const { wss, port, url } = await echoServer({ handshakeTimeout: 60_000 });
    const raw = await RawClient.connect(port);
    raw.write(upgradeRequest(port).slice(0, 40));
    raw.socket.end();
    expect(await raw.closed(10_000)).toBe(true);
    // The server goes on (heads are read into one buffer shared by every socket in its handshake).
    const ws = await openClient(url);
    ws.send("after");
    expect(await nextMessage(ws)).toBe("after");
    ws.close();
    await nextEvent(ws, "close");
    await wss.close();
  });

  it("cuts each slow handshake at its own deadline (one timer for all), not one that completed", async () => {
    const { wss, port, url } = await echoServer({ handshakeTimeout: 800 });
    const first = await RawClient.connect(port);
    first.write(upgradeRequest(port).slice(0, 40));
    await new Promise((r) => setTimeout(r, 500));
    const second = await RawClient.connect(port);
    second.write(upgradeRequest(port).slice(0, 40));
    const open = await openClient(url);
    expect(await first.closed(5000)).toBe(true);
    // Its deadline is 500 ms after the first's: still in its handshake when the first is cut.
    expect(second.ended).toBe(false);
    expect(await second.closed(5000)).toBe(true);
    open.send("still here");
    expect(await nextMessage(open)).toBe("still here");
    open.close();
    await nextEvent(open, "close");
    await wss.close();
  });

  it("cuts a slow handshake at a lowered handshakeTimeout ahead of one waiting for the longer one", async () => {
    const { wss, port } = await listen({ handshakeTimeout: 4000 });
    const long = await RawClient.connect(port);
    long.write(upgradeRequest(port).slice(0, 40));
    await new Promise((r) => setTimeout(r, 50));
    wss.options.handshakeTimeout = 200;
    const short = await RawClient.connect(port);
    short.write(upgradeRequest(port).slice(0, 40));
    expect(await short.closed(3000)).toBe(true);
    expect(long.ended).toBe(false);
    expect(await long.closed(6000)).toBe(true);
    await wss.close();
  });

  it("refuses past maxClients with 503 while the others keep working", async () => {
    const { wss, port, url } = await echoServer({ maxClients: 2 });
    const a = await openClient(url);
    const b = await openClient(url);
    expect(await statusOf(port, upgradeRequest(port))).toBe(503);
    const refused = new WebSocket(url);
    const event = await nextEvent<CloseEvent>(refused, "close");
    expect(event.code).toBe(1006);
    for (const ws of [a, b]) {
      ws.send("still here");
      expect(await nextMessage(ws)).toBe("still here");
    }
    a.close();
    await nextEvent(a, "close");
    // A slot freed: the next one gets in.
    const c = await openClient(url);
    c.close();
    b.close();
    await Promise.all([nextEvent(b, "close"), nextEvent(c, "close")]);
    await wss.close();
  });

  it("verifyClient (sync) refuses with its status", async () => {
    const { wss, port } = await listen({
      verifyClient: ({ req }) => (req.url === "/ok" ? true : { status: 403, reason: "no" }),
    });
    expect(await statusOf(port, upgradeRequest(port, "/nope"))).toBe(403);
    expect(await statusOf(port, upgradeRequest(port, "/ok"))).toBe(101);
    await wss.close();
  });

  it("verifyClient (callback and Promise) refuses asynchronously with its status", async () => {
    const cb = await listen({
      verifyClient: (info, done) => void setTimeout(() => done(info.req.url === "/ok", 401), 10),
    });
    expect(await statusOf(cb.port, upgradeRequest(cb.port, "/x"))).toBe(401);
    expect(await statusOf(cb.port, upgradeRequest(cb.port, "/ok"))).toBe(101);
    await cb.wss.close();
    const promised = await listen({
      verifyClient: async ({ req }) => (req.headers.authorization === "Bearer t" ? true : { status: 418 }),
    });
    expect(await statusOf(promised.port, upgradeRequest(promised.port))).toBe(418);
    expect(
      await statusOf(promised.port, upgradeRequest(promised.port, "/", "Authorization: Bearer t\r\n")),
    ).toBe(101);
    await promised.wss.close();
  });

  it("checks Origin against allowedOrigins (403 otherwise)", async () => {
    const { wss, port, url } = await listen({ allowedOrigins: ["https://good.example"] });
    expect(await statusOf(port, upgradeRequest(port, "/", "Origin: https://evil.example\r\n"))).toBe(403);
    const ws = await openClient(url, undefined, { origin: "https://good.example" });
    ws.close();
    await nextEvent(ws, "close");
    await wss.close();
  });

  it("chooses the client's first protocol that the server supports", async () => {
    const { wss, url } = await listen({ protocols: ["v2", "v1"] });
    const ws = await openClient(url, ["v1", "v2"]);
    expect(ws.protocol).toBe("v1");
    ws.close();
    await nextEvent(ws, "close");
    const none = new WebSocket(url, ["v3"]);
    const event = await nextEvent<CloseEvent>(none, "close");
    expect(event.code).toBe(1006); // the client fails a 101 naming no protocol (ProtocolMissing)
    await wss.close();
  });

  it("handleProtocols decides, and the 'headers' event adds response headers", async () => {
    const { wss, port } = await listen({ handleProtocols: (offered) => (offered.has("b") ? "b" : false) });
    wss.on("headers", (lines) => lines.push("X-Served-By: wasmsocket"));
    const raw = await RawClient.connect(port);
    raw.write(upgradeRequest(port, "/", "Sec-WebSocket-Protocol: a, b\r\n"));
    const head = await raw.readHead();
    expect(head).toContain("Sec-WebSocket-Protocol: b\r\n");
    expect(head).toContain("X-Served-By: wasmsocket\r\n");
    raw.destroy();
    await wss.close();
  });

  it("on its own port hands out a real IncomingMessage read by the engine (no node:http parse)", async () => {
    const { wss, port } = await listen();
    const seen = new Promise<http.IncomingMessage>((resolve) =>
      wss.on("connection", (_, req) => resolve(req)),
    );
    const raw = await RawClient.connect(port);
    raw.write(
      upgradeRequest(port, "/room?id=7", "X-Trace: a\r\nx-trace: b\r\nCookie: c=1\r\nCookie: d=2\r\n"),
    );
    expect(await raw.readHead()).toMatch(/^HTTP\/1\.1 101 /);
    const req = await seen;
    expect(req).toBeInstanceOf(http.IncomingMessage);
    expect([req.method, req.url, req.httpVersion]).toEqual(["GET", "/room?id=7", "1.1"]);
    // node:http's rules for repeated fields: most joined with ", ", Cookie with "; ".
    expect(req.headers["x-trace"]).toBe("a, b");
    expect(req.headers.cookie).toBe("c=1; d=2");
    expect(req.headers.upgrade).toBe("websocket");
    expect(req.rawHeaders).toContain("X-Trace");
    expect(req.rawHeaders.filter((_, i) => i % 2 === 0)).toContain("Sec-WebSocket-Key");
    expect(req.socket.remoteAddress).toBe("127.0.0.1");
    raw.destroy();
    await wss.close();
  });

  it("hands req to every listener that can read it, however the listeners before it are declared", async () => {
    // The IncomingMessage is built only when a listener may read it: one declaring `(ws)` alone cannot.
    const { wss, port } = await listen();
    const seen: Array<http.IncomingMessage | undefined> = [];
    const onlyWs: unknown[] = [];
    const headersReq = new Promise<http.IncomingMessage>((resolve) =>
      wss.on("headers", (_, req) => resolve(req)),
    );
    wss.on("connection", (ws) => onlyWs.push(ws));
    wss.on("connection", (_, req) => seen.push(req));
    wss.once("connection", function (this: unknown, ...args: unknown[]) {
      seen.push(args[1] as http.IncomingMessage);
    });
    const done = new Promise<void>((resolve) => wss.on("connection", () => resolve()));
    const raw = await RawClient.connect(port);
    raw.write(upgradeRequest(port, "/lazy?x=1", "X-Trace: t\r\n"));
    expect(await raw.readHead()).toMatch(/^HTTP\/1\.1 101 /);
    await done;
    expect(onlyWs).toHaveLength(1);
    expect(seen).toHaveLength(2);
    // One request object, built once, for every listener and for 'headers'.
    expect(seen[0]).toBe(seen[1]);
    expect(await headersReq).toBe(seen[0]);
    const req = seen[0]!;
    expect(req).toBeInstanceOf(http.IncomingMessage);
    expect(req.url).toBe("/lazy?x=1");
    expect(req.headers["x-trace"]).toBe("t");
    expect(req.socket.remoteAddress).toBe("127.0.0.1");
    raw.destroy();
    await wss.close();
  });

  it("builds req for verifyClient and handleProtocols when only they read it", async () => {
    const urls: string[] = [];
    const { wss, port } = await listen({
      verifyClient: ({ req }) => (urls.push(`verify ${req.url}`), true),
      handleProtocols: (protocols, req) => (
        urls.push(`protocols ${req.headers["x-trace"]}`),
        [...protocols][0]
      ),
    });
    const opened = new Promise<void>((resolve) => wss.on("connection", (ws) => resolve(void ws)));
    const raw = await RawClient.connect(port);
    raw.write(upgradeRequest(port, "/v", "Sec-WebSocket-Protocol: p\r\nX-Trace: h\r\n"));
    expect(await raw.readHead()).toContain("Sec-WebSocket-Protocol: p\r\n");
    await opened;
    expect(urls).toEqual(["verify /v", "protocols h"]);
    raw.destroy();
    await wss.close();
  });

  it("feeds the frames behind a head that came in one read or two, then later ones, behind an async verifyClient", async () => {
    // The frame in the head's last read is kept apart from the head (wherever the head began); the next
    // one, written while verifyClient decides, is read once it has answered.
    for (const split of [0, 20]) {
      const { wss, port } = await echoServer({
        verifyClient: () => new Promise<boolean>((r) => setTimeout(() => r(true), 100)),
      });
      const raw = await RawClient.connect(port);
      const head = Buffer.from(upgradeRequest(port));
      if (split) {
        raw.write(head.subarray(0, split));
        await new Promise((r) => setTimeout(r, 20));
      }
      raw.write(Buffer.concat([head.subarray(split), frame(1, "first")]));
      await new Promise((r) => setTimeout(r, 20));
      raw.write(frame(1, "second"));
      expect(await raw.readHead()).toMatch(/^HTTP\/1\.1 101 /);
      expect((await raw.readFrame()).payload.toString()).toBe("first");
      expect((await raw.readFrame()).payload.toString()).toBe("second");
      raw.destroy();
      await wss.close();
    }
  });

  it("feeds frames sent in the same write as the request, also behind an async verifyClient", async () => {
    for (const verifyClient of [
      undefined,
      () => new Promise<boolean>((r) => setTimeout(() => r(true), 50)),
    ]) {
      const { wss, port } = await echoServer({ verifyClient });
      const raw = await RawClient.connect(port);
      raw.write(Buffer.concat([Buffer.from(upgradeRequest(port)), frame(1, "first"), frame(2, "second")]));
      expect(await raw.readHead()).toMatch(/^HTTP\/1\.1 101 /);
      expect((await raw.readFrame()).payload.toString()).toBe("first");
      expect((await raw.readFrame()).payload.toString()).toBe("second");
      raw.destroy();
      await wss.close();
    }
  });

  it("answers a plain HTTP request without crashing", async () => {
    const { wss, port } = await listen();
    const response = await fetch(`http://127.0.0.1:${port}/`);
    expect(response.status).toBeGreaterThanOrEqual(400);
    await response.text();
    await wss.close();
  });
});

describe("WebSocketServer modes", () => {
  it("shares one http server between servers by path; other paths get 400 (as ws)", async () => {
    const server = http.createServer((_, res) => res.end("plain"));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const a = new WebSocketServer({ server, path: "/a" });
    const b = new WebSocketServer({ server, path: "/b" });
    a.on("connection", (ws) => ws.send("from a"));
    b.on("connection", (ws) => ws.send("from b"));
    const ca = new WebSocket(`ws://127.0.0.1:${port}/a`);
    const cb = new WebSocket(`ws://127.0.0.1:${port}/b`);
    expect(await nextMessage(ca)).toBe("from a");
    expect(await nextMessage(cb)).toBe("from b");
    expect(await statusOf(port, upgradeRequest(port, "/c"))).toBe(400);
    await Promise.all([a.close(), b.close()]);
    expect(ca.readyState).toBe(WebSocket.CLOSED);
    await new Promise((resolve) => server.close(resolve));
  });

  it("noServer + handleUpgrade works from a plain http 'upgrade' listener", async () => {
    const wss = new WebSocketServer({ noServer: true });
    const server = http.createServer();
    server.on("upgrade", (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        echo(ws);
        wss.emit("connection", ws, req);
      }),
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const ws = await openClient(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    ws.send("via handleUpgrade");
    expect(await nextMessage(ws)).toBe("via handleUpgrade");
    await wss.close();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe("WebSocketServer clients", () => {
  it("tracks clients, broadcasts with except/filter, disconnects by id, and close() sends 1001", async () => {
    const { wss, url } = await listen();
    const joined: ServerConnection[] = [];
    wss.on("connection", (ws) => joined.push(ws));
    const clients = [await openClient(url), await openClient(url), await openClient(url)];
    expect(wss.clients.size).toBe(3);
    const got = clients.map((ws) => nextMessage(ws));
    wss.broadcast("all");
    expect(await Promise.all(got)).toEqual(["all", "all", "all"]);
    const some = clients.slice(1).map((ws) => nextMessage(ws));
    wss.broadcast(Buffer.from([1, 2]), { except: joined[0], filter: (ws) => ws.readyState === ws.OPEN });
    expect((await Promise.all(some)).map((b) => [...(b as Buffer)])).toEqual([
      [1, 2],
      [1, 2],
    ]);
    const first = nextEvent<CloseEvent>(clients[0], "close");
    expect(wss.disconnect(joined[0].id, 4100, "kicked")).toBe(true);
    expect([(await first).code, (await first).reason]).toEqual([4100, "kicked"]);
    const rest = clients.slice(1).map((ws) => nextEvent<CloseEvent>(ws, "close"));
    await wss.close();
    expect((await Promise.all(rest)).map((e) => e.code)).toEqual([1001, 1001]);
    expect(wss.clients.size).toBe(0);
  });

  it("exposes id, remoteAddress, protocol and readyState per connection", async () => {
    const { wss, url } = await listen({ protocols: ["chat"] });
    const connected = once(wss, "connection");
    const ws = await openClient(url, "chat");
    const [peer] = (await connected) as [ServerConnection];
    expect(peer.id).toBeGreaterThan(0);
    expect(peer.remoteAddress).toBe("127.0.0.1");
    expect(peer.protocol).toBe("chat");
    expect(peer.readyState).toBe(peer.OPEN);
    ws.close();
    await nextEvent(ws, "close");
    await wss.close();
  });

  it("ws clients see the same server (ws-shaped API works with ws)", async () => {
    const { wss, url } = await echoServer();
    const ws = new WS(url);
    await once(ws, "open");
    ws.send("x");
    const [data] = await once(ws, "message");
    expect(String(data)).toBe("x");
    await wss.close();
  });
});

describe("refusals", () => {
  it("a peer still sending a 16 MiB request head reads its 431: the server drains before closing", async () => {
    // The server in a process of its own, as in production: in-process, the client's reads win the race.
    const script = `
      const { WebSocketServer } = await import(${JSON.stringify(new URL("../../../dist/runtimes/node/index.js", import.meta.url).href)});
      const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 }, () => console.log(wss.address().port));
      process.stdin.on("end", () => process.exit(0)).resume();`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    try {
      const [line] = (await once(child.stdout!, "data")) as [Buffer];
      const port = Number(line.toString().trim());
      const head = Buffer.from(upgradeRequest(port, "/", `X-Big: ${"a".repeat(16 << 20)}\r\n`));
      const send = async (): Promise<string> => {
        const socket = net.connect(port, "127.0.0.1");
        let received = "";
        socket.on("data", (chunk) => (received += chunk.toString("latin1")));
        socket.on("error", () => {});
        const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
        await new Promise((resolve) => socket.once("connect", resolve));
        for (let at = 0; at < head.length && !socket.destroyed; at += 64 * 1024) {
          if (socket.write(head.subarray(at, at + 64 * 1024))) continue;
          await Promise.race([new Promise((resolve) => socket.once("drain", resolve)), closed]);
        }
        await closed;
        return received.split("\r\n")[0];
      };
      for (let round = 0; round < 3; round++)
        expect(await Promise.all([send(), send()])).toEqual([
          "HTTP/1.1 431 Request Header Fields Too Large",
          "HTTP/1.1 431 Request Header Fields Too Large",
        ]);
    } finally {
      child.stdin!.end();
      await once(child, "exit");
    }
  }, 60_000);
});
