// The C server when it is full, and every way it ends a connection, on every target of host.ts:
// - a new client past max_clients takes the place of the open peer least worth keeping (silent after a
//   heartbeat ping; with lru_purge_enable, the least recently active: one that sent nothing since its upgrade
//   first), which gets close 1013 "server full"; a connection past the handshake table takes the place of the
//   oldest one still in its handshake, which gets 503. Before, silent peers held every slot until the heartbeat
//   or handshake timeout and new clients got 503 or a bare FIN (the halfopen and slowloris attacks).
// - a peer we end gets its close frame behind what was queued for it (send queue full, send timeout: 1008),
//   whole frames first; wsk_server_stop closes open peers with 1001 and waits for their replies (bounded by
//   close_timeout_ms), and answers those in their handshake 503. Before, those endings had no close frame, and
//   stop closed sockets right after its 1001 (reporting 1001 whatever the peer answered).
import * as net from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import {
  closePayload,
  frame,
  parseFrame,
  RawClient,
  upgradeRequest,
  type RawFrame,
} from "../../support/raw-client.js";
import { buildHost, startServer, takeSanitizerReports, targets, type Server, type Target } from "./host.js";
import { closed, nextMessage, openWs } from "./ws-peer.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every frame in `bytes`; throws if bytes are left over (a frame cut short). */
function frames(bytes: Buffer): RawFrame[] {
  const all: RawFrame[] = [];
  for (let parsed = parseFrame(bytes); parsed; parsed = parseFrame(bytes)) {
    all.push(parsed.frame);
    bytes = bytes.subarray(parsed.size);
  }
  if (bytes.length) throw new Error(`${bytes.length} bytes after the last whole frame`);
  return all;
}

/** A close frame's code and reason. */
const closeOf = (f: RawFrame) => ({
  opcode: f.opcode,
  code: f.payload.readUInt16BE(0),
  reason: f.payload.subarray(2).toString(),
});

/** Wait (bounded) until `ready()`; false if it never was. */
async function until(ready: () => boolean, ms = 20_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ready() && Date.now() < deadline) await sleep(20);
  return ready();
}

/** The text of `ws`'s next message, or a description of its close if it closes first (bounded: 20 s). */
function echoOrClose(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("no echo in 20 s"), 20_000);
    ws.once("message", (data: Buffer) => (clearTimeout(timer), resolve(data.toString())));
    ws.once("close", (code, reason) => (clearTimeout(timer), resolve(`closed ${code} ${reason.toString()}`)));
  });
}

/** How many on_close lines the server logged with `code` and `reason`. */
const closes = (server: Server, code: number, reason = "") =>
  (server.stderr().match(new RegExp(`client \\d+ closed: ${code} ${reason}`, "g")) ?? []).length;

for (const t of targets) describe(`C server: full, and its endings [${t.name}]`, () => suite(t));

