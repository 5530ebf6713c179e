// The WHATWG client: URLs, the event surface, validation, options, TLS, heartbeat and reconnect.
import { spawn } from "node:child_process";
import * as http from "node:http";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer, type ServerConnection } from "../../../runtimes/node/index.js";
import { echo, echoServer, listen, nextEvent, nextMessage, openClient, RawClient, within } from "./peers.js";

describe("client URLs", () => {
  it("sends the path and query, and reports the resolved url", async () => {
    const { wss, url, port } = await listen();
    const seen = new Promise<string>((resolve) =>
      wss.once("connection", (_ws, req) => resolve(req.url ?? "")),
    );
    const ws = await openClient(`${url}/room/7?user=ann&x=%20`);
    expect(await seen).toBe("/room/7?user=ann&x=%20");
    expect(ws.url).toBe(`ws://127.0.0.1:${port}/room/7?user=ann&x=%20`);
    ws.close();
    await nextEvent(ws, "close");
    await wss.close();
  });

  it("connects to an IPv6 literal with a port override", async () => {
    const wss = new WebSocketServer({ port: 0, host: "::1" });
    await once(wss, "listening");
    const port = (wss.address() as net.AddressInfo).port;
    const host = new Promise<string>((resolve) =>
      wss.once("connection", (_ws, req) => resolve(req.headers.host ?? "")),
    );
    const ws = await openClient(`ws://[::1]:${port}/v6`);
    expect(await host).toBe(`[::1]:${port}`);
    ws.close();
    await nextEvent(ws, "close");
    await wss.close();
  });

  it("throws SyntaxError for bad URLs, fragments and subprotocols", () => {
    const syntax = (f: () => unknown) =>
      expect(f).toThrowError(expect.objectContaining({ name: "SyntaxError" }));
    syntax(() => new WebSocket("not a url"));
    syntax(() => new WebSocket("ftp://example.com/"));
    syntax(() => new WebSocket("ws://example.com/#frag"));
    syntax(() => new WebSocket("ws://127.0.0.1:1/", "bad protocol"));
    syntax(() => new WebSocket("ws://127.0.0.1:1/", ["a", "a"]));
  });
});

