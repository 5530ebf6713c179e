// Our client and our server over HTTP/2 (RFC 8441), on Node and Bun alike: the Node host's WebSocketServer on
// the runtime's node:http2 (TLS with HTTP/1.1 beside it, and h2c), the host's client on an Http2Agent's
// session. Several WebSockets share one session; each feature of the HTTP/1.1 path is checked on both ends,
// and how each stream ended (END_STREAM or RST_STREAM) on the server's side.
import * as http2 from "node:http2";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type ServerConnection, type ServerOptions } from "../../../runtimes/node/index.js";
import { openedOrError, until } from "../../support/client-events.js";
import { within } from "../../support/raw-client.js";
import { throwawayCert } from "../../support/tls-cert.js";
import { afterAll, beforeAll, describe, expect, host, it, runtime, type WebSocket } from "./harness.js";

const { key, cert } = throwawayCert();
const { NGHTTP2_CANCEL } = http2.constants;

type Server = http2.Http2SecureServer | http2.Http2Server | https.Server;

/** Our server on `server` (listening on 127.0.0.1:0): echoing, and recording its connections. */
async function serve(server: Server, options: Partial<ServerOptions> = {}) {
  const wss = new WebSocketServer({ server, ...options } as ServerOptions);
  const connections: Array<{ ws: ServerConnection; version: string; path: string }> = [];
  const waiting: Array<(ws: ServerConnection) => void> = [];
  wss.on("connection", (ws, req) => {
    connections.push({ ws, version: req.httpVersion, path: req.url ?? "" });
    ws.on("message", (data, isBinary) => {
      if (!ws.isPaused) ws.send(data as Buffer, { binary: isBinary });
    });
    waiting.shift()?.(ws);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    wss,
    port,
    connections,
    /** The next connection the server opens. */
    next: () => within(new Promise<ServerConnection>((resolve) => waiting.push(resolve)), 5000, "connection"),
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The next event `name` of an emitter (ws's API on both ends), within 5 s. */
function next<T extends unknown[]>(emitter: object, name: string, ms = 5000): Promise<T> {
  const target = emitter as { once(name: string, listener: (...args: T) => void): unknown };
  return within(new Promise<T>((resolve) => target.once(name, (...args: T) => resolve(args))), ms, name);
}

/** Our client, resolved once open; rejects with the attempt's error. */
function open(url: string, options: object, protocols: string[] = []): Promise<WebSocket> {
  const ws = new host.WebSocket(url, protocols, { ca: cert, ...options } as never);
  return openedOrError(ws as WebSocket, 5000, `open ${url}`);
}

/** The client's close event: code, reason, wasClean. */
function closeOf(ws: WebSocket): Promise<[number, string, boolean]> {
  return within(
    new Promise((resolve) =>
      ws.addEventListener("close", (e) => resolve([e.code, e.reason, e.wasClean]), { once: true }),
    ),
    5000,
    "client close",
  );
}

/** A server connection's stream, and how it closed: END_STREAM both ways (rstCode 0) or reset. */
function streamOf(ws: ServerConnection): http2.ServerHttp2Stream {
  return ws.socket as unknown as http2.ServerHttp2Stream;
}
function streamClosed(ws: ServerConnection): Promise<number> {
  const stream = streamOf(ws);
  if (stream.closed) return Promise.resolve(stream.rstCode ?? 0);
  return within(
    new Promise((resolve) => stream.once("close", () => resolve(stream.rstCode ?? 0))),
    5000,
    "stream close",
  );
}

const bytes = (size: number, seed: number) => {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * seed + (i >> 9)) & 0xff;
  return out;
};

describe(`our client and our server over HTTP/2 on ${runtime}`, () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let agent: InstanceType<typeof host.Http2Agent>;
  let base: string;

  beforeAll(async () => {
    const h2 = http2.createSecureServer({ key, cert, allowHTTP1: true });
    server = await serve(h2, {
      handleProtocols: (protocols: Set<string>) => (protocols.has("chat") ? "chat" : false),
      perMessageDeflate: { threshold: 0 },
      verifyClient: (info: { req: { url?: string } }, done: (ok: boolean, code?: number) => void) =>
        info.req.url === "/forbidden" ? done(false, 403) : done(true),
      maxPayload: 64 << 20,
    } as Partial<ServerOptions>);
    agent = new host.Http2Agent({ idleTimeout: 60_000 });
    base = `wss://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    agent.close(true);
    await server.close();
  });

  it("carries several WebSockets on one session: byte-exact text and binary (4 MiB), fragments, deflate, subprotocol", async () => {
    const plain = await open(`${base}/plain`, { http2: agent, perMessageDeflate: false });
    const serverPlain = server.connections.at(-1)!.ws;
    const chat = await open(`${base}/chat`, { http2: agent, perMessageDeflate: true }, ["x", "chat"]);
    const serverChat = server.connections.at(-1)!.ws;
    expect(server.connections.slice(-2).map((c) => c.version)).toEqual(["2.0", "2.0"]);
    expect(streamOf(serverPlain).session === streamOf(serverChat).session).toBe(true);
    expect(agent.size).toBe(1);
    expect([plain.protocol, plain.extensions, chat.protocol]).toEqual(["", "", "chat"]);
    expect(chat.extensions).toMatch(/^permessage-deflate/);
    expect(serverChat.extensions).toMatch(/^permessage-deflate/);
    expect(serverChat.protocol).toBe("chat");

    const big = bytes(4 << 20, 13);
    const text = "ünïcödé ✓ ".repeat(50_000);
    for (const ws of [plain, chat]) {
      const gotBinary = next<[Buffer, boolean]>(ws, "message", 20_000);
      ws.send(big);
      const [data, isBinary] = await gotBinary;
      expect(isBinary).toBe(true);
      expect(Buffer.from(data).equals(big)).toBe(true);
      const gotText = next<[Buffer, boolean]>(ws, "message");
      ws.send(text);
      const [echoed, textBinary] = await gotText;
      expect([Buffer.from(echoed).toString(), textBinary]).toEqual([text, false]);
    }
    // Fragments both ways: the client's three frames are one message to the server, and the server's
    // fragmentSize splits its reply into frames the client reassembles.
    const whole = next<[Buffer, boolean]>(serverPlain, "message");
    plain.send("one ", { fin: false });
    plain.send("two ", { fin: false });
    plain.send("three", { fin: true });
    expect(Buffer.from((await whole)[0]).toString()).toBe("one two three");
    await next(plain, "message"); // its echo
    const reassembled = next<[Buffer, boolean]>(plain, "message");
    serverPlain.send(bytes(10_000, 7), { binary: true, fragmentSize: 1000 });
    expect(Buffer.from((await reassembled)[0]).equals(bytes(10_000, 7))).toBe(true);

    // Compressed on the wire: the server's stream carries far fewer bytes than the text.
    const stream = streamOf(serverChat);
    const before = stream.session!.socket.bytesRead;
    const gotRepeat = next<[Buffer, boolean]>(chat, "message");
    chat.send("a".repeat(1 << 20));
    expect(Buffer.from((await gotRepeat)[0]).toString()).toBe("a".repeat(1 << 20));
    expect(stream.session!.socket.bytesRead - before).toBeLessThan(64 << 10);

    for (const ws of [plain, chat]) ws.terminate();
  }, 60_000);

  it("ping/pong both ways; close handshakes with code and reason both ways end with END_STREAM", async () => {
    const a = await open(`${base}/a`, { http2: agent });
    const serverA = server.connections.at(-1)!.ws;
    const b = await open(`${base}/b`, { http2: agent });
    const serverB = server.connections.at(-1)!.ws;

    const pong = next<[Buffer]>(a, "pong");
    const seen = next<[Buffer]>(serverA, "ping");
    a.ping("from client");
    expect(Buffer.from((await seen)[0]).toString()).toBe("from client");
    expect(Buffer.from((await pong)[0]).toString()).toBe("from client");
    const clientPing = next<[Buffer]>(a, "ping");
    const serverPong = next<[Buffer]>(serverA, "pong");
    serverA.ping("from server");
    expect(Buffer.from((await clientPing)[0]).toString()).toBe("from server");
    expect(Buffer.from((await serverPong)[0]).toString()).toBe("from server");

    // Client-initiated close.
    const serverClosed = next<[number, Buffer]>(serverA, "close");
    const clientClosed = closeOf(a);
    a.close(4001, "client bye");
    const [code, reason] = await serverClosed;
    expect([code, Buffer.from(reason).toString()]).toEqual([4001, "client bye"]);
    expect(await clientClosed).toEqual([4001, "client bye", true]);
    expect(await streamClosed(serverA)).toBe(0);

    // Server-initiated close, on the sibling that stayed open.
    const bClosed = closeOf(b);
    serverB.close(4002, "server bye");
    expect(await bClosed).toEqual([4002, "server bye", true]);
    expect(await streamClosed(serverB)).toBe(0);
  });

  it("terminate on either end resets that stream with CANCEL and leaves its siblings open", async () => {
    const a = await open(`${base}/t1`, { http2: agent });
    const serverA = server.connections.at(-1)!.ws;
    const second = await open(`${base}/t2`, { http2: agent });
    const third = await open(`${base}/t3`, { http2: agent });
    const serverThird = server.connections.at(-1)!.ws;
    expect(streamOf(serverA).session === streamOf(serverThird).session).toBe(true);

    const serverSaw = next<[number, Buffer]>(serverA, "close");
    const aClosed = closeOf(a);
    a.terminate();
    expect((await aClosed)[0]).toBe(1006);
    expect((await serverSaw)[0]).toBe(1006);
    expect(await streamClosed(serverA)).toBe(NGHTTP2_CANCEL);

    const thirdClosed = closeOf(third);
    serverThird.terminate();
    expect(await thirdClosed).toEqual([1006, "", false]);
    expect(await streamClosed(serverThird)).toBe(NGHTTP2_CANCEL);

    const echo = next<[Buffer, boolean]>(second, "message");
    second.send("still here");
    expect(Buffer.from((await echo)[0]).toString()).toBe("still here");
    second.close();
    await closeOf(second);
  });

  it("a refusal's status reaches the client as ws's 'Unexpected server response'", async () => {
    const error = await open(`${base}/forbidden`, { http2: agent }).then(
      () => new Error("opened"),
      (e: Error) => e,
    );
    expect(error.message).toBe("Unexpected server response: 403");
    // The session stays usable.
    const ws = await open(`${base}/after`, { http2: agent });
    expect(agent.size).toBe(1);
    ws.close();
    await closeOf(ws);
  });

  it("backpressure both ways: bufferedAmount grows while the peer does not read, drain follows", async () => {
    const ws = await open(`${base}/slow`, { http2: agent, perMessageDeflate: false });
    const peer = server.connections.at(-1)!.ws;
    const chunk = bytes(1 << 20, 3);

    // Client → server: the server stops reading, so HTTP/2 flow control holds the client's bytes.
    peer.pause();
    const received: number[] = [];
    peer.on("message", (data) => received.push((data as Buffer).length));
    for (let i = 0; i < 4; i++) ws.send(chunk);
    await until(() => ws.bufferedAmount > 0, 3000, "client buffering");
    expect(ws.bufferedAmount).toBeGreaterThan(1 << 20);
    const drained = next(ws, "drain", 10_000);
    peer.resume();
    await drained;
    await until(() => received.length === 4, 10_000, "server reads all");
    expect(received).toEqual([1 << 20, 1 << 20, 1 << 20, 1 << 20]);

    // Server → client: the client stops reading.
    ws.pause();
    const got: number[] = [];
    ws.on("message", (data) => got.push(Buffer.from(data as Uint8Array).length));
    for (let i = 0; i < 4; i++) peer.send(chunk);
    expect(peer.bufferedAmount).toBeGreaterThan(1 << 20);
    const serverDrained = next(peer, "drain", 10_000);
    ws.resume();
    await serverDrained;
    await until(() => got.length === 4, 10_000, "client reads all");
    expect(got).toEqual([1 << 20, 1 << 20, 1 << 20, 1 << 20]);
    ws.close();
    await closeOf(ws);
  }, 30_000);
});

describe(`our client and our server over HTTP/2 on ${runtime}: heartbeat, h2c, fallback`, () => {
  it("the server's heartbeat pings an idle client over a stream, and ends one that does not answer", async () => {
    const h2 = http2.createSecureServer({ key, cert });
    const server = await serve(h2, { heartbeat: { interval: 100, timeout: 150 } });
    const agent = new host.Http2Agent({ idleTimeout: 0 });
    try {
      const url = `wss://127.0.0.1:${server.port}`;
      const alive = await open(`${url}/alive`, { http2: agent });
      const silent = await open(`${url}/silent`, { http2: agent, autoPong: false });
      const serverSilent = server.connections.at(-1)!.ws;
      const pinged = next(alive, "ping", 3000);
      const silentClosed = closeOf(silent);
      await pinged;
      const [code] = await silentClosed;
      // The close frame goes out behind what the stream holds, then END_STREAM: our client answers it.
      expect(code).toBe(1011);
      expect(await streamClosed(serverSilent)).toBe(0);
      // The one answering pings stays open through several intervals.
      for (let i = 0; i < 3; i++) await next(alive, "ping", 3000);
      expect(alive.readyState).toBe(1);
      alive.close();
      await closeOf(alive);
    } finally {
      agent.close(true);
      await server.close();
    }
  });

  it("h2c: ws:// on a session without TLS", async () => {
    const server = await serve(http2.createServer());
    const agent = new host.Http2Agent({ idleTimeout: 0 });
    try {
      const url = `ws://127.0.0.1:${server.port}/plain`;
      const [one, two] = await Promise.all([open(url, { http2: agent }), open(url, { http2: agent })]);
      expect(server.connections.map((c) => c.version)).toEqual(["2.0", "2.0"]);
      expect(streamOf(server.connections[0].ws).session === streamOf(server.connections[1].ws).session).toBe(
        true,
      );
      for (const ws of [one, two]) {
        const echo = next<[Buffer, boolean]>(ws, "message");
        ws.send(bytes(100_000, 5));
        expect(Buffer.from((await echo)[0]).equals(bytes(100_000, 5))).toBe(true);
        ws.close(1000, "h2c");
        expect(await closeOf(ws)).toEqual([1000, "h2c", true]);
      }
    } finally {
      agent.close(true);
      await server.close();
    }
  });

  it("falls back to HTTP/1.1 when our server is a plain https server", async () => {
    const server = await serve(https.createServer({ key, cert }));
    const agent = new host.Http2Agent({ idleTimeout: 0 });
    try {
      const ws = await open(`wss://127.0.0.1:${server.port}/fallback`, { http2: agent });
      expect(server.connections.map((c) => c.version)).toEqual(["1.1"]);
      const echo = next<[Buffer, boolean]>(ws, "message");
      ws.send("over 1.1");
      expect(Buffer.from((await echo)[0]).toString()).toBe("over 1.1");
      ws.close(1000);
      expect((await closeOf(ws))[0]).toBe(1000);
      expect(agent.size).toBe(0);
    } finally {
      agent.close(true);
      await server.close();
    }
  });
});
