// Our Node client over HTTP/2 (RFC 8441) against a foreign server: plain node:http2 answering the extended
// CONNECT by hand with the raw client's frame reader (test/support/h2-foreign-server.ts), and for the fallback, ws's
// server upgrading HTTP/1.1 on the same port. What the server saw (fields, masking, END_STREAM or
// RST_STREAM) is checked on its side.
import { once } from "node:events";
import * as http2 from "node:http2";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer as WSServer } from "ws";
import { Http2Agent, WebSocket, type Http2Response } from "../../../runtimes/node/index.js";
import {
  foreignServer,
  pattern,
  writeFrame,
  type ForeignServer,
  type StreamRecord,
} from "../../support/h2-foreign-server.js";
import { throwawayCert } from "../../support/tls-cert.js";
import { within } from "./peers.js";
import { openedOrError } from "../../support/client-events.js";

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;
const tls = throwawayCert();

/** A client over HTTP/2 on `agent`, resolved once open (rejects with the error of an attempt that fails). */
function open(
  url: string,
  options: ConstructorParameters<typeof WebSocket>[2] = {},
  protocols: string[] = [],
) {
  return openedOrError(new WebSocket(url, protocols, { ca: tls.cert, ...options }), 5000, `open ${url}`);
}

function nextMessage(ws: WebSocket): Promise<[Buffer, boolean]> {
  return within(
    new Promise((resolve) => ws.once("message", (data, isBinary) => resolve([data as Buffer, isBinary]))),
    5000,
    "message",
  );
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string; wasClean: boolean }> {
  return within(
    new Promise((resolve) =>
      ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }), {
        once: true,
      }),
    ),
    5000,
    "close",
  );
}

function errorOf(ws: WebSocket): Promise<Error> {
  return within(new Promise((resolve) => ws.once("error", resolve)), 5000, "error");
}

