// The C host (runtimes/wamr) built for Linux on every target of host.ts (wasm2c on x86-64, i386 and ARM; WAMR
// too when WAMR_ROOT is set), with ASan and UBSan, tested over real sockets: `ws` and raw bytes against the C
// echo server, the C client against our Node server (its automatic reconnect too), 503 past max clients, and
// (native builds without sanitizers) 1,000 connect/disconnect cycles under valgrind with no leak and no
// engine heap growth.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer as WsServer } from "ws";
import { frame as rawFrame, parseFrame } from "../../support/raw-client.js";
import { closed, nextMessage, openWs } from "./ws-peer.js";
import {
  buildHost,
  idleStats,
  runClient,
  runProgram,
  startServer,
  takeSanitizerReports,
  targets,
  type Server,
  type Target,
} from "./host.js";

const hasValgrind = spawnSync("valgrind", ["--version"]).status === 0;

function open(port: number, path = "/", protocols?: string[]): Promise<WebSocket> {
  return openWs(`ws://127.0.0.1:${port}${path}`, protocols);
}

/** A client frame: FIN + opcode, masked unless `masked` is false. */
function frame(opcode: number, payload: Buffer, { masked = true, fin = true } = {}): Buffer {
  const head = [(fin ? 0x80 : 0) | opcode];
  const len = payload.length;
  if (len < 126) head.push((masked ? 0x80 : 0) | len);
  else head.push((masked ? 0x80 : 0) | 126, len >> 8, len & 0xff);
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** A raw TCP connection that completed the upgrade; `received` collects the bytes after the 101 head. */
async function rawUpgrade(
  port: number,
): Promise<{ socket: Socket; received: () => Buffer; ended: Promise<void> }> {
  const socket = connect(port, "127.0.0.1");
  let data = Buffer.alloc(0);
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("data", (d) => (data = Buffer.concat([data, d])));
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const key = randomBytes(16).toString("base64");
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  for (let i = 0; i < 200 && !data.includes("\r\n\r\n"); i++) await new Promise((r) => setTimeout(r, 10));
  const head = data.subarray(0, data.indexOf("\r\n\r\n")).toString();
  const accept = createHash("sha1")
    .update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
    .digest("base64");
  expect(head).toContain("101 Switching Protocols");
  expect(head).toContain(`Sec-WebSocket-Accept: ${accept}`);
  const start = data.indexOf("\r\n\r\n") + 4;
  return { socket, received: () => data.subarray(start), ended };
}

/** Send `bytes` after the upgrade and return the close code the server answers with. */
async function closeCodeFor(port: number, bytes: Buffer): Promise<number> {
  const { socket, received, ended } = await rawUpgrade(port);
  socket.write(bytes);
  await Promise.race([ended, new Promise((r) => setTimeout(r, 3000))]);
  socket.destroy();
  const reply = received();
  expect(reply[0]).toBe(0x88);
  return reply.readUInt16BE(2);
}

/**
 * A one-connection server that accepts the upgrade, then sends `bytes` (frames a real server must not send,
 * or a close); resolves with the close frame the client answered with.
 */
async function badServer(
  bytes: Buffer,
): Promise<{ port: number; reply: Promise<{ code: number; masked: boolean }> }> {
  let resolveReply!: (reply: { code: number; masked: boolean }) => void;
  const reply = new Promise<{ code: number; masked: boolean }>((resolve) => (resolveReply = resolve));
  const server = createServer((socket) => {
    let data = Buffer.alloc(0);
    let upgraded = false;
    socket.on("error", () => {});
    socket.on("close", () => {
      server.close();
      resolveReply({ code: -1, masked: false });
    });
    socket.on("data", (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (!upgraded) {
        const end = data.indexOf("\r\n\r\n");
        if (end < 0) return;
        const key = /sec-websocket-key: *(\S+)/i.exec(data.subarray(0, end).toString())![1];
        const accept = createHash("sha1")
          .update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
          .digest("base64");
        socket.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        socket.write(bytes);
        upgraded = true;
        data = data.subarray(end + 4);
      }
      for (let parsed = parseFrame(data); parsed; parsed = parseFrame(data)) {
        data = data.subarray(parsed.size);
        if (parsed.frame.opcode !== 8) continue;
        resolveReply({ code: parsed.frame.payload.readUInt16BE(0), masked: parsed.frame.masked });
        socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, reply };
}

/** How `droppingServer` ends a connection it does not keep: TCP gone (no close frame), or a close frame. */
type Drop = "terminate" | 1001;

/**
 * Our Node server, ending the first connections as `drops` says (each once the client answered a ping, so
 * the client saw CONNECTED) and echoing on the next. Records when each upgrade completed and each drop was
 * made, on one monotonic clock.
 */
async function droppingServer(drops: Drop[]): Promise<{
  port: number;
  handshakes: number[];
  dropped: number[];
  close(): Promise<void>;
}> {
  const { WebSocketServer } = await import("../../../runtimes/node/index.js");
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const handshakes: number[] = [];
  const dropped: number[] = [];
  wss.on("connection", (ws) => {
    handshakes.push(performance.now());
    const drop = drops[handshakes.length - 1];
    if (drop === undefined) {
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
      return;
    }
    ws.once("pong", () => {
      dropped.push(performance.now());
      if (drop === "terminate") ws.terminate();
      else ws.close(drop, "going away");
    });
    ws.ping();
  });
  const port = (wss.address() as AddressInfo).port;
  return { port, handshakes, dropped, close: () => wss.close() };
}

/** The client's lifecycle events (not DATA), each with its close code: "CONNECTED 0", "CLOSED 1000". */
function lifecycle(stdout: string): string[] {
  return [...stdout.matchAll(/^EVENT 0 (?!DATA)(\w+) error_type=\d+ close=(\d+)/gm)].map(
    (m) => `${m[1]} ${m[2]}`,
  );
}

for (const t of targets) describe(`C host on Linux [${t.name}]`, () => suite(t));

function suite(t: Target): void {
  let server: Server;
  const serve = (args: string[], wrapper: string[] = []) => startServer(t, args, wrapper);
  const client = (args: string[]) => runClient(t, args);

  beforeAll(() => buildHost(t), 180_000);

  beforeAll(async () => {
    server = await serve(["--max-message", "4096", "--subprotocols", "chat,superchat"]);
  }, 130_000);

  it(`runs the engine on the ${t.backend} back end`, () => {
    expect(server.lines).toContain(`ENGINE ${t.backend}`);
  });

  if (t.wamr)
    it(`WAMR ${t.wamr.mode}: the module is ${t.wamr.mode === "classic" ? "copied to RAM" : "read in place, not copied to RAM"}`, async () => {
      // The idle server's host heap is its client table and strings (under 2 KB) plus, for the classic
      // interpreter only, the RAM copy of the module it runs and patches.
      const idle = await idleStats(server);
      expect(idle.module).toBeGreaterThan(8000);
      if (t.wamr!.mode === "classic") expect(idle.host_heap).toBeGreaterThan(idle.module);
      else expect(idle.host_heap).toBeLessThan(idle.module);
    });

  afterEach(() => expect(takeSanitizerReports()).toEqual([]));

  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
    expect(takeSanitizerReports()).toEqual([]);
  });

  it("echoes text and binary messages to a ws client", async () => {
    const ws = await open(server.port);
    ws.send("hello wamr");
    expect(await nextMessage(ws)).toEqual({ data: Buffer.from("hello wamr"), isBinary: false });
    ws.send(Buffer.from([0, 1, 2, 255]));
    expect(await nextMessage(ws)).toEqual({ data: Buffer.from([0, 1, 2, 255]), isBinary: true });
    const big = randomBytes(4000);
    ws.send(big);
    expect((await nextMessage(ws)).data.equals(big)).toBe(true);
    ws.close();
  });

  it("declines permessage-deflate cleanly: a ws client that offers it talks uncompressed", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: true });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    expect(ws.extensions).toBe("");
    const text = "compressible ".repeat(200);
    ws.send(text);
    expect(await nextMessage(ws)).toEqual({ data: Buffer.from(text), isBinary: false });
    ws.close();
  });

  it("reassembles a fragmented message before echoing it", async () => {
    const ws = await open(server.port);
    ws.send("frag", { fin: false });
    ws.send("men", { fin: false });
    ws.send("ted ✓", { fin: true });
    expect((await nextMessage(ws)).data.toString()).toBe("fragmented ✓");
    ws.close();
  });

  it("answers pings with pongs carrying the same payload", async () => {
    const ws = await open(server.port);
    const pong = new Promise<Buffer>((resolve) => ws.once("pong", resolve));
    ws.ping("are you there");
    expect((await pong).toString()).toBe("are you there");
    ws.close();
  });

  it("negotiates the first offered subprotocol it supports", async () => {
    const ws = await open(server.port, "/", ["other", "superchat", "chat"]);
    expect(ws.protocol).toBe("superchat");
    ws.close();
  });

  it("echoes the client's close code, and closes with its own code on request", async () => {
    const a = await open(server.port);
    const aClosed = closed(a);
    a.close(4000, "bye bye");
    expect((await aClosed).code).toBe(4000);
    const b = await open(server.port);
    const bClosed = closed(b);
    b.send("close:4001");
    expect(await bClosed).toEqual({ code: 4001, reason: "bye" });
  });

  it("broadcasts to every open client and lists them", async () => {
    const a = await open(server.port);
    const b = await open(server.port);
    const got = Promise.all([nextMessage(a), nextMessage(b)]);
    a.send("broadcast:to all");
    expect((await got).map((m) => m.data.toString())).toEqual(["to all", "to all"]);
    b.send("clients");
    expect((await nextMessage(b)).data.toString()).toMatch(/^clients:\d+,\d+$/);
    a.close();
    b.close();
  });

  it("fails bad frames with the engine's close code", async () => {
    expect(await closeCodeFor(server.port, frame(1, Buffer.from("hi"), { masked: false }))).toBe(1002);
    expect(await closeCodeFor(server.port, frame(1, Buffer.from([0xc3, 0x28])))).toBe(1007);
    expect(await closeCodeFor(server.port, frame(3, Buffer.alloc(0)))).toBe(1002);
    expect(await closeCodeFor(server.port, frame(0, Buffer.from("x")))).toBe(1002);
    expect(await closeCodeFor(server.port, frame(9, Buffer.from("p"), { fin: false }))).toBe(1002);
    expect(await closeCodeFor(server.port, frame(2, Buffer.alloc(5000)))).toBe(1009);
  });

  it("keeps serving a client while two peers flood pings and never read: its echoes arrive, the flooders are cut with 1008", async () => {
    // A send timeout longer than the test: a loop that waited on a flooder's full socket would hold everyone.
    const flooded = await serve(["--send-timeout", "60000", "--max-clients", "4"]);
    try {
      const ping = frame(9, Buffer.alloc(125, 0x70));
      const chunk = Buffer.concat(Array.from({ length: 512 }, () => ping)); // 67 KiB of pings per write
      const flood = async ({ socket, ended }: Awaited<ReturnType<typeof rawUpgrade>>) => {
        socket.pause(); // never read the pongs
        let gone = false;
        void ended.then(() => (gone = true));
        // Bounded: one chunk at a time in this process; 256 MiB would outlast any socket buffer.
        for (let sent = 0; !gone && sent < 256 << 20; sent += chunk.length)
          if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once("drain", r)), ended]);
        socket.destroy();
      };
      const flooders = await Promise.all([rawUpgrade(flooded.port), rawUpgrade(flooded.port)]);
      const canary = await open(flooded.port);
      const cut = () => (flooded.stderr().match(/client \d+ closed: 1008/g) ?? []).length;
      const flooding = Promise.all(flooders.map(flood));
      const roundTrip = async (i: number) => {
        canary.send(`canary ${i}`);
        expect((await nextMessage(canary)).data.toString()).toBe(`canary ${i}`);
      };
      // Round trips all through the flood, until the server has cut both flooders, then 20 more.
      let during = 0;
      while (cut() < 2) await roundTrip(during++);
      for (let i = 0; i < 20; i++) await roundTrip(during + i);
      await flooding;
      expect(cut()).toBe(2);
      canary.close();
      await closed(canary);
    } finally {
      await flooded.stop();
    }
  }, 30_000);

  it("heartbeat: ends a client that answers no ping with close 1011 'heartbeat timeout', while another keeps its echoes", async () => {
    const beating = await serve(["--heartbeat", "200,300"]);
    try {
      // Upgraded, then silent: it reads what the server sends but never answers (no pong, no frame).
      const silent = await rawUpgrade(beating.port);
      let gone = false;
      void silent.ended.then(() => (gone = true));
      const canary = await open(beating.port);
      let i = 0;
      const roundTrip = async () => {
        canary.send(`canary ${i}`);
        expect((await nextMessage(canary)).data.toString()).toBe(`canary ${i++}`);
        await new Promise((r) => setTimeout(r, 20));
      };
      // Bounded: a generous deadline, far past interval + timeout (0.5 s) even under qemu.
      const deadline = Date.now() + 20_000;
      while (!gone && Date.now() < deadline) await roundTrip();
      expect(gone).toBe(true);
      const frames: { opcode: number; payload: Buffer }[] = [];
      let bytes = silent.received();
      for (let parsed = parseFrame(bytes); parsed; parsed = parseFrame(bytes)) {
        frames.push(parsed.frame);
        bytes = bytes.subarray(parsed.size);
      }
      expect(frames.map((f) => f.opcode)).toEqual([9, 8]); // the heartbeat's ping, then the close
      expect(frames[1].payload.readUInt16BE(0)).toBe(1011);
      expect(frames[1].payload.subarray(2).toString()).toBe("heartbeat timeout");
      expect(beating.stderr()).toMatch(/client \d+ closed: 1011 heartbeat timeout/);
      for (let n = 0; n < 5; n++) await roundTrip(); // the canary, never silent, was kept
      canary.close();
      expect((await closed(canary)).code).toBe(1005);
    } finally {
      await beating.stop();
    }
  }, 30_000);

  it("heartbeat: keeps a silent client that answers the pings", async () => {
    // A timeout far longer than a pong takes, even under qemu: only a missing pong could end it.
    const beating = await serve(["--heartbeat", "200,5000"]);
    try {
      const ws = await open(beating.port); // ws answers every ping with a pong
      let pings = 0;
      ws.on("ping", () => pings++);
      const ended = closed(ws);
      let gone = false;
      void ended.then(() => (gone = true));
      // Silent except for its pongs, through three pings (bounded wait).
      for (let i = 0; i < 400 && pings < 3 && !gone; i++) await new Promise((r) => setTimeout(r, 50));
      expect(gone).toBe(false);
      expect(pings).toBeGreaterThanOrEqual(3);
      ws.send("still here");
      expect((await nextMessage(ws)).data.toString()).toBe("still here");
      ws.close(1000);
      expect((await ended).code).toBe(1000);
      expect(beating.stderr()).not.toMatch(/closed: 1011/);
    } finally {
      await beating.stop();
    }
  }, 30_000);

  it("refuses non-WebSocket requests with an HTTP error", async () => {
    const socket = connect(server.port, "127.0.0.1");
    let reply = "";
    socket.on("data", (d) => (reply += d.toString()));
    const ended = new Promise((r) => socket.once("close", r));
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await ended;
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
  });

  it("refuses to start with more max_clients than the engine has connection slots, saying so", async () => {
    const run = await runProgram(t, "wsk_echo_server", ["--port", "0", "--max-clients", "9"]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/max_clients 9 exceeds the engine's 8 connection slots/);
  });

  it("refuses to start with a negative new_client_grace_ms, saying what to give", async () => {
    const run = await runProgram(t, "wsk_echo_server", ["--port", "0", "--grace", "-1"]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/new_client_grace_ms -1: give 0 \(CONFIG_WSK_NEW_CLIENT_GRACE_MS\) or more/);
  });

  it("answers 503 beyond max clients (LRU purge off), and 404 off its path", async () => {
    const small = await serve(["--max-clients", "2", "--path", "/ws", "--lru-purge", "off"]);
    try {
      const a = await open(small.port, "/ws");
      const b = await open(small.port, "/ws");
      const status = (path: string) =>
        new Promise<number>((resolve) => {
          const c = new WebSocket(`ws://127.0.0.1:${small.port}${path}`);
          c.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
          c.on("open", () => resolve(101));
          c.on("error", () => {});
        });
      expect(await status("/ws")).toBe(503);
      expect(await status("/elsewhere")).toBe(404);
      a.close();
      await closed(b.close() ?? b);
      expect(await status("/ws?x=1")).toBe(101);
    } finally {
      await small.stop();
    }
  });

  it("runs several C clients against our Node server: echoes, pong, fragments, clean close", async () => {
    let peer: { port: number; close(): void };
    try {
      const { WebSocketServer } = await import("../../../runtimes/node/index.js");
      const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
      await new Promise<void>((r) => wss.once("listening", () => r()));
      wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
      peer = { port: (wss.address() as { port: number }).port, close: () => void wss.close() };
    } catch {
      const wss = new WsServer({ port: 0, host: "127.0.0.1" });
      await new Promise<void>((r) => wss.once("listening", () => r()));
      wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
      peer = { port: (wss.address() as { port: number }).port, close: () => wss.close() };
    }
    try {
      // Asynchronously: the Node server runs in this process's event loop.
      const run = await client([
        "--uri",
        `ws://127.0.0.1:${peer.port}/echo?x=1`,
        "--clients",
        "3",
        "--fragment",
        "1000",
      ]);
      expect(run.stdout).toMatch(/STATS .* ok=3\/3/);
      expect(run.status).toBe(0);
      for (const i of [0, 1, 2]) {
        expect(run.stdout).toContain(`EVENT ${i} CONNECTED`);
        expect(run.stdout).toContain(
          `EVENT ${i} DATA op=1 len=5 payload_len=5 offset=0 fin=1 close=0 text=hello`,
        );
        expect(run.stdout).toMatch(new RegExp(`EVENT ${i} DATA op=10 len=1 `));
        expect(run.stdout).toMatch(new RegExp(`EVENT ${i} CLOSED error_type=0 close=1000`));
        expect(run.stdout).toContain(`EVENT ${i} FINISH`);
      }
      expect(run.stdout).toMatch(/STATS pool_used=0 host_heap=0 /);
    } finally {
      peer.close();
    }
  });

  it("reports a refused handshake as an ERROR event with the HTTP status", async () => {
    const run = await client([
      "--uri",
      `ws://127.0.0.1:${server.port}/`,
      "--header",
      "Sec-WebSocket-Version: 8",
      "--timeout",
      "2000",
    ]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/EVENT 0 ERROR error_type=2 close=0 status=400/);
    expect(run.stdout).toContain("EVENT 0 FINISH");
  });

  const serverFrame = (opcode: number, payload: Buffer | string, options = {}) =>
    rawFrame(opcode, payload, { mask: false, ...options });
  for (const [name, bytes, code] of [
    ["a masked frame from the server", rawFrame(1, "hi", { mask: true }), 1002],
    ["text that is not UTF-8", serverFrame(1, Buffer.from([0xce, 0xba, 0xff])), 1007],
    ["a reserved opcode", serverFrame(3, "x"), 1002],
    ["RSV1 with no extension", serverFrame(1, "x", { rsv: 4 }), 1002],
    ["a fragmented ping", serverFrame(9, "p", { fin: false }), 1002],
    ["a continuation with no message", serverFrame(0, "x"), 1002],
    ["a message past max_message_size (1000)", serverFrame(2, Buffer.alloc(1001)), 1009],
    ["a close with an invalid code", serverFrame(8, Buffer.from([0x03, 0xec])), 1002],
  ] as const)
    it(`the C client fails ${name} with ${code}: a masked close frame and an ERROR event`, async () => {
      const bad = await badServer(bytes);
      const run = await client([
        "--uri",
        `ws://127.0.0.1:${bad.port}/`,
        "--max-message",
        "1000",
        "--timeout",
        "3000",
      ]);
      expect(await bad.reply).toEqual({ code, masked: true });
      expect(run.stdout).toContain(`EVENT 0 ERROR error_type=4 close=${code} `);
      expect(run.stdout).toContain(`EVENT 0 DISCONNECTED error_type=4 close=${code} `);
      expect(run.status).toBe(1);
    });

  it("the C client pings when idle and ends a server that sends no pong: a PONG_TIMEOUT error and close 1011", async () => {
    const silent = await badServer(Buffer.alloc(0));
    const started = Date.now();
    const run = await client([
      "--uri",
      `ws://127.0.0.1:${silent.port}/`,
      "--ping-interval",
      "1",
      "--pong-timeout",
      "1",
      "--timeout",
      "8000",
    ]);
    expect(await silent.reply).toEqual({ code: 1011, masked: true }); // before: TCP ended, no close frame
    expect(run.stdout).toContain("EVENT 0 ERROR error_type=3 ");
    expect(run.stdout).toContain("EVENT 0 DISCONNECTED error_type=3 close=1011 ");
    // A ping after 1 s, the timeout 1 s later (checked each 100 ms poll): well before the 8 s give-up.
    expect(Date.now() - started).toBeLessThan(6000);
  });

  it("the C client answers a server's close with the same code and reports CLOSED with it", async () => {
    const bad = await badServer(rawFrame(8, Buffer.from([0x0f, 0xa1, 0x62, 0x79, 0x65]), { mask: false }));
    const run = await client(["--uri", `ws://127.0.0.1:${bad.port}/`, "--timeout", "3000"]);
    expect(await bad.reply).toEqual({ code: 4001, masked: true });
    // DATA for a close carries its reason ("bye"); the code is in close_code.
    expect(run.stdout).toMatch(/EVENT 0 DATA op=8 len=3 .* close=4001 /);
    expect(run.stdout).toContain("EVENT 0 CLOSED error_type=0 close=4001 ");
  });

  it("the C client reconnects by itself, reconnect_timeout_ms after a dropped TCP connection and after a 1001 close; close ends it", async () => {
    const reconnectMs = 200;
    const peer = await droppingServer(["terminate", 1001]);
    try {
      const run = await client([
        "--uri",
        `ws://127.0.0.1:${peer.port}/`,
        "--auto-reconnect",
        "1",
        "--reconnect-ms",
        String(reconnectMs),
        "--expect-connects",
        "3",
        "--timeout",
        "5000",
      ]);
      expect(lifecycle(run.stdout)).toEqual([
        "BEGIN 0",
        "BEFORE_CONNECT 0",
        "CONNECTED 0",
        "ERROR 1006",
        "DISCONNECTED 1006",
        "BEFORE_CONNECT 0",
        "CONNECTED 0",
        "CLOSED 1001",
        "BEFORE_CONNECT 0",
        "CONNECTED 0",
        "CLOSED 1000", // wsk_client_close: FINISH follows, no reconnect
        "FINISH 0",
      ]);
      expect(run.stdout).toContain("RESULT 0 connects=3 echoes=3 pong=1 closed=1");
      expect(run.stdout).toMatch(/STATS pool_used=0 host_heap=0 ok=1\/1/);
      expect(run.status).toBe(0);
      expect(peer.handshakes.length).toBe(3);
      // The client saw each drop after the server made it, then waited reconnectMs before connecting again
      // (its clock counts whole milliseconds, hence the 1 ms).
      for (const i of [0, 1])
        expect(peer.handshakes[i + 1] - peer.dropped[i]).toBeGreaterThanOrEqual(reconnectMs - 1);
    } finally {
      await peer.close();
    }
  });

  it("the C client with disable_auto_reconnect connects once: DISCONNECTED, then FINISH", async () => {
    const peer = await droppingServer(["terminate"]);
    try {
      // A short reconnect_timeout_ms, so a reconnect that should not happen would happen within the run.
      const run = await client([
        "--uri",
        `ws://127.0.0.1:${peer.port}/`,
        "--reconnect-ms",
        "100",
        "--expect-connects",
        "2",
        "--timeout",
        "3000",
      ]);
      expect(lifecycle(run.stdout)).toEqual([
        "BEGIN 0",
        "BEFORE_CONNECT 0",
        "CONNECTED 0",
        "ERROR 1006",
        "DISCONNECTED 1006",
        "FINISH 0",
      ]);
      expect(run.stdout).toContain("RESULT 0 connects=1 ");
      expect(run.status).toBe(1);
      expect(peer.handshakes.length).toBe(1);
    } finally {
      await peer.close();
    }
  });

  const plain = t.plain;
  if (plain)
    it("survives 1,000 connect/disconnect cycles under valgrind (a build without sanitizers) with no leak and no engine heap growth", async () => {
      if (!hasValgrind) throw new Error("valgrind is not installed (apt-get install valgrind; .ci/run does)");
      await buildHost(plain);
      const checked = await startServer(
        plain,
        ["--max-clients", "4"],
        [
          "valgrind",
          "--leak-check=full",
          "--error-exitcode=1",
          "--errors-for-leak-kinds=definite,indirect",
          "-q",
        ],
      );
      const cycle = async () => {
        const { socket, received, ended } = await rawUpgrade(checked.port);
        socket.write(frame(1, Buffer.from("x")));
        for (let i = 0; i < 500 && received().length < 3; i++) await new Promise((r) => setTimeout(r, 2));
        socket.write(frame(8, Buffer.from([0x03, 0xe8])));
        await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
        socket.destroy();
        expect(received().subarray(0, 3)).toEqual(Buffer.from([0x81, 0x01, 0x78]));
      };
      for (let i = 0; i < 20; i++) await cycle();
      const before = await idleStats(checked);
      for (let i = 0; i < 980; i++) await cycle();
      const after = await idleStats(checked);
      expect(after.pool_used).toBe(before.pool_used);
      expect(after.host_heap).toBe(before.host_heap);
      expect(after.slots_used).toBe(0);
      expect(await checked.stop()).toBe(0);
    }, 90_000);
}