function suite(t: Target): void {
  const servers: Server[] = [];
  const serve = async (args: string[]) => {
    const server = await startServer(t, args);
    servers.push(server);
    return server;
  };
  const open = (server: Server) => openWs(`ws://127.0.0.1:${server.port}/`);
  const echo = async (ws: Awaited<ReturnType<typeof open>>, text: string) => {
    ws.send(text);
    expect((await nextMessage(ws)).data.toString()).toBe(text);
  };

  beforeAll(() => buildHost(t), 180_000);

  afterEach(async () => {
    for (const server of servers.splice(0)) expect(await server.stop()).toBe(0);
    expect(takeSanitizerReports()).toEqual([]);
  });

  it("gives a new client the place of a silent upgraded peer (close 1013 'server full'), never the active one's", async () => {
    const server = await serve(["--max-clients", "3"]);
    const active = await open(server);
    await echo(active, "first"); // it spoke before the silent ones upgraded: least recently heard from, yet kept
    const silent = [await RawClient.open(server.port), await RawClient.open(server.port)];
    for (const n of [1, 2]) {
      const fresh = await open(server); // before: 503
      await echo(fresh, `fresh ${n}`);
      const victim = silent[n - 1];
      expect(closeOf(await victim.readFrame())).toEqual({ opcode: 8, code: 1013, reason: "server full" });
      expect(await victim.closed()).toBe(true);
      if (n === 1) expect(silent[1].ended).toBe(false); // the oldest silent one went first
      await echo(active, `still here ${n}`);
    }
    expect(closes(server, 1013, "server full")).toBe(2);
    active.close();
    await closed(active);
  }, 60_000);

  it("with lru_purge_enable off: 503 while every open peer is active, a peer silent after a heartbeat ping gives its place", async () => {
    const server = await serve(["--max-clients", "2", "--lru-purge", "off", "--heartbeat", "300,60000"]);
    const silent = await RawClient.open(server.port); // reads, never answers
    const live = await open(server); // ws answers every ping
    const status = () =>
      openWs(`ws://127.0.0.1:${server.port}/`).then(
        (ws) => (ws.close(), 101),
        (error: Error) => Number(/(\d{3})/.exec(error.message)?.[1] ?? 0),
      );
    expect(await status()).toBe(503); // nobody silent yet: LRU purge is off
    expect((await silent.readFrame(20_000)).opcode).toBe(9); // the heartbeat's ping, never answered
    const fresh = await open(server); // before: 503
    await echo(fresh, "fresh");
    expect(closeOf(await silent.readFrame())).toEqual({ opcode: 8, code: 1013, reason: "server full" });
    await echo(live, "live");
    live.close();
    fresh.close();
    await Promise.all([closed(live), closed(fresh)]);
  }, 60_000);

  it("gives a new connection the place of the oldest still in its handshake, which gets 503", async () => {
    // max_clients 1: a table of 3 entries, all held by peers that sent half a request head.
    const server = await serve(["--max-clients", "1"]);
    const slow: RawClient[] = [];
    for (let i = 0; i < 3; i++) {
      const peer = await RawClient.connect(server.port);
      peer.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      slow.push(peer);
    }
    await sleep(100);
    const fresh = await open(server); // before: the connection was closed at accept, no response
    await echo(fresh, "fresh");
    expect(await slow[0].readHead()).toMatch(/^HTTP\/1\.1 503 /);
    expect(await slow[0].closed()).toBe(true);
    expect(slow[1].ended || slow[2].ended).toBe(false);
    fresh.close();
    await closed(fresh);
    for (const peer of slow) peer.destroy();
  }, 60_000);

  it("in a burst of connections larger than its table, with silent peers in every slot, every client that speaks at once gets its 101 and its echo", async () => {
    // max_clients 3: 3 slots, a table of 5. Silent upgraded peers hold the slots; then, in one burst, 9 more
    // connections that send their request at once and then nothing (the halfopen attack), 3 ws clients among
    // them, each sending a message as soon as it is open. Before: the server accepted the whole burst in one
    // turn, each new connection refusing (503) the oldest still in its handshake before its request was read,
    // and each upgrade ended (1013) the oldest peer that had not spoken yet, a client just upgraded included.
    // A grace of 1 s (100 ms by default) keeps a stalled test process from counting as a silent client; the
    // burst then goes through 3 per second, within the 5 s handshake timeout.
    const server = await serve(["--max-clients", "3", "--grace", "1000"]);
    const holders = await Promise.all([0, 1, 2].map(() => RawClient.open(server.port)));
    await sleep(1100); // past their grace: theirs are the places to take
    const silent: net.Socket[] = [];
    const clients: Promise<string>[] = [];
    for (let i = 0; i < 12; i++) {
      if (i % 4 === 1) {
        const text = `fresh ${clients.length}`;
        clients.push(
          open(server).then(async (ws) => {
            const reply = echoOrClose(ws);
            ws.send(text);
            const got = await reply;
            ws.close();
            return got;
          }),
        );
      } else {
        const socket = net.connect(server.port, "127.0.0.1");
        socket.on("error", () => {});
        socket.write(upgradeRequest(server.port));
        silent.push(socket);
      }
    }
    const results = await Promise.allSettled(clients);
    const outcome = (r: PromiseSettledResult<string>) =>
      r.status === "fulfilled" ? r.value : `failed: ${(r.reason as Error).message}`;
    expect(results.map(outcome)).toEqual(clients.map((_, i) => `fresh ${i}`)); // before: 503s and 1013s
    for (const socket of silent) socket.destroy();
    for (const holder of holders) holder.destroy();
  }, 60_000);

  for (const kind of ["pings", "messages"] as const)
    it(`a peer that floods ${kind} and never reads gets close 1008 'send queue full' behind whole frames once it reads`, async () => {
      const server = await serve(["--close-timeout", "20000"]);
      const peer = await RawClient.open(server.port);
      peer.socket.pause();
      const unit = kind === "pings" ? frame(9, Buffer.alloc(125, 0x70)) : frame(2, Buffer.alloc(65536, 0x6d));
      const chunk = Buffer.concat(Array.from({ length: kind === "pings" ? 512 : 1 }, () => unit));
      const ended = () => closes(server, 1008, "send queue full") > 0;
      // Bounded: one chunk at a time; 256 MiB would outlast any socket buffer.
      for (let sent = 0; !ended() && sent < 256 << 20; sent += chunk.length)
        if (!peer.socket.write(chunk))
          await Promise.race([new Promise((r) => peer.socket.once("drain", r)), sleep(200)]);
      expect(await until(ended)).toBe(true);
      peer.socket.resume();
      const received = frames(await peer.readAll(30_000)); // before: RST or FIN, no close frame
      const close = received.at(-1)!;
      expect(closeOf(close)).toEqual({ opcode: 8, code: 1008, reason: "send queue full" });
      expect(new Set(received.slice(0, -1).map((f) => f.opcode))).toEqual(
        new Set([kind === "pings" ? 10 : 2]),
      );
      peer.destroy();
    }, 90_000);

  it("a peer that takes none of its queued echoes for send_timeout_ms gets close 1008 'send timeout' behind them", async () => {
    const server = await serve([
      "--send-timeout",
      "300",
      "--max-send-queue",
      String(64 << 20),
      "--close-timeout",
      "20000",
    ]);
    const peer = await RawClient.open(server.port);
    peer.socket.pause();
    const message = frame(2, Buffer.alloc(65536, 0x73));
    const ended = () => closes(server, 1008, "send timeout") > 0;
    for (let sent = 0; !ended() && sent < 32 << 20; sent += message.length)
      if (!peer.socket.write(message))
        await Promise.race([new Promise((r) => peer.socket.once("drain", r)), sleep(200)]);
    expect(await until(ended)).toBe(true); // before: 1006, no close frame
    peer.socket.resume();
    const received = frames(await peer.readAll(30_000));
    expect(closeOf(received.at(-1)!)).toEqual({ opcode: 8, code: 1008, reason: "send timeout" });
    expect(received.slice(0, -1).every((f) => f.opcode === 2 && f.payload.length === 65536)).toBe(true);
    peer.destroy();
  }, 90_000);

  it("wsk_server_stop: 1001 'server stopping' to open peers, their replies awaited (bounded), 503 to one in its handshake", async () => {
    const server = await startServer(t, ["--close-timeout", "3000"]);
    const answering = await RawClient.open(server.port);
    const silent = await RawClient.open(server.port); // reads, never answers the close
    const handshaking = await RawClient.connect(server.port);
    handshaking.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const ws = await open(server);
    const wsClosed = closed(ws);
    await echo(ws, "before stop");
    await sleep(100);
    const exited = server.stop();
    expect(closeOf(await answering.readFrame())).toEqual({
      opcode: 8,
      code: 1001,
      reason: "server stopping",
    });
    answering.write(frame(8, closePayload(4001, "bye")));
    expect(await answering.closed()).toBe(true);
    expect(closeOf(await silent.readFrame())).toEqual({ opcode: 8, code: 1001, reason: "server stopping" });
    expect(await handshaking.readHead()).toMatch(/^HTTP\/1\.1 503 /); // before: closed without a response
    expect(await wsClosed).toEqual({ code: 1001, reason: "server stopping" });
    expect(await exited).toBe(0); // the silent peer held it at most close_timeout_ms
    expect(await silent.closed()).toBe(true);
    // on_close reports each peer's own reply; before, 1001 for all (the socket closed before any reply).
    expect(server.stderr()).toMatch(/client \d+ closed: 4001 bye/);
    expect(closes(server, 1001, "server stopping")).toBe(1); // ws's reply
    expect(closes(server, 1006)).toBe(1); // the silent one: our close unanswered
    expect(takeSanitizerReports()).toEqual([]);
  }, 60_000);
}
