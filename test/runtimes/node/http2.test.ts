// WebSockets over HTTP/2 (RFC 8441) on our Node server, driven frame by frame from node:http2's client: the
// extended CONNECT and every refusal status, subprotocols and permessage-deflate, the close handshake ending
// in END_STREAM and failures in RST_STREAM(CANCEL), flow control as bufferedAmount, pub/sub, and streams of
// one session (and HTTP/1.1 upgrades on the same port) unaffected by one another's end.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { WebSocket as WsClient } from "ws";
import { WebSocketServer, type ServerConnection, type ServerOptions } from "../../../runtimes/node/index.js";
import { connectH2, connectHeaders, openStream, type StreamPeer } from "../../support/h2-peer.js";
import { closePayload, frame, within } from "../../support/raw-client.js";
import { throwawayCert } from "../../support/tls-cert.js";

const { key, cert } = throwawayCert();
const CANCEL = http2.constants.NGHTTP2_CANCEL;
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Listen on 127.0.0.1 and open a client session; the cleanup ends both and `wss`. */
async function serve(
  server: http2.Http2SecureServer,
  wss: WebSocketServer,
): Promise<{ port: number; session: http2.ClientHttp2Session; remoteSettings: http2.Settings }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const { session, settings } = await connectH2(`https://127.0.0.1:${port}`, { ca: cert });
  cleanups.push(async () => {
    session.destroy();
    for (const ws of wss.clients) ws.terminate();
    await wss.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port, session, remoteSettings: settings };
}

/** Our server attached to an HTTP/2 TLS server (HTTP/1.1 allowed too), and a client session to it. */
async function h2Server(options: Partial<ServerOptions> = {}, settings: http2.Settings = {}) {
  const server = http2.createSecureServer({ key, cert, allowHTTP1: true, settings });
  const wss = new WebSocketServer({ server, ...options } as ServerOptions);
  return { server, wss, ...(await serve(server, wss)) };
}

/** Echo every message back as it came. */
function echo(ws: ServerConnection): void {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
}

/** The close frame's code and reason. */
function closeOf(payload: Buffer): { code: number; reason: string } {
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() };
}

/** The response body of a refused stream. */
async function bodyOf(peer: StreamPeer): Promise<string> {
  return (await peer.raw.readAll(2000)).toString();
}

