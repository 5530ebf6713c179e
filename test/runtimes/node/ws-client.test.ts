// The Node client as ws's own suite specifies it (ws 8.21, test/websocket.test.js), where a user switching
// from ws would notice: the request made by the constructor, redirects, responses the application takes,
// aborting while connecting, the order and number of 'error' events, Blob sends cut short, `_socket` reads,
// protocolVersion, permessage-deflate offered by default.
import { once } from "node:events";
import { openAsBlob, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createWebSocketStream, WebSocket, WebSocketServer } from "../../../runtimes/node/index.js";
import { frame, switchingProtocols } from "../../support/raw-client.js";
import { listen, within } from "./peers.js";

const sockets = new WeakMap<http.Server, Set<Socket>>();

/** An http server on 127.0.0.1 whose sockets (upgraded ones too) `closeServer` ends. */
async function httpServer(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer();
  const open = new Set<Socket>();
  sockets.set(server, open);
  server.on("connection", (socket: Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

const closeServer = (server: http.Server) => {
  for (const socket of sockets.get(server) ?? []) socket.destroy();
  return within(new Promise((resolve) => server.close(resolve)), 5000, "the http server closing");
};

/** Records a client's ws-style events, in order, as "name" or "name:detail". */
function record(ws: WebSocket): string[] {
  const seen: string[] = [];
  ws.on("open", () => seen.push("open"));
  ws.on("error", (error) => seen.push(`error:${error.message}`));
  ws.on("close", (code) => seen.push(`close:${code}`));
  return seen;
}

/** The close event (events.once would reject at an 'error' before it): listened to from the start. */
const closed = (ws: WebSocket) => {
  const event = new Promise<number>((resolve) => ws.once("close", resolve));
  event.catch(() => {});
  return () => within(event, 5000, "close event");
};

describe("the Node client's request, as ws makes it", () => {
  it("is made before the constructor returns (`_req`, a custom agent); the open socket is `_socket`", async () => {
    const agent = new http.Agent();
    const seen: http.ClientRequest[] = [];
    // What ws's suite does to see the request without a server: node:http hands it to the agent.
    (agent as unknown as { addRequest(request: http.ClientRequest): void }).addRequest = (request) =>
      void seen.push(request);
    const held = new WebSocket("ws://127.0.0.1:1/", { agent });
    expect(seen).toHaveLength(1);
    expect(held._req).toBe(seen[0]);
    held.on("error", () => {});
    held.terminate();

    const { wss, url } = await listen();
    const ws = new WebSocket(url);
    const wsClosed = closed(ws);
    expect(ws._req).toBeInstanceOf(http.ClientRequest);
    expect(ws._socket).toBeNull();
    await within(once(ws, "open"), 5000, "open");
    expect(ws._req).toBeNull();
    expect(ws._socket!.remoteAddress).toBe("127.0.0.1");
    ws.close();
    await wsClosed();
    await wss.close();
  });

  it("says the Node versions ws speaks: RangeError for others, version 8 with Sec-WebSocket-Origin", async () => {
    expect(() => new WebSocket("ws://127.0.0.1:1/", { protocolVersion: 7 })).toThrow(
      new RangeError("Unsupported protocol version: 7 (supported versions: 8, 13)"),
    );
    const { wss, url } = await listen();
    const headers = new Promise<http.IncomingHttpHeaders>((resolve) =>
      wss.once("connection", (_ws, req) => resolve(req.headers)),
    );
    const ws = new WebSocket(url, { protocolVersion: 8, origin: "https://example.com" });
    const wsClosed = closed(ws);
    const seen = await within(headers, 5000, "connection");
    expect([seen["sec-websocket-version"], seen["sec-websocket-origin"], seen.origin]).toEqual([
      "8",
      "https://example.com",
      undefined,
    ]);
    ws.close();
    await wsClosed();
    await wss.close();
  });
});

describe("redirects (followRedirects), as ws follows them", () => {
  /** An http server that answers every upgrade with a 302 to `location`. */
  async function redirector(location: (port: number) => string) {
    const { server, port } = await httpServer();
    server.on("upgrade", (_req, socket) =>
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location(port)}\r\n\r\n`),
    );
    return { server, port };
  }

  it("drops Authorization and Cookie for another host, reports the new url, opens and closes cleanly", async () => {
    const { wss, port: target } = await listen();
    const { server, port } = await redirector(() => `ws://127.0.0.1:${target}/next`);
    const seenHeaders = new Promise<http.IncomingHttpHeaders>((resolve) =>
      wss.once("connection", (ws, req) => {
        resolve(req.headers);
        ws.close();
      }),
    );
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
      followRedirects: true,
      headers: { Authorization: "Basic Zm9vOmJhcg==", Cookie: "a=b", "X-Kept": "yes" },
    });
    const wsClosed = closed(ws);
    const events = record(ws);
    const headers = await within(seenHeaders, 5000, "connection after the redirect");
    expect([headers.authorization, headers.cookie, headers["x-kept"]]).toEqual([undefined, undefined, "yes"]);
    await wsClosed();
    expect(ws.url).toBe(`ws://127.0.0.1:${target}/next`);
    expect(ws._redirects).toBe(1);
    expect(events).toEqual(["open", "close:1005"]);
    await closeServer(server);
    await wss.close();
  });

  it("emits 'redirect' with the new request before it is sent: a listener may still change its headers", async () => {
    const { wss, port: target } = await listen();
    const { server, port } = await redirector(() => `ws://127.0.0.1:${target}/`);
    const seenHeaders = new Promise<http.IncomingHttpHeaders>((resolve) =>
      wss.once("connection", (ws, req) => {
        resolve(req.headers);
        ws.close();
      }),
    );
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
      followRedirects: true,
      headers: { Cookie: "a=b", "X-Dropped": "by the listener" },
    });
    const wsClosed = closed(ws);
    const first = ws._req;
    ws.on("redirect", (url, request) => {
      expect(url).toBe(`ws://127.0.0.1:${target}/`);
      expect(request).not.toBe(first);
      expect((request as http.ClientRequest).getHeader("cookie")).toBe("a=b"); // a listener decides
      (request as http.ClientRequest).removeHeader("x-dropped");
    });
    const headers = await within(seenHeaders, 5000, "connection after the redirect");
    expect([headers.cookie, headers["x-dropped"]]).toEqual(["a=b", undefined]);
    await wsClosed();
    await closeServer(server);
    await wss.close();
  });
});

