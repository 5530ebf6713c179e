// ws's `_socket` (and the server's `req.socket`) as applications written for ws use it, on Node (a
// net.Socket) and on Bun (runtimes/bun/net-socket.ts, a net.Socket-shaped view of Bun's socket): the peer's
// address, socket options, 'data' listeners seeing each read, pause/isPaused, the idle timeout, raw writes
// behind the frames queued; and a server given no address listening on every IPv6 and IPv4 one, as ws's.
import * as net from "node:net";
import * as os from "node:os";
import { frame, RawClient, upgradeRequest, within } from "../../support/raw-client.js";
import { describe, expect, host, it, listen, nextEvent, runtime, type ServerConnection } from "./harness.js";

/** A server connection and our client connected to it (ws's API). */
async function connected(options: Parameters<typeof listen>[0] = {}) {
  const { wss, url } = await listen(options);
  const accepted = new Promise<[ServerConnection, { socket: unknown }]>((resolve) =>
    wss.once("connection", (ws, req) => resolve([ws, req as unknown as { socket: unknown }])),
  );
  const client = new host.WebSocket(url);
  await nextEvent(client, "open");
  const [ws, req] = await accepted;
  const done = async () => {
    const closed = nextEvent(client, "close");
    client.terminate();
    await closed;
    await wss.close();
  };
  return { wss, client, ws, req, done };
}

describe(`ws's _socket on ${runtime}`, () => {
  it("gives the peer's address and port, takes setNoDelay and setKeepAlive, and is req.socket", async () => {
    const { ws, req, client, done } = await connected();
    const socket = ws._socket;
    expect(req.socket).toBe(socket);
    expect(socket.remoteAddress).toBe("127.0.0.1");
    expect(socket.remotePort).toBe(client._socket!.localPort);
    expect(socket.localPort).toBe(client._socket!.remotePort);
    expect(socket.remoteFamily).toBe("IPv4");
    expect(socket.setNoDelay(true)).toBe(socket);
    expect(socket.setKeepAlive(true, 1000)).toBe(socket);
    await done();
  });

  it("shows each read to 'data' listeners before the message is parsed (the client's masked frame)", async () => {
    const { ws, client, done } = await connected();
    const chunks: Buffer[] = [];
    ws._socket.prependListener("data", (chunk: Buffer) => chunks.push(chunk));
    const message = new Promise<number>((resolve) => ws.once("message", () => resolve(chunks.length)));
    client.send("hello");
    expect(await message).toBeGreaterThan(0);
    const bytes = Buffer.concat(chunks);
    // FIN + text, then the mask bit and the length 5, as the client framed it.
    expect([bytes[0], bytes[1], bytes.length]).toEqual([0x81, 0x85, 2 + 4 + 5]);
    await done();
  });

  it("shows the client's 'data' listeners the frames read with the 101 too", async () => {
    const { wss, url } = await listen();
    // Sent as the connection opens: it comes in the same read as the 101, or right behind it.
    wss.on("connection", (ws) => ws.send("first"));
    const client = new host.WebSocket(url);
    const seen: Buffer[] = [];
    client.on("open", () => client._socket!.on("data", (chunk: Buffer) => seen.push(chunk)));
    await new Promise((resolve) => client.once("message", resolve));
    expect(Buffer.concat(seen)).toEqual(frame(1, "first", { mask: false }));
    const closed = nextEvent(client, "close");
    client.terminate();
    await closed;
    await wss.close();
  });

  it("is paused by ws.pause() and resumed by ws.resume() (isPaused)", async () => {
    const { ws, done } = await connected();
    expect(ws._socket.isPaused()).toBe(false);
    ws.pause();
    expect(ws._socket.isPaused()).toBe(true);
    ws.resume();
    expect(ws._socket.isPaused()).toBe(false);
    await done();
  });

  it("writes raw bytes whole, however many the kernel takes at once (an 8 MiB frame)", async () => {
    const { ws, client, done } = await connected();
    const payload = Buffer.alloc(8 * 1024 * 1024, 0x61);
    const received = new Promise<Buffer>((resolve) =>
      client.once("message", (data) => resolve(data as Buffer)),
    );
    const written = new Promise<Error | null | undefined>((resolve) =>
      ws._socket.write(frame(2, payload, { mask: false }), resolve),
    );
    const data = await within(received, 20_000, "the 8 MiB frame");
    expect(data.length).toBe(payload.length);
    expect(data.equals(payload)).toBe(true);
    expect(await written).toBeFalsy();
    await done();
  });

  it("emits 'timeout' after setTimeout's idle time and stays open", async () => {
    const { ws, client, done } = await connected();
    await within(new Promise<void>((resolve) => ws._socket.setTimeout(50, resolve)), 5000, "'timeout'");
    expect(ws._socket.timeout).toBe(50);
    ws._socket.setTimeout(0);
    const echoed = new Promise((resolve) => client.once("message", resolve));
    ws.send("still open");
    expect(String(await echoed)).toBe("still open");
    await done();
  });
});