describe("WebSocketServer on node:http2 (RFC 8441)", () => {
  it("makes an attached http2 server advertise SETTINGS_ENABLE_CONNECT_PROTOCOL, keeping its other settings", async () => {
    const { remoteSettings } = await h2Server({}, { maxConcurrentStreams: 77 });
    expect(remoteSettings.enableConnectProtocol).toBe(true);
    expect(remoteSettings.maxConcurrentStreams).toBe(77);
  });

  it("accepts an extended CONNECT with 200 (no Sec-WebSocket-Accept) and echoes text, binary and fragments", async () => {
    const { wss, session } = await h2Server({ path: "/ws" });
    const seen: { version: string; method: string; url: string; authority: unknown; address: string }[] = [];
    wss.on("connection", (ws, req) => {
      seen.push({
        version: req.httpVersion,
        method: req.method!,
        url: req.url!,
        authority: req.headers[":authority"],
        address: ws.socket.remoteAddress!,
      });
      echo(ws);
    });
    const peer = await openStream(session, connectHeaders("/ws?room=1"));
    expect(peer.status).toBe(200);
    expect(peer.headers["sec-websocket-accept"]).toBeUndefined();
    peer.raw.write(frame(1, "héllo over h2"));
    expect((await peer.raw.readFrame()).payload.toString()).toBe("héllo over h2");
    peer.raw.write(frame(2, Buffer.from([0, 1, 2, 255])));
    expect(await peer.raw.readFrame()).toMatchObject({ opcode: 2, payload: Buffer.from([0, 1, 2, 255]) });
    peer.raw.write(Buffer.concat([frame(1, "frag", { fin: false }), frame(0, "ments")]));
    expect((await peer.raw.readFrame()).payload.toString()).toBe("fragments");
    expect(seen).toEqual([
      { version: "2.0", method: "CONNECT", url: "/ws?room=1", authority: "127.0.0.1", address: "127.0.0.1" },
    ]);
  });

  it("ends the close handshake with END_STREAM both ways, not RST_STREAM", async () => {
    const { wss, session } = await h2Server();
    const closes: [number, string][] = [];
    wss.on("connection", (ws) => ws.on("close", (code, reason) => closes.push([code, reason.toString()])));
    const peer = await openStream(session, connectHeaders("/"));
    peer.raw.write(frame(8, closePayload(4000, "client done")));
    const reply = await peer.raw.readFrame();
    expect(reply.opcode).toBe(8);
    expect(closeOf(reply.payload)).toEqual({ code: 4000, reason: "client done" });
    expect(await within(peer.end, 3000, "stream close")).toEqual({ endStream: true, rstCode: 0 });
    await within(wssClosed(closes, 1), 2000, "server close event");
    expect(closes).toEqual([[4000, "client done"]]);
  });

  it("sends a server close (code and reason), then END_STREAM once the client answers", async () => {
    const { wss, session } = await h2Server();
    wss.on("connection", (ws) => ws.close(4001, "server bye"));
    const peer = await openStream(session, connectHeaders("/"));
    const close = await peer.raw.readFrame();
    expect(closeOf(close.payload)).toEqual({ code: 4001, reason: "server bye" });
    peer.raw.write(frame(8, close.payload));
    expect(await within(peer.end, 3000, "stream close")).toEqual({ endStream: true, rstCode: 0 });
  });

  it("fails invalid frames with 1002 and END_STREAM, then resets with CANCEL a peer that never ends", async () => {
    const { wss, session } = await h2Server({ closeTimeout: 200 });
    const errors: string[] = [];
    wss.on("connection", (ws) => ws.on("error", (error) => errors.push(error.message)));
    const peer = await openStream(session, connectHeaders("/"), { endOnEnd: false });
    peer.raw.write(frame(1, "unmasked", { mask: false }));
    const close = await peer.raw.readFrame();
    expect(closeOf(close.payload).code).toBe(1002);
    // The server half-closed (END_STREAM); this peer never does, so the close timer resets the stream.
    expect(await within(peer.end, 3000, "stream close")).toEqual({ endStream: true, rstCode: CANCEL });
    expect(errors.length).toBe(1);
  });

  it("closes a message past maxPayload with 1009", async () => {
    const { wss, session } = await h2Server({ maxPayload: 1000 });
    wss.on("connection", echo);
    const peer = await openStream(session, connectHeaders("/"));
    peer.raw.write(frame(2, Buffer.alloc(999, 7)));
    expect((await peer.raw.readFrame()).payload.length).toBe(999);
    peer.raw.write(frame(2, Buffer.alloc(1001, 7)));
    expect(closeOf((await peer.raw.readFrame()).payload).code).toBe(1009);
  });

  it("pings a silent stream and, when no pong comes, sends it close 1011 then END_STREAM (the failed peer's FIN)", async () => {
    const { wss, session } = await h2Server({ heartbeat: { interval: 100, timeout: 100 } });
    wss.on("connection", echo);
    const silent = await openStream(session, connectHeaders("/silent"));
    const alive = await openStream(session, connectHeaders("/alive"));
    let silentEnd: { rstCode: number } | null = null;
    void silent.end.then((end) => (silentEnd = end));
    // The other stream of the session talks every 30 ms (so its heartbeat never fires) and keeps echoing
    // while the silent one is pinged, closed and reset, and after.
    for (let i = 0; i < 100 && (silentEnd === null || i < 3); i++) {
      alive.raw.write(frame(1, `still here ${i}`));
      expect((await alive.raw.readFrame()).payload.toString()).toBe(`still here ${i}`);
      if (silentEnd === null) await new Promise((resolve) => setTimeout(resolve, 30));
    }
    expect(await silent.raw.readFrame()).toMatchObject({ opcode: 9 });
    const close = await silent.raw.readFrame();
    expect(closeOf(close.payload)).toEqual({ code: 1011, reason: "heartbeat timeout" });
    // As on TCP (close frame, then FIN, then the close timer): END_STREAM behind the close frame; this peer's
    // stream (node:http2's, not half-open) ends its side in turn, so no reset is needed.
    expect(silentEnd).toEqual({ endStream: true, rstCode: 0 });
    expect(session.closed || session.destroyed).toBe(false);
  });

  it("keeps the other WebSockets of a session and HTTP/1.1 upgrades on the port going when one stream fails or is reset", async () => {
    const { wss, session, port } = await h2Server();
    wss.on("connection", echo);
    const failing = await openStream(session, connectHeaders("/a"));
    const reset = await openStream(session, connectHeaders("/b"));
    const healthy = await openStream(session, connectHeaders("/c"));
    failing.raw.write(frame(3, "reserved opcode"));
    expect(closeOf((await failing.raw.readFrame()).payload).code).toBe(1002);
    reset.stream.close(CANCEL);
    await within(reset.end, 3000, "reset stream close");
    const http1 = new WsClient(`wss://127.0.0.1:${port}/http1`, { ca: cert });
    await within(
      new Promise((resolve, reject) => http1.once("open", resolve).once("error", reject)),
      5000,
      "ws",
    );
    cleanups.push(() => http1.terminate());
    for (let i = 0; i < 5; i++) {
      healthy.raw.write(frame(1, `h2 ${i}`));
      expect((await healthy.raw.readFrame()).payload.toString()).toBe(`h2 ${i}`);
      http1.send(`h1 ${i}`);
      const [data] = (await within(onceMessage(http1), 2000, "ws echo")) as [Buffer];
      expect(data.toString()).toBe(`h1 ${i}`);
    }
    for (let i = 0; i < 100 && wss.clients.size > 2; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(wss.clients.size).toBe(2);
  });

  it("chooses the subprotocol as on HTTP/1.1 and answers it in sec-websocket-protocol", async () => {
    const versions: string[] = [];
    const { wss, session } = await h2Server({
      handleProtocols: (offered, req) => {
        versions.push(req.httpVersion);
        return offered.has("chat.v2") ? "chat.v2" : false;
      },
    });
    const protocols: string[] = [];
    wss.on("connection", (ws) => protocols.push(ws.protocol));
    const peer = await openStream(
      session,
      connectHeaders("/", { "sec-websocket-protocol": "chat.v1, chat.v2" }),
    );
    expect(peer.status).toBe(200);
    expect(peer.headers["sec-websocket-protocol"]).toBe("chat.v2");
    const none = await openStream(session, connectHeaders("/", { "sec-websocket-protocol": "mqtt" }));
    expect(none.headers["sec-websocket-protocol"]).toBeUndefined();
    expect(protocols).toEqual(["chat.v2", ""]);
    expect(versions).toEqual(["2.0", "2.0"]);
    const invalid = await openStream(session, connectHeaders("/", { "sec-websocket-protocol": "a, a" }));
    expect(invalid.status).toBe(400);
  });

  it("gives a 'headers' listener the 200's fields as lines and answers with those it adds", async () => {
    const { wss, session } = await h2Server({ protocols: ["chat"] });
    const seen: string[][] = [];
    wss.on("headers", (lines, req) => {
      seen.push([...lines, req.httpVersion]);
      lines.push("X-Served-By: wasmsocket", "Connection: close");
    });
    const peer = await openStream(session, connectHeaders("/", { "sec-websocket-protocol": "chat" }));
    expect(seen).toEqual([["HTTP/2 200", "sec-websocket-protocol: chat", "2.0"]]);
    expect([peer.status, peer.headers["x-served-by"], peer.headers.connection]).toEqual([
      200,
      "wasmsocket",
      undefined,
    ]);
  });

  it("negotiates permessage-deflate and exchanges compressed messages on the stream", async () => {
    const { wss, session } = await h2Server({ perMessageDeflate: { threshold: 0 } });
    wss.on("connection", echo);
    const offer = "permessage-deflate; client_max_window_bits";
    const peer = await openStream(session, connectHeaders("/", { "sec-websocket-extensions": offer }));
    expect(String(peer.headers["sec-websocket-extensions"])).toMatch(/^permessage-deflate/);
    const text = "compressed over an HTTP/2 stream ".repeat(50);
    const deflated = deflateRawSync(Buffer.from(text), { finishFlush: 2 /* Z_SYNC_FLUSH */ });
    peer.raw.write(frame(1, deflated.subarray(0, deflated.length - 4), { rsv: 4 }));
    const echoed = await peer.raw.readFrame();
    expect(echoed.rsv).toBe(4);
    const inflated = inflateRawSync(Buffer.concat([echoed.payload, Buffer.from([0, 0, 0xff, 0xff])]), {
      finishFlush: 2,
    });
    expect(inflated.toString()).toBe(text);
  });

  it("shows HTTP/2 flow control as bufferedAmount and emits drain once the peer reads", async () => {
    const { wss, session } = await h2Server();
    const opened = new Promise<ServerConnection>((resolve) => wss.once("connection", resolve));
    const peer = await openStream(session, connectHeaders("/"));
    peer.stream.pause();
    const ws = await opened;
    const chunk = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i < 16; i++) ws.send(chunk);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The session's and stream's windows (64 KiB each by default) hold the rest back in the stream.
    expect(ws.bufferedAmount).toBeGreaterThan(512 * 1024);
    const drained = new Promise<void>((resolve) => ws.once("drain", () => resolve()));
    peer.stream.resume();
    let received = 0;
    while (received < 16) {
      expect((await peer.raw.readFrame()).payload.length).toBe(chunk.length);
      received++;
    }
    await within(drained, 3000, "drain");
    expect(ws.bufferedAmount).toBe(0);
  });

  it("publishes to subscribers on HTTP/2 streams and on HTTP/1.1 alike", async () => {
    const { wss, session, port } = await h2Server();
    let subscribed = 0;
    const ready = new Promise<void>((resolve) =>
      wss.on("connection", (ws) => {
        ws.subscribe("news");
        if (++subscribed === 3) resolve();
      }),
    );
    const a = await openStream(session, connectHeaders("/"));
    const b = await openStream(session, connectHeaders("/"));
    const http1 = new WsClient(`wss://127.0.0.1:${port}/`, { ca: cert });
    cleanups.push(() => http1.terminate());
    await within(ready, 5000, "three subscribers");
    const got1 = onceMessage(http1);
    expect(wss.publish("news", "extra")).toBe(3);
    expect((await a.raw.readFrame()).payload.toString()).toBe("extra");
    expect((await b.raw.readFrame()).payload.toString()).toBe("extra");
    expect(((await within(got1, 2000, "ws publish")) as [Buffer])[0].toString()).toBe("extra");
  });

  it("closes stream clients with 1001 on wss.close() and gives the http2 server its listeners back", async () => {
    const server = http2.createSecureServer({ key, cert });
    const before = [server.listenerCount("stream"), server.listenerCount("connect")];
    const wss = new WebSocketServer({ server });
    expect(server.listenerCount("stream")).toBe(before[0] + 1);
    const { session } = await serve(server, wss);
    const peer = await openStream(session, connectHeaders("/"));
    const closing = wss.close();
    const close = await peer.raw.readFrame();
    expect(closeOf(close.payload).code).toBe(1001);
    peer.raw.write(frame(8, close.payload));
    await within(closing, 3000, "wss.close()");
    expect([server.listenerCount("stream"), server.listenerCount("connect")]).toEqual(before);
  });
});