describe("ws+unix: URLs", () => {
  it("connects over a Unix domain socket: ws+unix:/path/to.sock:/request/path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wasmsocket-unix-"));
    const socketPath = join(dir, "ws.sock");
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const wss = new WebSocketServer({ server });
    const path = new Promise<string>((resolve) =>
      wss.on("connection", (ws, req) => (echo(ws), resolve(req.url!))),
    );
    try {
      const ws = await openClient(`ws+unix:${socketPath}:/chat?room=1`);
      expect(await path).toBe("/chat?room=1");
      ws.send("over a unix socket");
      expect(await nextMessage(ws)).toBe("over a unix socket");
      ws.close();
      await nextEvent(ws, "close");
      expect(() => new WebSocket("ws+unix:")).toThrow("The URL's pathname is empty");
    } finally {
      await wss.close();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("client surface", () => {
  it("has the WHATWG constants, handlers and events", async () => {
    const { wss, url } = await echoServer();
    const ws = new WebSocket(url);
    expect([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]).toEqual([0, 1, 2, 3]);
    expect(ws.readyState).toBe(ws.CONNECTING);
    expect(ws.extensions).toBe("");
    const log: string[] = [];
    ws.onopen = () => {
      log.push("open");
      ws.send("x");
    };
    ws.onmessage = (e) => {
      log.push(`message ${(e as MessageEvent).data}`);
      ws.close(1000, "done");
      expect(ws.readyState).toBe(ws.CLOSING);
    };
    ws.addEventListener("message", () => log.push("listener"));
    const closed = new Promise<CloseEvent>((resolve) => (ws.onclose = (e) => resolve(e as CloseEvent)));
    const event = await closed;
    expect(log).toEqual(["open", "message x", "listener"]);
    expect([event.code, event.wasClean, ws.readyState]).toEqual([1000, true, ws.CLOSED]);
    await wss.close();
  });

  it("validates close() and throws when sending while connecting, with ws's errors", async () => {
    const { wss, url } = await echoServer();
    const ws = new WebSocket(url);
    expect(() => ws.send("early")).toThrowError(/^WebSocket is not open: readyState 0 \(CONNECTING\)$/);
    await nextEvent(ws, "open");
    expect(() => ws.close(1005)).toThrowError(TypeError);
    expect(() => ws.close(5000)).toThrowError("First argument must be a valid error code number");
    expect(() => ws.close(1000, "é".repeat(62))).toThrowError(RangeError);
    ws.close(3000, "ok");
    expect((await nextEvent<CloseEvent>(ws, "close")).code).toBe(3000);
    await wss.close();
  });

  it("sends headers and origin; fragments sends at maxFragmentSize", async () => {
    const { wss, url } = await listen({ fragments: "stream" });
    const seen = new Promise<[string, string, number[]]>((resolve) =>
      wss.once("connection", (ws, req) => {
        const sizes: number[] = [];
        ws.on("fragment", (data, _isBinary, _first, last) => {
          sizes.push((data as Buffer).length);
          if (last) resolve([String(req.headers["x-token"]), String(req.headers.origin), sizes]);
        });
      }),
    );
    const ws = await openClient(url, undefined, {
      headers: { "X-Token": "t1" },
      origin: "https://app.example",
      maxFragmentSize: 100,
    });
    ws.send(Buffer.alloc(250));
    expect(await seen).toEqual(["t1", "https://app.example", [100, 100, 50]]);
    ws.close();
    await nextEvent(ws, "close");
    await wss.close();
  });

  it("fails the handshake at handshakeTimeout against a server that never answers", async () => {
    const silent = net.createServer((socket) => socket.resume()); // reads, never answers
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const port = (silent.address() as net.AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, [], { handshakeTimeout: 200 });
    const error = nextEvent<Event & { message: string }>(ws, "error");
    const event = await nextEvent<CloseEvent>(ws, "close");
    expect((await error).message).toMatch(/timed out/);
    expect([event.code, event.wasClean]).toEqual([1006, false]);
    await new Promise((resolve) => silent.close(resolve));
  });

  it("delivers a frame sent in the same TCP segment as the 101 after the open event", async () => {
    const server = net.createServer((socket) => {
      socket.once("data", (request) => {
        const key = /Sec-WebSocket-Key: (\S+)/i.exec(String(request))![1];
        const accept = createHash("sha1")
          .update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
          .digest("base64");
        socket.write(
          Buffer.concat([
            Buffer.from(
              `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
                `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
            ),
            Buffer.from([0x81, 0x05, ...Buffer.from("early")]),
          ]),
        );
        socket.resume();
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
    const log: string[] = [];
    ws.onopen = () => log.push("open");
    ws.onmessage = (e) => log.push(`message ${(e as MessageEvent).data}`);
    await within(nextEvent(ws, "message"), 5000, "early message");
    expect(log).toEqual(["open", "message early"]);
    ws.terminate();
    await nextEvent(ws, "close");
    await new Promise((resolve) => server.close(resolve));
  });

  it("reports a refused handshake as error + close 1006", async () => {
    const { wss, url } = await listen({ path: "/only" });
    const ws = new WebSocket(`${url}/other`);
    const error = nextEvent<Event & { message: string }>(ws, "error");
    expect((await nextEvent<CloseEvent>(ws, "close")).code).toBe(1006);
    expect((await error).message).toMatch(/400/);
    await wss.close();
  });
});

describe("heartbeat", () => {
  it("the server terminates a peer that stops answering pings", async () => {
    const { wss, port } = await listen({ heartbeat: { interval: 100, timeout: 100 } });
    const closed = new Promise<number>((resolve) =>
      wss.once("connection", (ws) => ws.once("close", (code) => resolve(code))),
    );
    const raw = await RawClient.open(port); // completes the handshake, then never answers
    expect(await within(closed, 5000, "heartbeat terminates the silent peer")).toBe(1006);
    const ping = await raw.readFrame();
    expect(ping.opcode).toBe(9);
    raw.destroy();
    await wss.close();
  });

  it("keeps a peer that answers pings past many intervals", async () => {
    const { wss, url } = await echoServer({ heartbeat: { interval: 30, timeout: 30 } });
    const pings = new Promise<void>((resolve) => {
      let count = 0;
      wss.once("connection", (ws) => ws.on("pong", () => ++count === 5 && resolve()));
    });
    const ws = await openClient(url);
    await within(pings, 5000, "five pongs");
    expect(ws.readyState).toBe(ws.OPEN);
    ws.close();
    await nextEvent(ws, "close");
    await wss.close();
  });

  it("the client drops a server that stops answering", async () => {
    const { wss, url } = await listen({ heartbeat: false });
    wss.on("connection", (ws: ServerConnection) => ws.socket.pause()); // reads nothing from now on
    const ws = await openClient(url, [], { heartbeat: { interval: 100, timeout: 100 }, closeTimeout: 300 });
    const event = await within(nextEvent<CloseEvent>(ws, "close"), 5000, "client heartbeat");
    expect(event.code).toBe(1006);
    for (const peer of wss.clients) peer.terminate();
    await wss.close();
  });
});

describe("reconnect", () => {
  it("reconnects with backoff to a server that dies and comes back, delivering queued sends", async () => {
    const first = await echoServer();
    const port = first.port;
    const ws = new WebSocket(first.url, [], { reconnect: { minDelay: 20, maxDelay: 100 } });
    const log: string[] = [];
    for (const type of ["connecting", "open", "close", "reconnecting", "finish"])
      ws.addEventListener(type, () => log.push(type));
    await nextEvent(ws, "open");
    const closed = nextEvent<CloseEvent>(ws, "close");
    await first.wss.close();
    expect((await closed).code).toBe(1001);
    // Down: attempts fail (ECONNREFUSED) and back off; sends are queued meanwhile.
    await within(
      new Promise<void>((resolve) => {
        let failures = 0;
        ws.addEventListener("reconnecting", () => ++failures === 3 && resolve());
      }),
      5000,
      "three reconnect attempts",
    );
    expect(ws.readyState).toBe(ws.CONNECTING);
    ws.send("queued while down");
    const second = await listen({ port });
    second.wss.on("connection", echo);
    expect(await within(nextMessage(ws), 5000, "queued message echoed after reconnect")).toBe(
      "queued while down",
    );
    expect(log.filter((t) => t === "open").length).toBe(2);
    expect(log).toContain("reconnecting");
    ws.close();
    await nextEvent(ws, "finish");
    expect(log.at(-1)).toBe("finish");
    await second.wss.close();
  });

  it("calls back each send held while reconnecting once: after its write, or with an error when dropped", async () => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve)); // nothing listens there yet
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, [], {
      reconnect: { minDelay: 10, maxDelay: 20 },
      perMessageDeflate: false,
    });
    ws.on("error", () => {});
    const calls: Array<string | null> = [];
    const callback = (error?: Error | null) => calls.push(error ? error.message : null);
    ws.send("held", callback);
    ws.send(Buffer.from("held too"), { compress: false }, callback);
    const { wss } = await listen({ port });
    const got: string[] = [];
    wss.on("connection", (peer) => peer.on("message", (data) => got.push(String(data))));
    await within(nextEvent(ws, "open"), 5000, "open after reconnecting");
    await within(
      new Promise<void>((resolve) => {
        const poll = setInterval(() => calls.length === 2 && (clearInterval(poll), resolve()), 5);
      }),
      5000,
      "both callbacks",
    );
    expect(calls).toEqual([null, null]);
    const finished = nextEvent(ws, "finish");
    ws.close();
    await within(finished, 5000, "finish");
    expect(got).toEqual(["held", "held too"]);
    await wss.close();

    // Dropped: the client is closed while still waiting to reconnect.
    const dropped = new WebSocket(`ws://127.0.0.1:${port}/`, [], {
      reconnect: { minDelay: 10, maxDelay: 20 },
    });
    dropped.on("error", () => {});
    const lost: Array<string | null> = [];
    dropped.send("never", (error) => lost.push(error ? error.message : null));
    await within(nextEvent(dropped, "reconnecting"), 5000, "a failed attempt");
    const over = nextEvent(dropped, "finish");
    dropped.close();
    await within(over, 5000, "finish");
    await new Promise((resolve) => setImmediate(resolve));
    expect(lost).toEqual(["WebSocket closed before a message held while reconnecting was sent"]);
  });

  it("gives up after maxRetries (finish: retries) and rejects sends when queue is 'reject'", async () => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve)); // nothing listens there now
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, [], {
      reconnect: { minDelay: 10, maxDelay: 20, maxRetries: 2, queue: "reject" },
    });
    expect(() => ws.send("x")).toThrowError(/readyState 0 \(CONNECTING\)/);
    const finish = await within(nextEvent<CustomEvent>(ws, "finish"), 5000, "finish");
    expect(finish.detail).toEqual({ reason: "retries" });
    expect(ws.readyState).toBe(ws.CLOSED);
  });
});

describe("process lifetime", () => {
  it("after close() no sockets or timers are left: the process exits by itself", async () => {
    const script = `
      import { WebSocketServer, WebSocket } from ${JSON.stringify(new URL("../../../runtimes/node/index.ts", import.meta.url).href)};
      const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
      wss.on("connection", (ws) => ws.on("message", (d, b) => ws.send(d, { binary: b })));
      wss.on("listening", () => {
        const ws = new WebSocket("ws://127.0.0.1:" + wss.address().port, [], { heartbeat: true });
        ws.onopen = () => ws.send("hi");
        ws.onmessage = async () => { await wss.close(); console.log("closed"); };
      });
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const exited = once(child, "exit");
    const [code] = (await within(exited, 15_000, "child exits by itself").catch((error) => {
      child.kill();
      throw error;
    })) as [number];
    expect(out.trim()).toBe("closed");
    expect(code).toBe(0);
  });
});