describe(`the server's req on ${runtime}`, () => {
  it("is an http.IncomingMessage in verifyClient, handleProtocols, 'headers' and 'connection', on ws._socket", async () => {
    const http = await import("node:http");
    const seen: string[] = [];
    const record = (where: string, req: unknown) => {
      const message = req as import("node:http").IncomingMessage;
      seen.push(`${where} ${message instanceof http.IncomingMessage} ${message.method} ${message.url}`);
      return message;
    };
    const { wss, url } = await listen({
      verifyClient: (info: { req: unknown }) => (record("verifyClient", info.req), true),
      handleProtocols: (protocols: Set<string>, req: unknown) => (
        record("handleProtocols", req),
        [...protocols][0]
      ),
    });
    wss.on("headers", (_lines, req) => record("headers", req));
    const accepted = new Promise<[ServerConnection, import("node:http").IncomingMessage]>((resolve) =>
      wss.once("connection", (ws, req) => resolve([ws, record("connection", req)])),
    );
    const client = new host.WebSocket(`${url}/room?id=7`, ["chat"], { headers: { "X-Twice": "a" } });
    await nextEvent(client, "open");
    const [ws, req] = await accepted;
    expect(seen).toEqual(
      ["verifyClient", "handleProtocols", "headers", "connection"].map(
        (where) => `${where} true GET /room?id=7`,
      ),
    );
    expect([req.httpVersion, req.headers["x-twice"], req.headers.upgrade]).toEqual(["1.1", "a", "websocket"]);
    expect(req.rawHeaders).toContain("X-Twice");
    expect(req.socket).toBe(ws._socket);
    const closed = nextEvent(client, "close");
    client.close();
    await closed;
    await wss.close();
  });
});

describe(`'wsClientError' on ${runtime}`, () => {
  it("is emitted for a request that breaks a rule, with req.socket, and the listener's answer is the one sent", async () => {
    const { wss, port } = await listen();
    const errors: string[] = [];
    wss.on("wsClientError", (error, socket, req) => {
      const message = req as import("node:http").IncomingMessage;
      errors.push(`${error.message} (${message.method}) ${socket === message.socket}`);
      (socket as net.Socket).end("HTTP/1.1 418 I'm a teapot\r\nConnection: close\r\n\r\n");
    });
    const raw = await RawClient.connect(port);
    raw.write(upgradeRequest(port).replace("GET", "POST"));
    expect(await raw.readHead()).toMatch(/^HTTP\/1\.1 418 /);
    expect(errors).toEqual(["Invalid HTTP method (POST) true"]);
    raw.destroy();
    await wss.close();
  });
});

describe(`the server on ${runtime} given no address`, () => {
  const hasIpv6 = Object.values(os.networkInterfaces()).some((list) =>
    list?.some((address) => address.family === "IPv6" && address.internal),
  );

  it.skipIf(!hasIpv6)("listens on every IPv6 and IPv4 address, as ws's (Node's listen)", async () => {
    const wss = new host.WebSocketServer({ port: 0 });
    await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
    const { address, port } = wss.address()!;
    expect(address).toBe("::");
    for (const target of ["127.0.0.1", "::1"]) {
      const client = new host.WebSocket(`ws://${net.isIPv6(target) ? `[${target}]` : target}:${port}/`);
      await within(nextEvent(client, "open"), 5000, `open over ${target}`);
      const closed = nextEvent(client, "close");
      client.close();
      await closed;
    }
    await wss.close();
  });
});