describe("refusals of an extended CONNECT on node:http2", () => {
  it("answers a path no server takes with 400, as HTTP/1.1 upgrades are", async () => {
    const { session } = await h2Server({ path: "/ws" });
    const peer = await openStream(session, connectHeaders("/other"));
    expect(peer.status).toBe(400);
    expect(await bodyOf(peer)).toBe("400 Bad Request");
  });

  it("refuses a :protocol other than websocket with 501", async () => {
    const { session } = await h2Server();
    const peer = await openStream(session, connectHeaders("/", { ":protocol": "connect-udp" }));
    expect(peer.status).toBe(501);
  });

  it("refuses a missing Sec-WebSocket-Version with 400 and version 8 with 426 naming 13", async () => {
    const { session } = await h2Server();
    const missing = connectHeaders("/");
    delete missing["sec-websocket-version"];
    expect((await openStream(session, missing)).status).toBe(400);
    const old = await openStream(session, connectHeaders("/", { "sec-websocket-version": "8" }));
    expect(old.status).toBe(426);
    expect(old.headers["sec-websocket-version"]).toBe("13");
  });

  it("emits wsClientError for a stream broken as a request, after answering it, with the stream as socket", async () => {
    const { wss, session } = await h2Server();
    const seen: Array<{ message: string; address: unknown; protocol: unknown; version: string }> = [];
    wss.on("wsClientError", (error, socket, req) => {
      seen.push({
        message: error.message,
        address: (socket as { remoteAddress?: string }).remoteAddress,
        protocol: req.headers[":protocol"],
        version: req.httpVersion,
      });
      // What a ws listener does: write an HTTP/1.1 answer and destroy. The stream has had its own.
      (socket as { write(text: string): void }).write("HTTP/1.1 400 Bad Request\r\n\r\n");
      (socket as { destroy(): void }).destroy();
    });
    const old = await openStream(session, connectHeaders("/", { "sec-websocket-version": "8" }));
    expect(old.status).toBe(426);
    const badList = await openStream(session, connectHeaders("/", { "sec-websocket-protocol": "a b" }));
    expect(badList.status).toBe(400);
    expect(seen).toEqual([
      {
        message: expect.stringMatching(/version/i),
        address: "127.0.0.1",
        protocol: "websocket",
        version: "2.0",
      },
      {
        message: "Invalid Sec-WebSocket-Protocol header",
        address: "127.0.0.1",
        protocol: "websocket",
        version: "2.0",
      },
    ]);
    // Refusals that are the server's choice (a path it does not take) are not client errors.
    const ok = await openStream(session, connectHeaders("/"));
    expect(ok.status).toBe(200);
    expect(seen.length).toBe(2);
  });

  it("resets a stream still undecided after handshakeTimeout (verifyClient never answers); the session goes on", async () => {
    const { wss, session } = await h2Server({
      handshakeTimeout: 150,
      verifyClient: (info, done) => {
        if (info.req.url !== "/never") done(true);
      },
    });
    wss.on("connection", echo);
    const hanging = session.request(connectHeaders("/never"), { endStream: false });
    hanging.on("error", () => {});
    const reset = within(
      new Promise<number>((resolve) => hanging.once("close", () => resolve(hanging.rstCode ?? -1))),
      3000,
      "the undecided stream's reset",
    );
    expect(await reset).toBe(CANCEL);
    const peer = await openStream(session, connectHeaders("/fine"));
    expect(peer.status).toBe(200);
    peer.raw.write(frame(1, "after"));
    expect((await peer.raw.readFrame()).payload.toString()).toBe("after");
  });

  it("refuses a :scheme that is neither http nor https with 400", async () => {
    const { session } = await h2Server();
    expect((await openStream(session, connectHeaders("/", { ":scheme": "ftp" }))).status).toBe(400);
  });

  it("answers verifyClient's refusal with its status, fields and body, and 403 for a refused origin", async () => {
    const { session } = await h2Server({
      allowedOrigins: ["https://good.example"],
      verifyClient: async (info) =>
        info.req.headers["x-token"] === "ok"
          ? true
          : { status: 403, reason: "no token", headers: { "x-why": "token", Connection: "close" } },
    });
    const refused = await openStream(session, connectHeaders("/"));
    expect(refused.status).toBe(403);
    expect(refused.headers["x-why"]).toBe("token");
    expect(await bodyOf(refused)).toBe("no token");
    const origin = await openStream(
      session,
      connectHeaders("/", { origin: "https://evil.example", "x-token": "ok" }),
    );
    expect(origin.status).toBe(403);
    expect(await bodyOf(origin)).toBe("403 Forbidden");
    const accepted = await openStream(
      session,
      connectHeaders("/", { origin: "https://good.example", "x-token": "ok" }),
    );
    expect(accepted.status).toBe(200);
  });

  it("answers 503 past maxClients, counting streams and HTTP/1.1 connections together", async () => {
    const { session, port } = await h2Server({ maxClients: 2 });
    expect((await openStream(session, connectHeaders("/"))).status).toBe(200);
    const http1 = new WsClient(`wss://127.0.0.1:${port}/`, { ca: cert });
    cleanups.push(() => http1.terminate());
    await within(
      new Promise((resolve, reject) => http1.once("open", resolve).once("error", reject)),
      5000,
      "ws",
    );
    const third = await openStream(session, connectHeaders("/"));
    expect(third.status).toBe(503);
    expect(await bodyOf(third)).toBe("503 Service Unavailable");
  });

  it("leaves a plain CONNECT to the application's compatibility handler, which answers it 405", async () => {
    const server = http2.createSecureServer({ key, cert }, (_req, res) => res.end("page"));
    const { session } = await serve(server, new WebSocketServer({ server }));
    const tunnel = await openStream(session, { ":method": "CONNECT", ":authority": "example.com:443" });
    expect(tunnel.status).toBe(405);
    const page = await openStream(session, { ":path": "/" });
    expect([page.status, await bodyOf(page)]).toEqual([200, "page"]);
    const ws = await openStream(session, connectHeaders("/"));
    expect(ws.status).toBe(200);
  });
});