describe("ending a connection that is not open, as ws does", () => {
  it("leaves an 'unexpected-response' the application took to it: nothing more until it closes", async () => {
    const { server, port } = await httpServer();
    const serverSockets: Socket[] = [];
    server.on("upgrade", (_req, socket: Socket) => {
      serverSockets.push(socket);
      socket.on("end", () => socket.end());
      socket.write("HTTP/1.1 502 Bad Gateway\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nfoo");
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const wsClosed = closed(ws);
    const events = record(ws);
    const body = new Promise<string>((resolve) =>
      ws.on("unexpected-response", (_request, response) => {
        const res = response as http.IncomingMessage;
        let text = "";
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolve(text));
      }),
    );
    expect(await within(body, 5000, "the 502's body")).toBe("foo");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual([]);
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    ws.close();
    await wsClosed();
    expect(events).toEqual([
      "error:WebSocket was closed before the connection was established",
      "close:1006",
    ]);
    // The keep-alive socket the response left behind is gone too (ws destroys it).
    await within(
      Promise.all(serverSockets.map((socket) => (socket.destroyed ? null : once(socket, "close")))),
      5000,
      "the response's socket closing",
    );
    await closeServer(server);
  });

  it("aborts the handshake on terminate() while connecting, with ws's error then 'close'", async () => {
    const { wss, url } = await listen();
    const ws = new WebSocket(url);
    const wsClosed = closed(ws);
    const events = record(ws);
    ws.terminate();
    await wsClosed();
    expect(events).toEqual([
      "error:WebSocket was closed before the connection was established",
      "close:1006",
    ]);
    await wss.close();
  });

  it("fails a bad 101 at once (CLOSING, socket destroyed) and emits its error a tick later, then 'close'", async () => {
    const { server, port } = await httpServer();
    server.on("upgrade", (_req, socket) =>
      socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n"),
    );
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const wsClosed = closed(ws);
    const events = record(ws);
    let after: [number, string[]] | undefined;
    ws.on("upgrade", () => process.nextTick(() => (after = [ws.readyState, [...events]])));
    await wsClosed();
    expect(after).toEqual([WebSocket.CLOSING, []]);
    expect(events).toEqual(["error:Invalid Upgrade header", "close:1006"]);
    await closeServer(server);
  });
});

describe("errors, as ws reports them", () => {
  it("emits one 'error' per connection: a failing Blob read after a protocol error goes to its callback only", async () => {
    const file = join(tmpdir(), `wasmsocket-blob-${process.pid}-${Date.now()}.txt`);
    writeFileSync(file, "x".repeat(64));
    const blob = await openAsBlob(file);
    writeFileSync(file, "x".repeat(32)); // changed since: reading the Blob fails (NotReadableError)
    // A raw server: the 101, then a frame with a reserved opcode in the same write, then silence.
    const { server, port } = await httpServer();
    server.on("upgrade", (req, socket) => {
      socket.on("error", () => {});
      socket.write(switchingProtocols(`Sec-WebSocket-Key: ${req.headers["sec-websocket-key"]}\r\n`));
      socket.write(frame(5, "", { mask: false }));
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const wsClosed = closed(ws);
    const errors: Error[] = [];
    ws.on("error", (error) => errors.push(error));
    const sent = new Promise<Error | undefined>((resolve) => ws.on("open", () => ws.send(blob, resolve)));
    const sendError = await within(sent, 5000, "the Blob send's callback");
    expect(sendError).toBeInstanceOf(DOMException);
    expect(sendError!.name).toBe("NotReadableError");
    expect(errors.map((e) => e.message)).toEqual(["Invalid WebSocket frame: invalid opcode 5"]);
    ws.terminate();
    await wsClosed();
    rmSync(file);
    await closeServer(server);
  });

  it("gives sends held behind a Blob ws's error when the connection ends while it is read", async () => {
    const { wss, url } = await listen();
    const ws = new WebSocket(url);
    const wsClosed = closed(ws);
    await within(once(ws, "open"), 5000, "open");
    const results: Array<[number, string | undefined]> = [];
    ws.send(new Blob(["foo"]), (error) => results.push([ws.readyState, error?.message]));
    ws.send("bar");
    ws.send("baz", (error) => results.push([ws.readyState, error?.message]));
    ws.terminate();
    await wsClosed();
    const message = "The socket was closed while the blob was being read";
    expect(results).toEqual([
      [WebSocket.CLOSING, message],
      [WebSocket.CLOSING, message],
    ]);
    await wss.close();
  });
});

describe("ws's client API details", () => {
  it("sends an empty binary message for send() without data, and counts what is sent once closed", async () => {
    const { wss, url } = await listen();
    const received = new Promise<[number, boolean]>((resolve) =>
      wss.once("connection", (conn) =>
        conn.once("message", (data, isBinary) => resolve([(data as Buffer).length, isBinary])),
      ),
    );
    const ws = new WebSocket(url);
    const wsClosed = closed(ws);
    await within(once(ws, "open"), 5000, "open");
    ws.send();
    expect(await within(received, 5000, "message")).toEqual([0, true]);
    ws.close();
    await wsClosed();
    ws.send("hi");
    ws.ping("hi");
    ws.pong(new Blob(["hi"]) as unknown as string);
    ws.send();
    expect(ws.bufferedAmount).toBe(6);
    await wss.close();
  });

  it("sends a message given as a list of chunks (RawData of binaryType 'fragments') as one message", async () => {
    const { wss, url } = await listen();
    const echoed = new Promise<Buffer>((resolve) =>
      wss.once("connection", (conn) => {
        conn.send([Buffer.from("ab"), Buffer.from("cd")]);
        conn.once("message", (data) => resolve(data as Buffer));
      }),
    );
    const ws = new WebSocket(url);
    const wsClosed = closed(ws);
    ws.binaryType = "fragments";
    ws.once("message", (data) => ws.send(data));
    expect((await within(echoed, 5000, "the echo")).toString()).toBe("abcd");
    ws.close();
    await wsClosed();
    await wss.close();
  });

  it("masks each frame with the key generateMask leaves in its buffer (zeros: the payload goes in clear)", async () => {
    const { wss, url } = await listen();
    const raw: Buffer[] = [];
    const got = new Promise<string[]>((resolve) =>
      wss.once("connection", (conn) => {
        conn._socket.prependListener("data", (chunk: Buffer) => raw.push(chunk));
        const seen: string[] = [];
        conn.on("message", (data) => seen.push(`message:${String(data)}`));
        conn.on("ping", (data) => seen.push(`ping:${String(data)}`));
        conn.on("close", () => resolve(seen));
      }),
    );
    const keys = [
      [0, 0, 0, 0],
      [1, 2, 3, 4],
      [0xf0, 0x0f, 0xff, 0x80],
    ];
    const given: number[][] = [];
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      generateMask(mask) {
        given.push([...mask]);
        // The first frame leaves the buffer as it came (zeros, as ws's), the later ones fill it.
        if (given.length > 1) mask.set(keys[given.length - 1]);
      },
    });
    const wsClosed = closed(ws);
    await within(once(ws, "open"), 5000, "open");
    ws.send(Buffer.from("abc"));
    ws.ping("hi");
    ws.close(1000);
    expect(await within(got, 5000, "the server's events")).toEqual(["message:abc", "ping:hi"]);
    await wsClosed();
    // Called once per frame, each time with the buffer as the last call left it.
    expect(given).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [1, 2, 3, 4],
    ]);
    const wire = Buffer.concat(raw);
    const mask = (bytes: number[], key: number[]) => bytes.map((b, i) => b ^ key[i % 4]);
    expect([...wire]).toEqual([
      ...[0x82, 0x83, ...keys[0], ...Buffer.from("abc")],
      ...[0x89, 0x82, ...keys[1], ...mask([...Buffer.from("hi")], keys[1])],
      ...[0x88, 0x82, ...keys[2], ...mask([0x03, 0xe8], keys[2])],
    ]);
    await wss.close();
  });

  it("answers no ping with autoPong: false (the 'ping' event still comes)", async () => {
    const { wss, url } = await listen();
    const pongs: unknown[] = [];
    wss.on("connection", (conn) => {
      conn.on("pong", (data) => pongs.push(data));
      conn.ping("x");
    });
    const ws = new WebSocket(url, { autoPong: false });
    const wsClosed = closed(ws);
    await within(once(ws, "ping"), 5000, "ping");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pongs).toEqual([]);
    ws.close();
    await wsClosed();
    await wss.close();
  });

  it("lets 'data' listeners on `_socket` see what both ends read, frames that came with the 101 included", async () => {
    const { wss, url } = await listen();
    const serverReads = new Promise<Buffer>((resolve) =>
      wss.once("connection", (conn) => {
        conn._socket.once("data", resolve);
        conn.close(); // written with the 101: the client reads it with the response
      }),
    );
    const ws = new WebSocket(url);
    const wsClosed = closed(ws);
    const clientReads = new Promise<Buffer>((resolve) =>
      ws.on("open", () => ws._socket!.once("data", resolve)),
    );
    expect([...(await within(clientReads, 5000, "the client's read"))]).toEqual([0x88, 0x00]);
    expect([...(await within(serverReads, 5000, "the server's read")).subarray(0, 2)]).toEqual([0x88, 0x80]);
    await wsClosed();
    await wss.close();
  });

  it("offers permessage-deflate by default, as ws's client does", async () => {
    const { wss, url } = await listen({ perMessageDeflate: true });
    const ws = new WebSocket(url);
    const wsClosed = closed(ws);
    await within(once(ws, "open"), 5000, "open");
    expect(ws.extensions).toBe("permessage-deflate");
    ws.close();
    await wsClosed();
    const plain = new WebSocket(url, { perMessageDeflate: false });
    const plainClosed = closed(plain);
    await within(once(plain, "open"), 5000, "open");
    expect(plain.extensions).toBe("");
    plain.close();
    await plainClosed();
    await wss.close();
  });

  it("judges a response only by the header fields node:http reported (`_req.maxHeadersCount`)", async () => {
    const { server, port } = await httpServer();
    server.on("upgrade", (_req, socket) => {
      socket.on("end", () => socket.end());
      socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const wsClosed = closed(ws);
    ws._req!.maxHeadersCount = 1;
    const events = record(ws);
    await wsClosed();
    expect(events).toEqual(["error:Invalid Upgrade header", "close:1006"]);
    await closeServer(server);
  });
});