describe("WebSocket over HTTP/2 against a foreign node:http2 server", () => {
  let server: ForeignServer;
  let agent: Http2Agent;
  let base: string;

  beforeAll(async () => {
    server = await foreignServer(tls, {
      routes: {
        "/chat": { protocol: "superchat" },
        "/wrong-protocol": { protocol: "other" },
        "/deflate": { deflate: true },
        "/paused": { paused: true },
        "/401": { status: 401 },
        "/403": { status: 403 },
        "/404": { status: 404 },
        "/500": { status: 500 },
        "/503": { status: 503 },
        "/moved": { status: 302, location: "/chat" },
        "/loop": { status: 307, location: "/loop" },
        "/nowhere": { status: 301, location: "ftp://localhost/" },
      },
    });
    agent = new Http2Agent({ idleTimeout: 0 });
    base = `wss://localhost:${server.port}`;
  });
  afterAll(async () => {
    agent.close(true);
    await server.close();
  });

  it("opens with an extended CONNECT: pseudo-header fields, version 13, the offer, no key, no Upgrade", async () => {
    const ws = new WebSocket(`${base}/echo?room=1`, {
      http2: agent,
      ca: tls.cert,
      origin: "https://example.com",
      headers: { "X-Token": "secret" },
    });
    const upgrade = new Promise<Http2Response>((resolve) =>
      ws.once("upgrade", (r) => resolve(r as unknown as Http2Response)),
    );
    await within(once(ws, "open"), 5000, "open");
    expect(await upgrade).toMatchObject({ statusCode: 200, httpVersion: "2.0" });
    const { headers } = server.streams.at(-1)!;
    expect(headers).toMatchObject({
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":scheme": "https",
      ":authority": `localhost:${server.port}`,
      ":path": "/echo?room=1",
      "sec-websocket-version": "13",
      origin: "https://example.com",
      "x-token": "secret",
    });
    expect(headers["sec-websocket-extensions"]).toMatch(/^permessage-deflate/);
    for (const absent of ["sec-websocket-key", "upgrade", "connection", "host"])
      expect(headers[absent]).toBeUndefined();
    expect(ws._socket).toBeNull();
    ws.close();
    await closed(ws);
  });

  it("echoes binary and text byte-exact, every client frame masked", async () => {
    const ws = await open(`${base}/echo`, { http2: agent });
    const record = server.streams.at(-1)!;
    for (const size of [0, 1, 125, 126, 65535, 65536, 1 << 20]) {
      ws.send(pattern(size));
      const [data, isBinary] = await nextMessage(ws);
      expect(isBinary).toBe(true);
      expect(data.equals(pattern(size)), `${size} bytes`).toBe(true);
      const text = "é€😀a".repeat(size >> 4);
      ws.send(text);
      const [echoed, textIsBinary] = await nextMessage(ws);
      expect(textIsBinary).toBe(false);
      expect(echoed.toString()).toBe(text);
    }
    expect(record.frames.length).toBeGreaterThanOrEqual(14);
    expect(record.frames.every((frame) => frame.masked)).toBe(true);
    ws.close();
    await closed(ws);
  });

  it("takes the subprotocol the server chose, and fails one it did not offer as on HTTP/1.1", async () => {
    const ws = await open(`${base}/chat`, { http2: agent }, ["chat", "superchat"]);
    expect(ws.protocol).toBe("superchat");
    ws.close();
    await closed(ws);
    const wrong = new WebSocket(`${base}/wrong-protocol`, ["chat"], { http2: agent, ca: tls.cert });
    const refused = server.nextStream();
    const wrongClosed = closed(wrong);
    expect((await errorOf(wrong)).message).toBe("Server sent an invalid subprotocol");
    expect((await wrongClosed).code).toBe(1006);
    const record = await refused;
    await within(record.closed, 5000, "stream reset");
    expect(record.rstCode).toBe(NGHTTP2_CANCEL);
  });

  it("negotiates permessage-deflate: compressed both ways", async () => {
    const ws = await open(`${base}/deflate`, { http2: agent });
    expect(ws.extensions).toMatch(/^permessage-deflate/);
    const record = server.streams.at(-1)!;
    const text = "compress me please ".repeat(2000);
    ws.send(text);
    expect((await nextMessage(ws))[0].toString()).toBe(text);
    ws.send(pattern(50_000));
    expect((await nextMessage(ws))[0].equals(pattern(50_000))).toBe(true);
    const data = record.frames.filter((frame) => frame.opcode === 1 || frame.opcode === 2);
    expect(data.map((frame) => frame.rsv === 4)).toEqual([true, true]);
    expect(data[0].payload.length).toBeLessThan(text.length / 10);
    ws.close();
    await closed(ws);
  });

  it("carries three WebSockets on one session; a reset stream ends one, the others go on", async () => {
    const sessionsBefore = server.sessions.length;
    const shared = new Http2Agent({ idleTimeout: 0 });
    const clients = await Promise.all([1, 2, 3].map((n) => open(`${base}/echo?n=${n}`, { http2: shared })));
    expect(server.sessions.length).toBe(sessionsBefore + 1);
    const records = [1, 2, 3].map((n) => server.streams.find((r) => r.headers[":path"] === `/echo?n=${n}`)!);
    expect(new Set(records.map((r) => r.session)).size).toBe(1);
    const session = records[0].session;
    const sessionClosed = once(session, "close");
    const reset = closed(clients[1]);
    records[1].stream.close(NGHTTP2_INTERNAL_ERROR);
    expect((await reset).code).toBe(1006);
    for (const [i, ws] of [clients[0], clients[2]].entries()) {
      ws.send(`still here ${i}`);
      expect((await nextMessage(ws))[0].toString()).toBe(`still here ${i}`);
    }
    expect(session.closed).toBe(false);
    clients[0].close();
    await closed(clients[0]);
    clients[2].send("last one");
    expect((await nextMessage(clients[2]))[0].toString()).toBe("last one");
    clients[2].close();
    await closed(clients[2]);
    // The agent's session closes once its last WebSocket has (idleTimeout 0).
    await within(sessionClosed, 5000, "the session closes");
    expect(shared.size).toBe(0);
  });

  it("keeps an idle session for idleTimeout and reuses it for the next WebSocket to that origin", async () => {
    const keeping = new Http2Agent({ idleTimeout: 60_000 });
    const first = await open(`${base}/echo?keep=1`, { http2: keeping });
    first.close();
    await closed(first);
    const second = await open(`${base}/echo?keep=2`, { http2: keeping });
    const [a, b] = ["/echo?keep=1", "/echo?keep=2"].map((path) =>
      server.streams.find((r) => r.headers[":path"] === path)!,
    );
    expect(a.session).toBe(b.session);
    second.close();
    await closed(second);
    expect(keeping.size).toBe(1);
    const sessionClosed = once(a.session, "close");
    keeping.close();
    await within(sessionClosed, 5000, "agent.close() closes the idle session");
    expect(keeping.size).toBe(0);
  });

  it("uses a session the application made, and leaves it open when its WebSockets close", async () => {
    const session = http2.connect(`https://localhost:${server.port}`, { ca: tls.cert });
    try {
      const clients = await Promise.all([1, 2].map((n) => open(`${base}/echo?own=${n}`, { http2: session })));
      const records = [1, 2].map((n) => server.streams.find((r) => r.headers[":path"] === `/echo?own=${n}`)!);
      expect(records[0].session).toBe(records[1].session);
      for (const ws of clients) {
        ws.send("mine");
        expect((await nextMessage(ws))[0].toString()).toBe("mine");
        ws.close();
        await closed(ws);
      }
      expect(session.closed || session.destroyed).toBe(false);
    } finally {
      session.close();
    }
  });

  it("fails an attempt on an application's session that never connects", async () => {
    const session = http2.connect("https://127.0.0.1:1", { ca: tls.cert });
    session.on("error", () => {});
    const ws = new WebSocket(`${base}/echo`, { http2: session, ca: tls.cert });
    const wsClosed = closed(ws);
    expect((await errorOf(ws)).message).toBe("HTTP/2 session closed before it connected");
    expect((await wsClosed).code).toBe(1006);
  });

  it("sends END_STREAM after the close handshake", async () => {
    const ws = await open(`${base}/echo?close`, { http2: agent });
    const record = server.streams.at(-1)!;
    ws.close(4000, "bye");
    expect(await closed(ws)).toEqual({ code: 4000, reason: "bye", wasClean: true });
    await within(record.closed, 5000, "stream closed");
    // Closed by END_STREAM both ways: our client resets only with CANCEL (the terminate test).
    expect(record.ended).toBe(true);
    expect(record.rstCode).toBe(0);
    const close = record.frames.find((frame) => frame.opcode === 8)!;
    expect(close.payload.readUInt16BE(0)).toBe(4000);
  });

  it("resets the stream with CANCEL on terminate()", async () => {
    const ws = await open(`${base}/echo?terminate`, { http2: agent });
    const record = server.streams.at(-1)!;
    ws.terminate();
    expect((await closed(ws)).code).toBe(1006);
    await within(record.closed, 5000, "stream reset");
    expect(record.aborted).toBe(true);
    expect(record.rstCode).toBe(NGHTTP2_CANCEL);
  });

  it("pings and answers pings", async () => {
    const ws = await open(`${base}/echo?ping`, { http2: agent });
    const record = server.streams.at(-1)!;
    ws.ping("hello");
    const pong = await within(new Promise<Buffer>((resolve) => ws.once("pong", resolve)), 5000, "pong");
    expect(pong.toString()).toBe("hello");
    const gotPing = within(new Promise<Buffer>((resolve) => ws.once("ping", resolve)), 5000, "ping");
    record.stream.write(writeFrame(0x9, Buffer.from("from server")));
    expect((await gotPing).toString()).toBe("from server");
    ws.send("after the ping");
    await nextMessage(ws);
    const answer = record.frames.find((frame) => frame.opcode === 0xa)!;
    expect(answer.payload.toString()).toBe("from server");
    expect(answer.masked).toBe(true);
    ws.close();
    await closed(ws);
  });

  it("fails a masked server frame with 1002, as on TCP", async () => {
    const ws = await open(`${base}/echo?bad`, { http2: agent });
    const record = server.streams.at(-1)!;
    const error = errorOf(ws);
    const wsClosed = closed(ws);
    const masked = writeFrame(0x1, Buffer.from("abcd"));
    masked[1] |= 0x80;
    record.stream.write(Buffer.concat([masked.subarray(0, 2), Buffer.alloc(4), masked.subarray(2)]));
    expect(((await error) as Error & { closeCode?: number }).closeCode).toBe(1002);
    expect((await wsClosed).code).toBe(1006);
    await within(record.closed, 5000, "stream closed");
    const close = record.frames.find((frame) => frame.opcode === 8);
    if (close) expect(close.payload.readUInt16BE(0)).toBe(1002);
  });

  it("counts bytes HTTP/2 flow control holds back in bufferedAmount, and drains when the server reads", async () => {
    const ws = await open(`${base}/paused`, { http2: agent });
    const record = server.streams.at(-1)!;
    const size = 1 << 20;
    ws.send(pattern(size));
    // Wait (bounded) until the stream has written all the peer's window lets through.
    let last = -1;
    for (let i = 0; i < 100 && ws.bufferedAmount !== last; i++) {
      last = ws.bufferedAmount;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The stream's initial window is 65,535 bytes: the rest waits in the stream, not in the kernel.
    expect(ws.bufferedAmount).toBeGreaterThan(size - 65_535);
    const drained = within(once(ws, "drain"), 5000, "drain");
    const echoed = nextMessage(ws);
    record.stream.resume();
    await drained;
    expect((await echoed)[0].equals(pattern(size))).toBe(true);
    expect(ws.bufferedAmount).toBe(0);
    ws.close();
    await closed(ws);
  });

  for (const status of [401, 403, 404, 500, 503])
    it(`reports a ${status} answer as ws does: "Unexpected server response: ${status}"`, async () => {
      const ws = new WebSocket(`${base}/${status}`, { http2: agent, ca: tls.cert });
      const record = server.nextStream();
      const wsClosed = closed(ws);
      expect((await errorOf(ws)).message).toBe(`Unexpected server response: ${status}`);
      expect((await wsClosed).code).toBe(1006);
      const refused = await record;
      await within(refused.closed, 5000, "stream closed");
      expect([0, NGHTTP2_CANCEL]).toContain(refused.rstCode);
    });

  it("hands a refused answer to an 'unexpected-response' listener with its stream to read", async () => {
    const ws = new WebSocket(`${base}/403`, { http2: agent, ca: tls.cert });
    const [stream, response] = await within(
      new Promise<[http2.ClientHttp2Stream, Http2Response]>((resolve) =>
        ws.on("unexpected-response", (s, r) =>
          resolve([s as unknown as http2.ClientHttp2Stream, r as unknown as Http2Response]),
        ),
      ),
      5000,
      "unexpected-response",
    );
    expect(response.statusCode).toBe(403);
    expect(response.headers["content-type"]).toBe("text/plain");
    expect(response.stream).toBe(stream);
    let body = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (body += chunk));
    await within(once(stream, "end"), 5000, "body");
    expect(body).toBe("refused with 403\n");
    const error = errorOf(ws);
    const wsClosed = closed(ws);
    ws.terminate();
    expect((await error).message).toBe("WebSocket was closed before the connection was established");
    expect((await wsClosed).code).toBe(1006);
  });

  it("reconnects on the same session after its stream was reset", async () => {
    const shared = new Http2Agent({ idleTimeout: 60_000 });
    const first = server.nextStream();
    const ws = await open(`${base}/echo?reconnect`, {
      http2: shared,
      reconnect: { minDelay: 10, maxDelay: 20 },
    });
    const reopened = within(once(ws, "open"), 5000, "reopened");
    const second = server.nextStream();
    (await first).stream.close(NGHTTP2_INTERNAL_ERROR);
    await reopened;
    expect((await second).session === (await first).session).toBe(true);
    ws.send("again");
    expect((await nextMessage(ws))[0].toString()).toBe("again");
    ws.close();
    await closed(ws);
    shared.close();
  });

  it("aborts an attempt closed while the session is being made: no stream is opened", async () => {
    const fresh = new Http2Agent({ idleTimeout: 0 });
    const before = server.streams.length;
    const early = new WebSocket(`${base}/echo?early`, { http2: fresh, ca: tls.cert });
    const error = errorOf(early);
    const earlyClosed = closed(early);
    early.close();
    expect((await error).message).toBe("WebSocket was closed before the connection was established");
    expect((await earlyClosed).code).toBe(1006);
    const next = await open(`${base}/echo?after-early`, { http2: fresh });
    expect(server.streams.slice(before).map((r: StreamRecord) => r.headers[":path"])).toEqual([
      "/echo?after-early",
    ]);
    next.close();
    await closed(next);
  });

  it("follows a redirect on HTTP/2 as on HTTP/1.1 (followRedirects): same session, 'redirect' event, credentials kept", async () => {
    const redirects: string[] = [];
    const ws = new WebSocket(`${base}/moved`, ["superchat"], {
      http2: agent,
      ca: tls.cert,
      followRedirects: true,
      headers: { Authorization: "Bearer same-host" },
    });
    ws.on("redirect", (url) => redirects.push(url));
    await openedOrError(ws);
    expect([ws.url, ws._redirects, ws.protocol]).toEqual([`${base}/chat`, 1, "superchat"]);
    expect(redirects).toEqual([`${base}/chat`]);
    const [moved, chat] = ["/moved", "/chat"].map((path) =>
      server.streams.filter((r) => r.headers[":path"] === path).pop()!,
    );
    expect(moved.session === chat.session).toBe(true);
    expect(chat.headers.authorization).toBe("Bearer same-host");
    ws.send("after a redirect");
    expect((await nextMessage(ws))[0].toString()).toBe("after a redirect");
    ws.close();
    await closed(ws);
  });

  it("does not follow a redirect unless asked, and stops at maxRedirects or a location that is no WebSocket URL", async () => {
    const plain = new WebSocket(`${base}/moved`, { http2: agent, ca: tls.cert });
    expect((await errorOf(plain)).message).toBe("Unexpected server response: 302");
    const looping = new WebSocket(`${base}/loop`, {
      http2: agent,
      ca: tls.cert,
      followRedirects: true,
      maxRedirects: 2,
    });
    expect((await errorOf(looping)).message).toBe("Maximum redirects exceeded");
    expect(looping._redirects).toBe(3);
    expect(server.streams.filter((r) => r.headers[":path"] === "/loop").length).toBeGreaterThanOrEqual(3);
    const nowhere = new WebSocket(`${base}/nowhere`, { http2: agent, ca: tls.cert, followRedirects: true });
    const nowhereClosed = closed(nowhere);
    expect((await errorOf(nowhere)).name).toBe("SyntaxError");
    expect((await nowhereClosed).code).toBe(1006);
  });

  it("follows a redirect to another origin on that origin's session, dropping Authorization", async () => {
    const other = await foreignServer(tls);
    server.streams.length = 0;
    try {
      const target = `wss://localhost:${other.port}/there`;
      const elsewhere = await foreignServer(tls, { routes: { "/go": { status: 302, location: target } } });
      try {
        const ws = new WebSocket(`wss://localhost:${elsewhere.port}/go`, {
          http2: agent,
          ca: tls.cert,
          followRedirects: true,
          headers: { Authorization: "Bearer secret", "X-Kept": "yes" },
        });
        await within(
          new Promise<void>(
            (resolve, reject) => (ws.once("open", () => resolve()), ws.once("error", reject)),
          ),
          5000,
          "open",
        );
        expect(ws.url).toBe(target);
        const there = other.streams[0];
        expect([there.headers[":path"], there.headers.authorization, there.headers["x-kept"]]).toEqual([
          "/there",
          undefined,
          "yes",
        ]);
        ws.close();
        await closed(ws);
      } finally {
        await elsewhere.close();
      }
    } finally {
      await other.close();
    }
  });

  it("retries once on a fresh session a stream refused by a GOAWAY race (REFUSED_STREAM, unprocessed)", async () => {
    const racing = await foreignServer(tls);
    // The first session's second stream: the server goes away below it, as if it had been closing already.
    let refused = 0;
    racing.server.prependListener("stream", (stream, headers) => {
      const session = stream.session!;
      if (headers[":path"] !== "/second" || session !== racing.sessions[0] || refused > 0) return;
      refused++;
      stream.on("error", () => {});
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id! - 2);
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    });
    const own = new Http2Agent({ idleTimeout: 0 });
    try {
      const url = `wss://localhost:${racing.port}`;
      const first = await open(`${url}/first`, { http2: own });
      const second = await open(`${url}/second`, { http2: own });
      expect(refused).toBe(1);
      expect(racing.sessions.length).toBe(2);
      const records = racing.streams.filter((r) => r.headers[":path"] === "/second");
      expect(records.map((r) => r.session === racing.sessions[1])).toEqual([true]);
      second.send("on the fresh session");
      expect((await nextMessage(second))[0].toString()).toBe("on the fresh session");
      first.send("the first goes on");
      expect((await nextMessage(first))[0].toString()).toBe("the first goes on");
      for (const ws of [first, second]) ws.terminate();
    } finally {
      own.close(true);
      await racing.close();
    }
  });

  it("refuses bad http2 options with a TypeError saying what to change", () => {
    expect(() => new WebSocket(`${base}/`, { http2: "yes" as never })).toThrow(/http2 must be true/);
    expect(() => new WebSocket(`${base}/`, { http2: true, protocolVersion: 8 })).toThrow(/version 13/);
    expect(() => new WebSocket("ws+unix:/tmp/x.sock:/p", { http2: true })).toThrow(/not ws\+unix/);
    expect(() => new WebSocket(`${base}/`, { http2: true, http2Fallback: "h3" as never })).toThrow(
      /http2Fallback/,
    );
    expect(() => new Http2Agent({ idleTimeout: -1 })).toThrow(RangeError);
  });
});