describe("noServer + handleStream", () => {
  it("runs a WebSocket on a stream the application routed, and refuses a GET with 405 Allow: CONNECT", async () => {
    const wss = new WebSocketServer({ noServer: true });
    const server = http2.createSecureServer({ key, cert, settings: { enableConnectProtocol: true } });
    server.on("stream", (stream, headers) => {
      if (headers[":path"] === "/ws" || headers[":path"] === "/ws-get")
        wss.handleStream(stream, headers, (ws, req) => {
          expect(req.headers[":protocol"]).toBe("websocket");
          echo(ws);
        });
      else stream.respond({ ":status": 204 }, { endStream: true });
    });
    const { session } = await serve(server, wss);
    const peer = await openStream(session, connectHeaders("/ws"));
    peer.raw.write(frame(1, "routed"));
    expect((await peer.raw.readFrame()).payload.toString()).toBe("routed");
    const get = await openStream(session, { ":path": "/ws-get" });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe("CONNECT");
    expect((await openStream(session, { ":path": "/other" })).status).toBe(204);
    expect(wss.clients.size).toBe(1);
  });
});

/** Resolves once `closes` holds `count` entries. */
async function wssClosed(closes: unknown[], count: number): Promise<void> {
  while (closes.length < count) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** The next 'message' of a ws client. */
function onceMessage(ws: WsClient): Promise<unknown[]> {
  return new Promise((resolve) => ws.once("message", (...args) => resolve(args)));
}