describe("createWebSocketStream, as ws's", () => {
  it("closes once both sides are done, when the close ends the readable side first", async () => {
    const { wss, url } = await listen();
    wss.on("connection", (conn) => conn.send(new Uint8Array(16 * 1024)));
    const ws = new WebSocket(url);
    const wsClosed = closed(ws);
    const duplex = createWebSocketStream(ws);
    await within(once(ws, "message"), 5000, "message");
    duplex.end();
    process.nextTick(() => duplex.resume());
    await within(once(duplex, "close"), 5000, "the stream's close");
    await wss.close();
  });

  it("ends a connection that never opened by its handshake error, after _final and with no 'finish'", async () => {
    const { server, port } = await httpServer();
    server.on("upgrade", (_req, socket) => {
      socket.on("end", () => socket.end());
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: foo\r\n\r\n",
      );
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const wsClosed = closed(ws);
    const duplex = createWebSocketStream(ws);
    const seen: string[] = [];
    // As ws's suite watches it: _final runs (the connection CLOSING, its error not yet emitted), and never
    // calls back.
    const final = duplex._final!;
    duplex._final = (callback) => {
      seen.push(`final:${ws.readyState}`);
      final.call(duplex, callback);
    };
    duplex.on("error", (error) => seen.push(`error:${error.message}`));
    duplex.on("finish", () => seen.push("finish"));
    ws.on("upgrade", () => process.nextTick(() => duplex.end()));
    await within(new Promise((resolve) => duplex.once("close", resolve)), 5000, "the stream's close");
    expect(seen).toEqual([`final:${WebSocket.CLOSING}`, "error:Invalid Sec-WebSocket-Accept header"]);
    await closeServer(server);
  });
});

describe("WebSocketServer reads in place, as ws's server reads", () => {
  it("judges an attached request only by the header fields node:http reported (`maxHeadersCount`)", async () => {
    const { server, port } = await httpServer();
    server.maxHeadersCount = 1;
    const wss = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head, () => {}));
    const answer = await new Promise<[number, string]>((resolve, reject) => {
      const request = http.get({
        host: "127.0.0.1",
        port,
        headers: { foo: "bar", Connection: "Upgrade", Upgrade: "websocket" },
      });
      request.on("response", (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve([res.statusCode ?? 0, body]));
      });
      request.on("error", reject);
    });
    expect(answer).toEqual([400, "Invalid Upgrade header"]);
    await wss.close();
    await closeServer(server);
  });
});