describe("ws:// over HTTP/2 (h2c with prior knowledge)", () => {
  it("opens on an h2c session and echoes", async () => {
    const server = await foreignServer(tls, { h2c: true });
    const agent = new Http2Agent({ idleTimeout: 0 });
    try {
      const ws = await open(`ws://127.0.0.1:${server.port}/plain`, { http2: agent });
      expect(server.streams[0].headers).toMatchObject({ ":scheme": "http", ":protocol": "websocket" });
      ws.send(pattern(100_000));
      expect((await nextMessage(ws))[0].equals(pattern(100_000))).toBe(true);
      ws.close();
      expect((await closed(ws)).wasClean).toBe(true);
    } finally {
      agent.close(true);
      await server.close();
    }
  });
});

describe("falling back to HTTP/1.1", () => {
  it("upgrades over HTTP/1.1 when the server's SETTINGS lack ENABLE_CONNECT_PROTOCOL", async () => {
    const server = await foreignServer(tls, { enableConnectProtocol: false });
    const wss = new WSServer({ noServer: true });
    const upgrades: string[] = [];
    server.server.on("upgrade", (request, socket, head) => {
      upgrades.push(`${request.httpVersion} ${request.url}`);
      wss.handleUpgrade(request, socket, head, (ws) => ws.on("message", (d, b) => ws.send(d, { binary: b })));
    });
    const agent = new Http2Agent({ idleTimeout: 0 });
    try {
      const ws = await open(`wss://localhost:${server.port}/fallback`, { http2: agent });
      expect(upgrades).toEqual(["1.1 /fallback"]);
      expect(server.streams).toEqual([]);
      expect(ws._socket).not.toBeNull();
      ws.send(pattern(70_000));
      expect((await nextMessage(ws))[0].equals(pattern(70_000))).toBe(true);
      ws.close();
      expect((await closed(ws)).wasClean).toBe(true);

      const strict = new WebSocket(`wss://localhost:${server.port}/strict`, {
        http2: agent,
        http2Fallback: "error",
        ca: tls.cert,
      });
      const strictClosed = closed(strict);
      expect((await errorOf(strict)).message).toMatch(/do not enable the extended CONNECT/);
      expect((await strictClosed).code).toBe(1006);
      expect(upgrades).toEqual(["1.1 /fallback"]);
    } finally {
      agent.close(true);
      wss.close();
      await server.close();
    }
  });

  it("upgrades over HTTP/1.1 when the server does not choose h2 by ALPN", async () => {
    const server = https.createServer(tls);
    const wss = new WSServer({ server });
    wss.on("connection", (ws, request) => ws.send(`HTTP/${request.httpVersion}`));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `wss://localhost:${(server.address() as AddressInfo).port}/`;
    try {
      const ws = new WebSocket(url, { http2: true, ca: tls.cert });
      const [data] = await nextMessage(ws);
      expect(data.toString()).toBe("HTTP/1.1");
      ws.close();
      await closed(ws);
      const strict = new WebSocket(url, { http2: true, http2Fallback: "error", ca: tls.cert });
      const strictClosed = closed(strict);
      expect((await errorOf(strict)).message).toMatch(/chose http\/1\.1 by ALPN, not h2/);
      expect((await strictClosed).code).toBe(1006);
    } finally {
      wss.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
