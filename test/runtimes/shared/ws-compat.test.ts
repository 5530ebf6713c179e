// The server answers as ws's does where ws's own test suite (the spec of the server API) says so, on
// Node and Bun alike: subprotocol choice, refusals (status, body, headers), verifyClient's refusal headers,
// hybi-08 requests, the 'headers' event, clientTracking, autoPong, bufferedAmount once closing.
import { frame, RawClient, upgradeRequest, within } from "../../support/raw-client.js";
import {
  describe,
  expect,
  host,
  it,
  listen,
  nextEvent,
  nextMessage,
  openClient,
  runtime,
  type ServerConnection,
  type WebSocket,
} from "./harness.js";

const Op = { Text: 1, Ping: 9, Pong: 10 } as const;

/** The whole response (head and body) the server answers `request` with. */
async function responseTo(
  port: number,
  request: string,
): Promise<{ status: number; head: string; body: string }> {
  const raw = await RawClient.connect(port);
  raw.write(request);
  const head = await raw.readHead();
  const body = (await raw.readAll()).toString();
  raw.destroy();
  return { status: Number(head.split(" ")[1]), head, body };
}

describe(`server on ${runtime}: ws's handshake answers`, () => {
  it("chooses the client's first offered subprotocol when neither protocols nor handleProtocols is set", async () => {
    const { wss, port } = await listen();
    const connected = new Promise<ServerConnection>((resolve) => wss.once("connection", resolve));
    const raw = await RawClient.open(port, "/", "Sec-WebSocket-Protocol: foo, bar\r\n");
    expect((await connected).protocol).toBe("foo");
    raw.destroy();
    await wss.close();
  });

  it("refuses an invalid Sec-WebSocket-Protocol list with 400 and says why", async () => {
    const { wss, port } = await listen();
    let connected = false;
    wss.on("connection", () => (connected = true));
    const answer = await responseTo(port, upgradeRequest(port, "/", "Sec-WebSocket-Protocol: foo;bar\r\n"));
    expect([answer.status, answer.body]).toEqual([400, "Invalid Sec-WebSocket-Protocol header"]);
    expect(connected).toBe(false);
    await wss.close();
  });

  it("refuses a malformed permessage-deflate offer with 400 when deflate is on", async () => {
    const { wss, port } = await listen({ perMessageDeflate: true });
    const offer = "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=foo\r\n";
    const answer = await responseTo(port, upgradeRequest(port, "/", offer));
    expect([answer.status, answer.body]).toEqual([
      400,
      "Invalid or unacceptable Sec-WebSocket-Extensions header",
    ]);
    await wss.close();
  });

  it("says what was wrong: 426 to plain HTTP, 400 off path, the key and version rules in ws's words", async () => {
    const { wss, port } = await listen({ path: "/chat" });
    const plain = await responseTo(port, `GET /chat HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect([plain.status, plain.body]).toEqual([426, "Upgrade Required"]);
    expect((await responseTo(port, upgradeRequest(port, "/other"))).status).toBe(400);
    const key = await responseTo(
      port,
      upgradeRequest(port, "/chat").replace("dGhlIHNhbXBsZSBub25jZQ==", "x"),
    );
    expect([key.status, key.body]).toEqual([400, "Missing or invalid Sec-WebSocket-Key header"]);
    const version = await responseTo(
      port,
      upgradeRequest(port, "/chat").replace("Version: 13", "Version: 7"),
    );
    expect([version.status, version.body]).toEqual([400, "Missing or invalid Sec-WebSocket-Version header"]);
    expect(version.head).toContain("\r\nSec-WebSocket-Version: 13, 8\r\n");
    const method = await responseTo(port, upgradeRequest(port, "/chat").replace("GET", "POST"));
    expect([method.status, method.body]).toEqual([405, "Invalid HTTP method"]);
    await wss.close();
  });

  it("takes a version-8 request to verifyClient, whose cb(false, code, message, headers) is answered as given", async () => {
    const seen: string[] = [];
    const { wss, port } = await listen({
      verifyClient: (info, cb) => {
        seen.push(info.origin);
        cb(false, 503, "come back later", { "Retry-After": 120 });
      },
    });
    const request = upgradeRequest(port, "/", "Sec-WebSocket-Origin: http://example.com\r\n");
    const answer = await responseTo(port, request.replace("Version: 13", "Version: 8"));
    expect([answer.status, answer.body]).toEqual([503, "come back later"]);
    expect(answer.head).toContain("\r\nRetry-After: 120\r\n");
    expect(seen).toEqual(["http://example.com"]);
    await wss.close();
  });

  it("hands 'headers' the 101's lines and writes them as the listener left them", async () => {
    const { wss, port } = await listen();
    wss.on("headers", (headers) => {
      expect(headers.slice(0, 3)).toEqual([
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
      ]);
      headers.push("Set-Cookie: a=1");
    });
    const raw = await RawClient.connect(port);
    raw.write(upgradeRequest(port));
    const head = await raw.readHead();
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(head).toContain("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
    expect(head).toContain("\r\nSet-Cookie: a=1\r\n\r\n");
    raw.destroy();
    await wss.close();
  });
});

describe(`server on ${runtime}: ws's options`, () => {
  it("has no clients set with clientTracking: false, and still closes its connections", async () => {
    const { wss, port } = await listen({ clientTracking: false });
    expect(wss.clients).toBeUndefined();
    const connected = new Promise((resolve) => wss.once("connection", resolve));
    const raw = await RawClient.open(port);
    await connected;
    const closed = wss.close();
    expect((await raw.readFrame()).opcode).toBe(8);
    raw.destroy();
    await closed;
  });

  it("answers no ping with autoPong: false (the app sees the ping)", async () => {
    const { wss, port } = await listen({ autoPong: false });
    const pinged = new Promise<void>((resolve) =>
      wss.on("connection", (ws) => {
        ws.on("ping", () => resolve());
        ws.on("message", (data) => ws.send(data.toString()));
      }),
    );
    const raw = await RawClient.open(port);
    raw.write(frame(Op.Ping, "hi"));
    await pinged;
    raw.write(frame(Op.Text, "after"));
    const next = await raw.readFrame();
    expect([next.opcode, next.payload.toString()]).toEqual([Op.Text, "after"]);
    raw.destroy();
    await wss.close();
  });

  it("does not count its close frame in bufferedAmount; sends once closing count as ws counts them", async () => {
    const { wss, port } = await listen();
    const amounts = new Promise<number[]>((resolve) =>
      wss.on("connection", (ws) => {
        ws.close();
        const afterClose = ws.bufferedAmount;
        ws.ping("hi");
        resolve([afterClose, ws.bufferedAmount]);
      }),
    );
    const raw = await RawClient.open(port);
    expect(await amounts).toEqual([0, 2]);
    raw.destroy();
    await wss.close();
  });

  it("counts what the kernel has not taken: a tick's sends (compressed or not) go to the socket when bufferedAmount is read", async () => {
    const { wss, url } = await listen({ perMessageDeflate: true });
    const server = new Promise<number[]>((resolve) =>
      wss.on("connection", (ws) => {
        const amounts: number[] = [];
        ws.send("héllo");
        amounts.push(ws.bufferedAmount);
        wss.broadcast(new Uint8Array(10)); // a frame made once for everyone
        amounts.push(ws.bufferedAmount);
        ws.ping("hi", undefined, () => resolve([...amounts, ws.bufferedAmount]));
        amounts.push(ws.bufferedAmount);
      }),
    );
    const ws = new host.WebSocket(url, [], { perMessageDeflate: { threshold: 0 } });
    const client = new Promise<number[]>((resolve) =>
      ws.on("open", () => {
        const amounts: number[] = [];
        ws.send("foo"); // compressed, in send() itself (a short message)
        amounts.push(ws.bufferedAmount);
        ws.send(new Uint8Array(300).fill(1), (error) => {
          expect(error).toBeUndefined();
          resolve([...amounts, ws.bufferedAmount]);
        });
        amounts.push(ws.bufferedAmount);
      }),
    );
    // A few bytes on a fresh loopback connection: the kernel takes them at once, as in ws's own test.
    expect(await within(server, 5000, "the server's sends")).toEqual([0, 0, 0, 0]);
    expect(await within(client, 5000, "the client's sends")).toEqual([0, 0, 0]);
    ws.close();
    await wss.close();
  });

  it("counts a Blob being read, and the sends behind it, as given (their data, no headers) until written", async () => {
    const { wss, port } = await listen();
    const amounts = new Promise<number[]>((resolve) =>
      wss.on("connection", (ws) => {
        const seen: number[] = [];
        ws.send(new Blob([new Uint8Array(10)]));
        seen.push(ws.bufferedAmount);
        ws.send("héllo", () => resolve([...seen, ws.bufferedAmount]));
        seen.push(ws.bufferedAmount);
      }),
    );
    const raw = await RawClient.open(port);
    expect(await within(amounts, 5000, "the sends' callback")).toEqual([10, 16, 0]);
    raw.destroy();
    await wss.close();
  });

  it("sends every message of a loop guarded by bufferedAmount to a peer that reads them, both ways, as ws does", async () => {
    // The slow-consumer guard of a broadcast loop (`if (ws.bufferedAmount < limit) ws.send(...)`): 100 KiB
    // in one tick against a 64 KiB limit. Counting a tick's own sends (not handed to the socket until the
    // end of the tick) stopped it at 64 for a peer that reads everything.
    const COUNT = 100;
    const LIMIT = 64 * 1024;
    const payload = new Uint8Array(1024).fill(61);
    const guarded = (ws: { readonly bufferedAmount: number; send(data: Uint8Array): void }): number => {
      let sent = 0;
      for (let i = 0; i < COUNT; i++) {
        if (ws.bufferedAmount >= LIMIT) continue;
        ws.send(payload);
        sent++;
      }
      return sent;
    };
    const counted = (ws: { on(event: "message", listener: () => void): unknown }): Promise<void> =>
      new Promise((resolve) => {
        let received = 0;
        ws.on("message", () => {
          if (++received === COUNT) resolve();
        });
      });
    const { wss, url } = await listen();
    const server = new Promise<{ sent: number; received: Promise<void> }>((resolve) =>
      wss.on("connection", (conn) => {
        const received = counted(conn);
        resolve({ sent: guarded(conn), received });
      }),
    );
    const ws = new host.WebSocket(url);
    const clientReceived = counted(ws);
    const clientSent = new Promise<number>((resolve) => ws.on("open", () => resolve(guarded(ws))));
    const { sent: serverSent, received: serverReceived } = await within(server, 5000, "the connection");
    expect([serverSent, await within(clientSent, 5000, "the client's open")]).toEqual([COUNT, COUNT]);
    await within(Promise.all([clientReceived, serverReceived]), 5000, "every message on both ends");
    ws.close();
    await wss.close();
  });

  it("terminate() right after send() still hands the message to the socket, as ws's: the peer gets it, the callback no error", async () => {
    const { wss, url } = await listen();
    // The server's side: send, then terminate, in the connection event.
    const serverCallback = new Promise<unknown>((resolve) =>
      wss.once("connection", (conn) => {
        conn.send("bye from the server", resolve);
        conn.terminate();
      }),
    );
    const first = new host.WebSocket(url);
    const firstReceived: string[] = [];
    first.on("message", (data) => firstReceived.push(String(data)));
    await within(new Promise((resolve) => first.on("close", resolve)), 5000, "the first client's close");
    expect(firstReceived).toEqual(["bye from the server"]);
    expect(await within(serverCallback, 5000, "the server's send callback")).toBeUndefined();
    // The client's side: send, then terminate, in the open event.
    const serverReceived = new Promise<string[]>((resolve) =>
      wss.once("connection", (conn) => {
        const received: string[] = [];
        conn.on("message", (data) => received.push(String(data)));
        conn.on("close", () => resolve(received));
      }),
    );
    const second = new host.WebSocket(url);
    const clientCallback = new Promise<unknown>((resolve) =>
      second.on("open", () => {
        second.send("bye from the client", resolve);
        second.terminate();
      }),
    );
    expect(await within(serverReceived, 5000, "the server's close")).toEqual(["bye from the client"]);
    expect(await within(clientCallback, 5000, "the client's send callback")).toBeUndefined();
    await wss.close();
  });

  it("gives one shared empty Buffer (EMPTY_BUFFER) for empty messages, pings and close reasons, as ws does", async () => {
    const { wss, url } = await listen();
    const server = new Promise<unknown[]>((resolve) =>
      wss.on("connection", (conn) => {
        const seen: unknown[] = [];
        conn.on("message", (data) => seen.push(data));
        conn.on("ping", (data) => seen.push(data));
        conn.on("close", (_code, reason) => resolve([...seen, reason]));
        conn.send("");
        conn.ping();
      }),
    );
    const ws = new host.WebSocket(url);
    const client: unknown[] = [];
    ws.on("message", (data) => client.push(data));
    ws.on("ping", (data) => {
      client.push(data);
      ws.send(new Uint8Array(0));
      ws.send("");
      ws.ping();
      ws.close(1000);
    });
    const closed = new Promise<unknown>((resolve) => ws.on("close", (_code, reason) => resolve(reason)));
    const got = await within(server, 5000, "the server's events");
    client.push(await within(closed, 5000, "the client's close"));
    expect(got).toHaveLength(4);
    expect(client).toHaveLength(3);
    for (const data of [...got, ...client]) expect(data).toBe(host.EMPTY_BUFFER);
    expect(host.EMPTY_BUFFER.length).toBe(0);
    await wss.close();
  });

  it("pause() stops message events until resume(), as ws's does", async () => {
    const { wss, port } = await listen();
    const received: string[] = [];
    const paused = new Promise<ServerConnection>((resolve) =>
      wss.on("connection", (ws) => {
        ws.pause();
        ws.on("message", (data) => received.push(data.toString()));
        resolve(ws);
      }),
    );
    const raw = await RawClient.open(port);
    const ws = await paused;
    expect(ws.isPaused).toBe(true);
    raw.write(frame(Op.Text, "held"));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual([]);
    const resumed = new Promise((resolve) => ws.once("message", resolve));
    ws.resume();
    await resumed;
    expect([ws.isPaused, received]).toEqual([false, ["held"]]);
    raw.destroy();
    await wss.close();
  });

  it("takes ping(callback) and pong(callback) as ws does", async () => {
    const { wss, port } = await listen();
    const written = new Promise<unknown[]>((resolve) =>
      wss.on("connection", (ws) => {
        const results: unknown[] = [];
        ws.ping((error?: Error | null) => {
          results.push(error ?? null);
          ws.pong((error?: Error | null) => resolve([...results, error ?? null]));
        });
      }),
    );
    const raw = await RawClient.open(port);
    expect(await written).toEqual([null, null]);
    const ping = await raw.readFrame();
    const pong = await raw.readFrame();
    expect([ping.opcode, ping.payload.length, pong.opcode]).toEqual([Op.Ping, 0, Op.Pong]);
    raw.destroy();
    await wss.close();
  });

  it("emits the Blob reader's own error when a sent Blob cannot be read, as ws does", async () => {
    const { wss, port } = await listen();
    const unreadable = new DOMException("The blob could not be read", "NotReadableError");
    class UnreadableBlob extends Blob {
      override arrayBuffer(): Promise<ArrayBuffer> {
        return Promise.reject(unreadable);
      }
    }
    const failed = new Promise<Error>((resolve) =>
      wss.on("connection", (ws) => {
        ws.on("error", resolve);
        ws.send(new UnreadableBlob(["x".repeat(64)]));
      }),
    );
    const raw = await RawClient.open(port);
    expect(await failed).toBe(unreadable);
    raw.destroy();
    await wss.close();
  });

  it("emits one 'error' per connection, as ws: a Blob that fails after a protocol error tells its callback only", async () => {
    const { wss, port } = await listen();
    const unreadable = new DOMException("The blob could not be read", "NotReadableError");
    class UnreadableBlob extends Blob {
      override arrayBuffer(): Promise<ArrayBuffer> {
        return Promise.reject(unreadable);
      }
    }
    const errors: Error[] = [];
    const sent = new Promise<Error | undefined>((resolve) =>
      wss.on("connection", (ws) => {
        ws.on("error", (error: Error) => errors.push(error));
        ws.send(new UnreadableBlob(["x"]), resolve);
      }),
    );
    // An unmasked frame in the same write as the request: read as soon as the connection opens, before the
    // Blob's read settles.
    const raw = await RawClient.connect(port);
    raw.write(Buffer.concat([Buffer.from(upgradeRequest(port)), frame(Op.Text, "hi", { mask: false })]));
    const sendError = await sent;
    expect(errors.map((error) => error.message)).toEqual(["Invalid WebSocket frame: MASK must be set"]);
    expect(sendError).toBe(unreadable);
    raw.destroy();
    await wss.close();
  });

  it("reports a protocol violation as a RangeError with ws's error code", async () => {
    const { wss, port } = await listen();
    const failed = new Promise<Error & { code?: string; closeCode?: number }>((resolve) =>
      wss.on("connection", (ws) => ws.on("error", resolve)),
    );
    const raw = await RawClient.open(port);
    raw.write(frame(Op.Text, "hi", { mask: false }));
    const error = await failed;
    expect([error instanceof RangeError, error.code, error.closeCode, error.message]).toEqual([
      true,
      "WS_ERR_EXPECTED_MASK",
      1002,
      "Invalid WebSocket frame: MASK must be set",
    ]);
    raw.destroy();
    await wss.close();
  });
});

describe(`server on ${runtime}: the \`WebSocket\` option takes a subclass of the client class, as ws's`, () => {
  /** A subclass as ws's users write one: of the client class (ws has one class for both ends). */
  class Custom extends host.WebSocket {
    get foo(): string {
      return "foo";
    }
  }

  /** The next connection of `wss`, which must be a `Custom`. */
  function connection(wss: { once(event: "connection", listener: (ws: unknown) => void): unknown }) {
    return new Promise<Custom>((resolve, reject) =>
      wss.once("connection", (ws) =>
        ws instanceof Custom ? resolve(ws) : reject(new Error("the connection is not a Custom")),
      ),
    );
  }

  /** A server whose connections are `Custom`s, and a client of ours connected to it. */
  async function served(protocols?: string[]) {
    const { wss, url } = await listen({ WebSocket: Custom });
    const connected = connection(wss);
    const client = await openClient(url, protocols);
    return { wss, url, client, ws: await connected };
  }

  /** The next emitter event `event` of `target`, its arguments. */
  function next(target: unknown, event: string) {
    const emitter = target as { once(event: string, listener: (...args: unknown[]) => void): unknown };
    return new Promise<unknown[]>((resolve) => emitter.once(event, (...args) => resolve(args)));
  }

  it("hands each connection as an instance of the subclass, open, in `clients`", async () => {
    const { wss, client, ws } = await served(["chat"]);
    expect(ws).toBeInstanceOf(Custom);
    expect(ws).toBeInstanceOf(host.WebSocket);
    expect([ws.foo, ws.readyState, ws.protocol, ws.url]).toEqual(["foo", ws.OPEN, "chat", ""]);
    expect(wss.clients.has(ws as never)).toBe(true);
    client.close();
    await wss.close();
  });

  it("carries messages both ways with ws's events and callbacks, ping and pong, binaryType and WHATWG listeners", async () => {
    const { wss, client, ws } = await served();
    const text = next(ws, "message");
    client.send("hello");
    const [data, isBinary] = await text;
    expect([Buffer.isBuffer(data), String(data), isBinary]).toEqual([true, "hello", false]);

    const written = new Promise<unknown>((resolve) =>
      ws.send(Buffer.from([1, 2, 3]), { binary: true }, resolve),
    );
    const binary = nextMessage<Uint8Array>(client);
    expect(await written).toBeUndefined();
    expect([...new Uint8Array(await binary)]).toEqual([1, 2, 3]);

    const pinged = next(client, "ping");
    const ponged = next(ws, "pong");
    ws.ping("p");
    expect(String((await pinged)[0])).toBe("p");
    expect(String((await ponged)[0])).toBe("p");
    const clientPing = next(ws, "ping");
    client.ping("c");
    expect(String((await clientPing)[0])).toBe("c");

    ws.binaryType = "arraybuffer";
    const asEvent = new Promise<unknown>((resolve) =>
      ws.addEventListener("message", (event) => resolve((event as MessageEvent).data), { once: true }),
    );
    const asBuffer = next(ws, "message");
    client.send(new Uint8Array([9]));
    expect((await asBuffer)[0]).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array((await asEvent) as ArrayBuffer)]).toEqual([9]);
    client.close();
    await wss.close();
  });

  it("closes with the code and reason given on either side, out of `clients` before its 'close'", async () => {
    const { wss, url, client, ws } = await served();
    const clientClosed = nextEvent<CloseEvent>(client, "close");
    const serverClosed = new Promise<unknown[]>((resolve) =>
      ws.once("close", (code, reason) => resolve([code, String(reason), wss.clients.has(ws as never)])),
    );
    const whatwg = new Promise<CloseEvent>((resolve) => (ws.onclose = resolve));
    ws.close(4000, "bye");
    expect(ws.readyState).toBe(ws.CLOSING);
    const event = await clientClosed;
    expect([event.code, event.reason]).toEqual([4000, "bye"]);
    expect(await serverClosed).toEqual([4000, "bye", false]);
    const closeEvent = await whatwg;
    expect([closeEvent.code, closeEvent.reason, closeEvent.wasClean]).toEqual([4000, "bye", true]);
    expect(ws.readyState).toBe(ws.CLOSED);

    const second = connection(wss);
    const other = await openClient(url);
    const peerClosed = next(await second, "close");
    other.close(4001, "later");
    const [code, reason] = await peerClosed;
    expect([code, String(reason)]).toEqual([4001, "later"]);
    await wss.close();
  });

  it("is what broadcast's `except` and `filter`, `disconnect` and close() (1001) take", async () => {
    const { wss, url, client, ws } = await served();
    const second = connection(wss);
    const other = await openClient(url);
    const ws2 = await second;
    const toOther = nextMessage(other);
    wss.broadcast("not to the first", { except: ws as never });
    expect(await toOther).toBe("not to the first");
    const toFirst = nextMessage(client);
    wss.broadcast("only the first", { filter: (c) => (c as unknown) === ws });
    expect(await toFirst).toBe("only the first");
    const firstClosed = nextEvent<CloseEvent>(client, "close");
    expect(wss.disconnect(ws as never, 4002)).toBe(true);
    expect((await firstClosed).code).toBe(4002);
    const otherClosed = nextEvent<CloseEvent>(other, "close");
    await wss.close();
    expect((await otherClosed).code).toBe(1001);
    expect(ws2.readyState).toBe(ws2.CLOSED);
  });
});

describe(`ws's modes on ${runtime} from the package's main export`, () => {
  it("the client's `_socket` is null until open, then the socket (`_socket.remoteAddress`), as ws's", async () => {
    const { wss, port } = await listen();
    const ws = new host.WebSocket(`ws://127.0.0.1:${port}/`) as unknown as {
      _socket: { remoteAddress?: string } | null;
    } & WebSocket;
    expect(ws._socket).toBe(null);
    await nextEvent(ws, "open");
    expect(ws._socket!.remoteAddress).toBe("127.0.0.1");
    const closed = nextEvent(ws, "close");
    ws.close();
    await closed;
    await wss.close();
  });

  it("a request field named `constructor` is a field like any other; one named `__proto__` changes nothing", async () => {
    const { wss, port } = await listen();
    const seen = new Promise<Record<string, string>>((resolve) =>
      wss.once("connection", (_ws, req) => resolve((req as { headers: Record<string, string> }).headers)),
    );
    const raw = await RawClient.open(
      port,
      "/",
      "Constructor: built\r\n__proto__: proto\r\nconstructor: again\r\n",
    );
    const headers = await seen;
    expect(Object.getOwnPropertyDescriptor(headers, "constructor")?.value).toBe("built, again");
    // A `__proto__` field never becomes the record's prototype (Node's own parser drops it).
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
    raw.destroy();
    await wss.close();
  });

  it("address() is null once the server is closed, as ws's", async () => {
    const { wss, port } = await listen();
    expect(wss.address()!.port).toBe(port);
    await wss.close();
    expect(wss.address()).toBe(null);
  });

  it("throws ws's error without options; `server` and `noServer` serve on a node:http server; the client takes an `agent`", async () => {
    const http = await import("node:http");
    const Server = host.WebSocketServer as unknown as new (
      options?: object,
    ) => InstanceType<typeof host.WebSocketServer> & { handleUpgrade: (...args: unknown[]) => void };
    expect(() => new Server()).toThrow(
      'One and only one of the "port", "server", or "noServer" options must be specified',
    );
    // `server`: upgrades on the node:http server's port (on Bun, the Node host over Bun's node:http).
    const httpServer = http.createServer((_req, res) => res.end("plain"));
    const attached = new Server({ server: httpServer });
    expect(attached instanceof host.WebSocketServer).toBe(true);
    attached.on("connection", (ws) => ws.on("message", (data) => ws.send(String(data))));
    // `noServer`: the application routes upgrades to handleUpgrade.
    const routed = http.createServer();
    const bare = new Server({ noServer: true });
    routed.on("upgrade", (req, socket, head) =>
      bare.handleUpgrade(req, socket, head, (ws: ServerConnection) =>
        ws.on("message", () => ws.send(`routed ${req.url}`)),
      ),
    );
    const portOf = (server: import("node:http").Server) =>
      new Promise<number>((resolve) =>
        server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
      );
    const [port, routedPort] = await Promise.all([portOf(httpServer), portOf(routed)]);
    // The client's `agent` (ws's option): the upgrade request goes through it.
    const agent = new http.Agent();
    const requests: string[] = [];
    const addRequest = (agent as unknown as { addRequest: (req: { path: string }, o: object) => void })
      .addRequest;
    (agent as unknown as { addRequest: typeof addRequest }).addRequest = function (req, options) {
      requests.push(req.path);
      return addRequest.call(this, req, options);
    };
    const client = await openClient(`ws://127.0.0.1:${port}/via-agent`, [], { agent } as never);
    client.send("hello");
    expect(String(await nextMessage(client))).toBe("hello");
    expect(requests).toEqual(["/via-agent"]);
    const other = await openClient(`ws://127.0.0.1:${routedPort}/r`);
    other.send("route me");
    expect(String(await nextMessage(other))).toBe("routed /r");
    for (const ws of [client, other]) {
      const closed = nextEvent<CloseEvent>(ws, "close");
      ws.close();
      await closed;
    }
    agent.destroy();
    await Promise.all([attached.close(), bare.close()]);
    await Promise.all([httpServer, routed].map((s) => new Promise((resolve) => s.close(resolve))));
  });
});
