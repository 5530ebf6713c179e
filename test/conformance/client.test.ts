// Our Node client as the peer under test (a raw TCP server writes exact bytes and reads exact frames), and
// 10.x auto-fragmentation by our server and client.
import { createHash } from "node:crypto";
import { once } from "node:events";
import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { WebSocket } from "../../runtimes/node/index.js";
import {
  closePayload,
  frame,
  listen,
  nextEvent,
  parseFrame,
  RawClient,
  type RawFrame,
} from "../runtimes/node/peers.js";
import { Op } from "./cases.js";

/** A one-connection raw server: completes the handshake, then lets the test write bytes and read frames. */
async function rawServer(): Promise<{
  url: string;
  peer: Promise<{ write: (b: Buffer) => void; readFrame: () => Promise<RawFrame>; ended: Promise<void> }>;
  close: () => Promise<void>;
}> {
  let resolvePeer!: (
    peer: Awaited<ReturnType<typeof rawServer>>["peer"] extends Promise<infer P> ? P : never,
  ) => void;
  const peer = new Promise<Parameters<typeof resolvePeer>[0]>((resolve) => (resolvePeer = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    let buffer = Buffer.alloc(0);
    let handshaken = false;
    const waiters: Array<() => void> = [];
    const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!handshaken) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const key = /Sec-WebSocket-Key: (\S+)/i.exec(buffer.subarray(0, end).toString())![1];
        buffer = buffer.subarray(end + 4);
        handshaken = true;
        const accept = createHash("sha1")
          .update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
          .digest("base64");
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        resolvePeer({
          write: (b) => socket.write(b),
          readFrame: async () => {
            for (let i = 0; i < 1000; i++) {
              const parsed = parseFrame(buffer);
              if (parsed) {
                buffer = buffer.subarray(parsed.size);
                return parsed.frame;
              }
              if (socket.destroyed) throw new Error("connection closed while waiting for a frame");
              await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), ended]);
            }
            throw new Error("no frame");
          },
          ended,
        });
      }
      for (const wake of waiters.splice(0)) wake();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`,
    peer,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const unmasked = (
  opcode: number,
  payload: Buffer | string = "",
  options: { fin?: boolean; rsv?: number } = {},
) => frame(opcode, payload, { ...options, mask: false });

describe("conformance: our client under test", () => {
  const failures: Array<[string, string, () => Buffer, number]> = [
    ["C.1.1", "a masked server frame", () => frame(Op.Text, "x", { mask: true }), 1002],
    ["C.1.2", "a reserved opcode", () => unmasked(3, "x"), 1002],
    ["C.1.3", "RSV1 without an extension", () => unmasked(Op.Text, "x", { rsv: 4 }), 1002],
    [
      "C.1.4",
      "invalid UTF-8 text",
      () => unmasked(Op.Text, Buffer.from("cebae1bdb9cf83cebcceb5eda080", "hex")),
      1007,
    ],
    ["C.1.5", "a ping of 126 bytes", () => unmasked(Op.Ping, Buffer.alloc(126)), 1002],
    ["C.1.6", "a continuation with no message", () => unmasked(Op.Continuation, "x"), 1002],
    ["C.1.7", "an invalid close code", () => unmasked(Op.Close, closePayload(1005)), 1002],
    ["C.1.8", "a message past maxPayload", () => unmasked(Op.Binary, Buffer.alloc(2000)), 1009],
  ];
  for (const [id, what, bytes, code] of failures) {
    it(`${id} fails the connection on ${what} with ${code} (masked close frame)`, async () => {
      const server = await rawServer();
      const ws = new WebSocket(server.url, [], { maxPayload: 1000, closeTimeout: 200 });
      const errored = nextEvent(ws, "error");
      const closed = nextEvent<CloseEvent>(ws, "close");
      const peer = await server.peer;
      peer.write(bytes());
      const reply = await peer.readFrame();
      expect([reply.opcode, reply.masked, reply.payload.readUInt16BE(0)]).toEqual([Op.Close, true, code]);
      await errored;
      // The client waits for the server to close TCP (RFC 6455 §7.1.1), then gives up at closeTimeout.
      expect((await closed).wasClean).toBe(false);
      await server.close();
    });
  }

  it("C.2.1 answers a ping with a masked pong carrying the same payload", async () => {
    const server = await rawServer();
    const ws = new WebSocket(server.url);
    const peer = await server.peer;
    peer.write(unmasked(Op.Ping, "are you there"));
    const pong = await peer.readFrame();
    expect([pong.opcode, pong.masked, pong.payload.toString()]).toEqual([Op.Pong, true, "are you there"]);
    ws.terminate();
    await server.close();
  });

  it("C.2.2 reassembles fragments with a ping between them", async () => {
    const server = await rawServer();
    const ws = new WebSocket(server.url);
    const message = nextEvent<MessageEvent>(ws, "message");
    const peer = await server.peer;
    peer.write(
      Buffer.concat([
        unmasked(Op.Text, "frag", { fin: false }),
        unmasked(Op.Ping, "p"),
        unmasked(Op.Continuation, "ment"),
      ]),
    );
    expect((await peer.readFrame()).opcode).toBe(Op.Pong);
    expect((await message).data).toBe("fragment");
    ws.terminate();
    await server.close();
  });

  it("C.3.1 echoes the server's close code and reason, then waits for the server to end TCP", async () => {
    const server = await rawServer();
    const ws = new WebSocket(server.url);
    const closed = nextEvent<CloseEvent>(ws, "close");
    const peer = await server.peer;
    peer.write(unmasked(Op.Close, closePayload(4000, "bye")));
    const reply = await peer.readFrame();
    expect([
      reply.opcode,
      reply.masked,
      reply.payload.readUInt16BE(0),
      reply.payload.subarray(2).toString(),
    ]).toEqual([Op.Close, true, 4000, "bye"]);
    expect(ws.readyState).toBe(ws.CLOSING);
    await server.close(); // the server ends TCP
    const event = await closed;
    expect([event.code, event.reason, event.wasClean]).toEqual([4000, "bye", true]);
  });

  it("C.3.2 client close: a masked close frame, then the server's reply ends it cleanly", async () => {
    const server = await rawServer();
    const ws = new WebSocket(server.url);
    await nextEvent(ws, "open");
    const peer = await server.peer;
    ws.close(3001, "client bye");
    const sent = await peer.readFrame();
    expect([sent.opcode, sent.masked, sent.payload.readUInt16BE(0)]).toEqual([Op.Close, true, 3001]);
    peer.write(unmasked(Op.Close, closePayload(3001, "client bye")));
    await server.close();
    const event = await nextEvent<CloseEvent>(ws, "close");
    expect([event.code, event.wasClean]).toEqual([3001, true]);
  });
});

describe("conformance 10.x: auto-fragmentation", () => {
  it("10.1.1 our server splits a 64 KiB text message into frames of at most fragmentSize", async () => {
    const { wss, port } = await listen({ heartbeat: false });
    const message = "x".repeat(65536);
    wss.on("connection", (ws) => ws.send(message, { fragmentSize: 1300 }));
    const raw = await RawClient.open(port);
    const frames: RawFrame[] = [];
    do frames.push(await raw.readFrame());
    while (!frames.at(-1)!.fin && frames.length < 100);
    expect(frames.length).toBe(Math.ceil(65536 / 1300));
    expect(frames[0].opcode).toBe(Op.Text);
    expect(frames.slice(1).every((f) => f.opcode === Op.Continuation && !f.masked)).toBe(true);
    expect(frames.every((f) => f.payload.length <= 1300)).toBe(true);
    expect(frames.slice(0, -1).every((f) => !f.fin)).toBe(true);
    expect(Buffer.concat(frames.map((f) => f.payload)).toString()).toBe(message);
    raw.destroy();
    await wss.close();
  });

  it("10.1.2 our client splits every send at maxFragmentSize, each frame masked", async () => {
    const server = await rawServer();
    const ws = new WebSocket(server.url, [], { maxFragmentSize: 3 });
    await nextEvent(ws, "open");
    const peer = await server.peer;
    ws.send(Buffer.from([1, 2, 3, 4, 5, 6, 7]));
    const frames = [await peer.readFrame(), await peer.readFrame(), await peer.readFrame()];
    expect(frames.map((f) => [f.opcode, f.fin, f.masked, [...f.payload]])).toEqual([
      [Op.Binary, false, true, [1, 2, 3]],
      [Op.Continuation, false, true, [4, 5, 6]],
      [Op.Continuation, true, true, [7]],
    ]);
    ws.terminate();
    await server.close();
  });
});
