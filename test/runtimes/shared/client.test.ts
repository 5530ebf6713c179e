// The WHATWG client on Node and Bun alike, against our server and raw peers (harness.ts picks the runtime).
import { spawn } from "node:child_process";
import * as net from "node:net";
import { parseFrame, switchingProtocols, within } from "../../support/raw-client.js";
import { throwawayCert } from "../../support/tls-cert.js";
import {
  describe,
  echoServer,
  expect,
  host,
  it,
  listen,
  nextEvent,
  nextMessage,
  openClient,
  runtime,
} from "./harness.js";

describe(`client on ${runtime}`, () => {
  it("sends the path and query, offers subprotocols, and exposes the WHATWG surface", async () => {
    const { wss, url } = await echoServer({ protocols: ["chat"] });
    const seen = new Promise<string>((resolve) => wss.once("connection", (_ws, req) => resolve(req.url)));
    const ws = await openClient(`${url}/room?id=7`, ["chat"]);
    expect(await seen).toBe("/room?id=7");
    expect([ws.readyState, ws.protocol, ws.extensions, ws.url]).toEqual([
      host.WebSocket.OPEN,
      "chat",
      "",
      `${url}/room?id=7`,
    ]);
    ws.send(new Uint8Array([1, 2, 3]).buffer);
    const data = await nextMessage(ws);
    expect([...new Uint8Array(data as Uint8Array)]).toEqual([1, 2, 3]);
    const closed = nextEvent<CloseEvent>(ws, "close");
    ws.close(1000, "done");
    expect(ws.readyState).toBe(host.WebSocket.CLOSING);
    const event = await closed;
    expect([event.code, event.reason, event.wasClean, ws.readyState]).toEqual([1000, "done", true, 3]);
    await wss.close();
  });

  it("rejects bad URLs, subprotocols and close codes", () => {
    expect(() => new host.WebSocket("ftp://x")).toThrow();
    expect(() => new host.WebSocket("ws://x/#frag")).toThrow();
    expect(() => new host.WebSocket("ws://127.0.0.1:1", ["a", "a"])).toThrow();
    expect(() => new host.WebSocket("ws://127.0.0.1:1", ["bad proto"])).toThrow();
    const ws = new host.WebSocket("ws://127.0.0.1:1");
    ws.on("error", () => {});
    expect(() => ws.close(1005)).toThrow();
    expect(() => ws.send("too early")).toThrow();
    ws.close();
  });

  it("parses IPv6 hosts and ports", () => {
    const target = host.parseWebSocketUrl("wss://[::1]:8443/p?q=1");
    expect([target.hostname, target.port, target.host, target.path, target.secure]).toEqual([
      "::1",
      8443,
      "[::1]:8443",
      "/p?q=1",
      true,
    ]);
    expect(host.parseWebSocketUrl("ws://example.com").port).toBe(80);
  });

  it("fires error then close 1006 when nothing listens, and when the server refuses", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const ws = new host.WebSocket(`ws://127.0.0.1:${port}`);
    const events: string[] = [];
    ws.onerror = () => events.push("error");
    const closed = await within(nextEvent<CloseEvent>(ws, "close"), 5000, "close after refused connect");
    expect([events[0], closed.code, closed.wasClean]).toEqual(["error", 1006, false]);
    const { wss, url } = await listen({ path: "/only" });
    const refused = new host.WebSocket(`${url}/other`);
    const error = nextEvent<ErrorEvent>(refused, "error");
    expect((await nextEvent<CloseEvent>(refused, "close")).code).toBe(1006);
    expect(String((await error).message)).toContain("400");
    await wss.close();
  });

  it("fails at once against a server of another protocol whose banner line waits for an answer (not at the handshake timeout)", async () => {
    // An SSH server: one line, then it waits for ours; the head never completes.
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.write("SSH-2.0-OpenSSH_9.2\r\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const ws = new host.WebSocket(`ws://127.0.0.1:${port}`, [], { handshakeTimeout: 3000 });
    const error = nextEvent<ErrorEvent>(ws, "error");
    const closed = await nextEvent<CloseEvent>(ws, "close");
    // Node's client reads the response with node:http ("Parse Error: Expected HTTP/"), Bun's with the engine.
    expect(String((await error).message)).not.toContain("timed out");
    expect(closed.code).toBe(1006);
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("answers pings and closes with the server's code", async () => {
    const { wss, url } = await listen();
    wss.on("connection", (ws) => {
      ws.on("pong", (data) => ws.close(4003, `pong ${Buffer.from(data).toString()}`));
      ws.ping("p");
    });
    const ws = await openClient(url);
    const event = await nextEvent<CloseEvent>(ws, "close");
    expect([event.code, event.reason]).toEqual([4003, "pong p"]);
    await wss.close();
  });

  it("fails a masked frame from the server: error, close frame 1002 to the server, close 1006", async () => {
    const { wss, url } = await listen();
    const serverSaw = new Promise<number>((resolve) =>
      wss.on("connection", (ws) => {
        ws.on("close", (code) => resolve(code));
        // A masked text frame: servers must not mask (RFC 6455 §5.1).
        (ws.socket as unknown as { write(b: Uint8Array): void }).write(
          new Uint8Array([0x81, 0x82, 1, 2, 3, 4, 5, 6]),
        );
      }),
    );
    const ws = new host.WebSocket(url);
    const error = nextEvent<ErrorEvent>(ws, "error");
    const event = await nextEvent<CloseEvent>(ws, "close");
    expect([(await error).type, event.code, event.wasClean]).toEqual(["error", 1006, false]);
    expect(await serverSaw).toBe(1002);
    await wss.close();
  });

  it("writes the 1002 close frame before dispatching error: an app that exits in onerror still sent it", async () => {
    let received = Buffer.alloc(0);
    const gotClose = new Promise<void>((resolve) => {
      const server = net.createServer((socket) => {
        socket.once("data", (head) => {
          socket.write(switchingProtocols(head));
          socket.write(new Uint8Array([0x81, 0x82, 1, 2, 3, 4, 5, 6])); // masked: a server must not mask
          socket.on("data", (chunk) => (received = Buffer.concat([received, chunk])));
          socket.on("close", () => {
            server.close();
            resolve();
          });
          socket.on("error", () => {});
        });
      });
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo;
        const script = new URL("./exit-on-error.mjs", import.meta.url).pathname;
        spawn(process.execPath, [script, `ws://127.0.0.1:${port}/`], { stdio: "ignore" });
      });
    });
    await within(gotClose, 10_000, "the failing client's exit");
    const parsed = parseFrame(received);
    expect(parsed?.frame.opcode).toBe(8);
    expect(parsed!.frame.masked).toBe(true);
    expect(parsed!.frame.payload.readUInt16BE(0)).toBe(1002);
  });

  it("delivers text exactly as sent: a leading U+FEFF, NUL, U+FFFF and 4-byte characters, whole and streamed", async () => {
    const { wss, url } = await echoServer();
    const texts = ["\uFEFFbom first", "\uFEFF", "\uFEFF\uFEFFtwo", "a\u0000b\uFFFF\u{1F600}"];
    const ws = await openClient(url);
    for (const text of texts) {
      ws.send(text);
      expect(await nextMessage(ws)).toBe(text);
    }
    const streamed = await openClient(url, [], { fragments: "stream" });
    const parts: string[] = [];
    streamed.addEventListener("fragment", (event) => parts.push((event as unknown as { data: string }).data));
    streamed.send("\uFEFFstreamed");
    await within(
      (async () => {
        while (parts.join("") !== "\uFEFFstreamed") await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      "streamed text",
    );
    const closed = nextEvent<CloseEvent>(ws, "close");
    wss.clients.forEach((client) => client.close(4000, "\uFEFFreason"));
    expect((await closed).reason).toBe("\uFEFFreason");
    streamed.close();
    await wss.close();
  });

  it("sends a message in pieces with fin: false, both ways, as ws does", async () => {
    const { wss, url } = await listen();
    const serverGot = new Promise<string>((resolve) =>
      wss.on("connection", (ws) =>
        ws.on("message", (data) => {
          resolve(Buffer.from(data as Uint8Array).toString());
          ws.send("ser", { fin: false });
          ws.send("ver", { fin: false });
          ws.send(" whole");
        }),
      ),
    );
    const ws = await openClient(url);
    ws.send("frag", { fin: false });
    ws.send(Buffer.from("mé"), { fin: false }); // a later piece keeps the first one's opcode (text)
    ws.send("nted");
    expect(await serverGot).toBe("fragménted");
    expect(await nextMessage(ws)).toBe("server whole");
    ws.close();
    await wss.close();
  });

  it("reconnects with backoff after the server drops it, delivering what was queued", async () => {
    const { wss, url } = await echoServer();
    const ws = new host.WebSocket(url, [], { reconnect: { minDelay: 20, maxDelay: 50, maxRetries: 5 } });
    await nextEvent(ws, "open");
    const reconnecting = nextEvent<CustomEvent>(ws, "reconnecting");
    [...wss.clients][0].terminate();
    expect((await reconnecting).detail.attempt).toBe(1);
    ws.send("queued while away");
    expect(await within(nextMessage(ws), 5000, "queued echo")).toBe("queued while away");
    const finished = nextEvent<CustomEvent>(ws, "finish");
    ws.close();
    expect((await finished).detail.reason).toBe("closed");
    await wss.close();
  });

  it("a server that accepts and drops at once does not reset the retries: the delays grow and maxRetries ends it", async () => {
    const { wss, url } = await listen();
    let connections = 0;
    wss.on("connection", (peer) => {
      connections++;
      peer.terminate();
    });
    const ws = new host.WebSocket(url, [], {
      reconnect: { minDelay: 10, maxDelay: 1000, jitter: 0, maxRetries: 3 },
    });
    ws.on("error", () => {});
    const retries: Array<[number, number]> = [];
    ws.addEventListener("reconnecting", (event) => {
      const { attempt, delay } = (event as CustomEvent).detail;
      retries.push([attempt, delay]);
    });
    const finish = await within(nextEvent<CustomEvent>(ws, "finish"), 5000, "finish after 3 retries");
    expect([finish.detail.reason, connections, retries]).toEqual([
      "retries",
      4,
      [
        [1, 10],
        [2, 20],
        [3, 40],
      ],
    ]);
    await wss.close();
  });

  it("a connection that stayed up minUptime starts the retries from the first delay again", async () => {
    const { wss, url } = await listen();
    wss.on("connection", (peer) => setTimeout(() => peer.terminate(), 120));
    const ws = new host.WebSocket(url, [], {
      reconnect: { minDelay: 10, maxDelay: 1000, jitter: 0, maxRetries: 1, minUptime: 60 },
    });
    ws.on("error", () => {});
    const retries: number[] = [];
    ws.addEventListener("reconnecting", (event) => retries.push((event as CustomEvent).detail.attempt));
    for (let opened = 0; opened < 3; opened++) await within(nextEvent(ws, "open"), 5000, `open ${opened}`);
    const finished = nextEvent<CustomEvent>(ws, "finish");
    ws.close();
    expect([(await within(finished, 5000, "finish")).detail.reason, retries]).toEqual(["closed", [1, 1]]);
    await wss.close();
  });

  it("close() in a 'reconnecting' listener cancels that retry: finish 'closed', no error, no new connection", async () => {
    const { wss, url } = await echoServer();
    let connections = 0;
    wss.on("connection", () => connections++);
    const ws = new host.WebSocket(url, [], { reconnect: { minDelay: 20, maxDelay: 20, maxRetries: 5 } });
    await nextEvent(ws, "open");
    const errors: string[] = [];
    ws.addEventListener("error", (event) => errors.push((event as ErrorEvent).message));
    ws.addEventListener("reconnecting", () => ws.close());
    const finished = nextEvent<CustomEvent>(ws, "finish");
    [...wss.clients][0].terminate();
    expect((await within(finished, 5000, "finish")).detail.reason).toBe("closed");
    expect([connections, ws.readyState, errors]).toEqual([1, host.WebSocket.CLOSED, []]);
    await wss.close();
  });

  it("queues a copy of bytes sent while reconnecting, so the caller may reuse its buffer", async () => {
    const { wss, url } = await echoServer();
    const ws = new host.WebSocket(url, [], { reconnect: { minDelay: 20, maxDelay: 50, maxRetries: 5 } });
    ws.binaryType = "arraybuffer";
    await nextEvent(ws, "open");
    const reconnecting = nextEvent<CustomEvent>(ws, "reconnecting");
    [...wss.clients][0].terminate();
    await reconnecting;
    const bytes = Buffer.from([1, 2, 3, 4]);
    ws.send(bytes);
    bytes.fill(0);
    const echo = (await within(nextMessage(ws), 5000, "queued echo")) as ArrayBuffer;
    expect([...new Uint8Array(echo)]).toEqual([1, 2, 3, 4]);
    const finished = nextEvent<CustomEvent>(ws, "finish");
    ws.close();
    await finished;
    await wss.close();
  });

  it("maxFragments: a message from the server in more non-empty frames is failed with 1008", async () => {
    const { wss, url } = await listen();
    const serverClose = new Promise<number>((resolve) =>
      wss.on("connection", (peer) => {
        peer.on("close", (code: number) => resolve(code));
        peer.send("a", { fin: false });
        peer.send("b", { fin: false });
        peer.send("c");
      }),
    );
    const ws = new host.WebSocket(url, [], { maxFragments: 2 });
    const error = new Promise<Error & { code?: string }>((resolve) => ws.on("error", resolve));
    const messages: unknown[] = [];
    ws.on("message", (data) => messages.push(data));
    const failed = await within(error, 5000, "the client's error");
    expect([failed.message, failed.code]).toEqual([
      "Too many message fragments",
      "WS_ERR_TOO_MANY_BUFFERED_PARTS",
    ]);
    expect(await within(serverClose, 5000, "the server's close")).toBe(1008);
    expect(messages).toEqual([]);
    await wss.close();
  });

  it("heartbeat drops a server that never answers pings, sending it close 1011", async () => {
    let received = Buffer.alloc(0);
    let ended: Promise<void> | undefined;
    const server = net.createServer((socket) => {
      socket.on("error", () => {});
      ended = new Promise((resolve) => socket.on("close", () => resolve()));
      socket.once("data", (head) => {
        socket.write(switchingProtocols(head));
        // Reads (so a close frame can arrive) but answers no ping.
        socket.on("data", (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const ws = await openClient(`ws://127.0.0.1:${port}`, [], { heartbeat: { interval: 100, timeout: 100 } });
    const event = await within(nextEvent<CloseEvent>(ws, "close"), 3000, "heartbeat close");
    expect([event.code, event.wasClean]).toEqual([1006, false]);
    await within(ended!, 3000, "the client's TCP close");
    const frames: Array<[number, string]> = [];
    for (let parsed; (parsed = parseFrame(received)); received = received.subarray(parsed.size))
      frames.push([parsed.frame.opcode, parsed.frame.payload.toString("hex")]);
    const close = frames.at(-1)!;
    expect(frames.slice(0, -1).every(([opcode]) => opcode === 0x9)).toBe(true); // the pings
    expect(close[0]).toBe(0x8);
    expect(Buffer.from(close[1], "hex").readUInt16BE(0)).toBe(1011);
    expect(Buffer.from(close[1], "hex").subarray(2).toString()).toBe("heartbeat timeout");
    server.close();
  });

  it("connects over TLS to our wss server with a throw-away certificate trusted by `ca`, and refuses it without", async () => {
    const { key, cert } = throwawayCert("localhost");
    {
      const { wss, port } = await echoServer({ tls: { key, cert } });
      const ws = await openClient(`wss://localhost:${port}/secure`, [], { ca: cert });
      ws.send(new Uint8Array(100_000).fill(3));
      expect(((await nextMessage(ws)) as Uint8Array).byteLength).toBe(100_000);
      const closed = nextEvent<CloseEvent>(ws, "close");
      ws.close();
      expect((await closed).wasClean).toBe(true);
      const untrusted = new host.WebSocket(`wss://127.0.0.1:${port}/`);
      expect((await within(nextEvent<CloseEvent>(untrusted, "close"), 5000, "untrusted close")).code).toBe(
        1006,
      );
      await wss.close();
      // rejectUnauthorized false (ws's option, as for https.request): neither the chain nor the name is
      // checked, here a self-signed certificate for another name.
      const other = await echoServer({ tls: throwawayCert("elsewhere.invalid") });
      const unchecked = await openClient(`wss://localhost:${other.port}/`, [], { rejectUnauthorized: false });
      unchecked.send("unchecked");
      expect(String(await nextMessage(unchecked))).toBe("unchecked");
      unchecked.close();
      await other.wss.close();
    }
  });

  it('sends SNI for a host name, none for an IP address (RFC 6066 §3) or `servername: ""`, and checks the certificate', async () => {
    const { key, cert } = throwawayCert("127.0.0.1");
    const tls = await import("node:tls");
    const names: Array<string | false> = [];
    const server = tls.createServer({ key, cert }, (socket) => {
      names.push(socket.servername ?? false);
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const attempts: Array<[string, object]> = [
      [`wss://127.0.0.1:${port}/`, { ca: cert }],
      [`wss://localhost:${port}/`, { ca: cert }],
      [`wss://localhost:${port}/`, { ca: cert, servername: "" }],
    ];
    for (const [url, options] of attempts) {
      const ws = new host.WebSocket(url, [], options);
      await within(nextEvent(ws, "close"), 5000, `close of ${url}`);
    }
    expect(names).toEqual([false, "localhost", false]);
    // An IP address is still checked against the certificate: a trusted one for another name is refused.
    const elsewhere = throwawayCert("elsewhere.invalid");
    const other = await echoServer({ tls: elsewhere });
    const refused = new host.WebSocket(`wss://127.0.0.1:${other.port}/`, [], { ca: elsewhere.cert });
    const error = nextEvent<ErrorEvent>(refused, "error");
    expect((await within(nextEvent<CloseEvent>(refused, "close"), 5000, "refused close")).code).toBe(1006);
    await error;
    await other.wss.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe(`listeners that throw on ${runtime}`, () => {
  it("a throw in a server's or a client's listener is an uncaught exception and the connection goes on", async () => {
    const script = new URL("./throw-in-listener.mjs", import.meta.url).pathname;
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => (out += chunk));
    const code = await within(new Promise((resolve) => child.on("exit", resolve)), 10_000, "the app's exit");
    expect(JSON.parse(out.trim())).toEqual({
      uncaught: ["server listener threw", "client listener threw", "close listener threw"],
      serverGot: ["first", "second"],
      clientGot: ["hello", "echo second", "close 1000"],
    });
    expect(code).toBe(0);
  });
});
