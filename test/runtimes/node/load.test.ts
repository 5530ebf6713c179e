// Bad input and load: violations closed with their code while others keep echoing, 1,000 concurrent
// connections, a slow reader held to the high-water mark, maxBufferedAmount.
import { describe, expect, it } from "vitest";
import { WebSocket, type ServerConnection } from "../../../runtimes/node/index.js";
import {
  closePayload,
  echoServer,
  frame,
  listen,
  nextEvent,
  openClient,
  RawClient,
  within,
} from "./peers.js";

const Op = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 };

/** Violations and the close code the server must answer with. */
const violations: Array<[string, () => Buffer, number]> = [
  ["reserved opcode 3", () => frame(3, "x"), 1002],
  ["RSV1 without an extension", () => frame(Op.Text, "x", { rsv: 4 }), 1002],
  ["unmasked client frame", () => frame(Op.Text, "x", { mask: false }), 1002],
  ["ping longer than 125 bytes", () => frame(Op.Ping, Buffer.alloc(126)), 1002],
  ["fragmented ping", () => frame(Op.Ping, "x", { fin: false }), 1002],
  ["continuation with no message", () => frame(Op.Continuation, "x"), 1002],
  [
    "text inside a fragmented message",
    () => Buffer.concat([frame(Op.Text, "a", { fin: false }), frame(Op.Text, "b")]),
    1002,
  ],
  ["invalid UTF-8 text", () => frame(Op.Text, Buffer.from([0xce, 0xba, 0xff])), 1007],
  ["close with a 1-byte payload", () => frame(Op.Close, Buffer.from([3])), 1002],
  ["close with code 1005", () => frame(Op.Close, closePayload(1005)), 1002],
  [
    "close with invalid UTF-8 reason",
    () => frame(Op.Close, Buffer.concat([closePayload(1000), Buffer.from([0xff])])),
    1007,
  ],
  ["message past maxPayload", () => frame(Op.Binary, Buffer.alloc(70_000)), 1009],
];

describe("protocol violations", () => {
  it("each violation is closed with its code while 100 other connections keep echoing", async () => {
    const { wss, port, url } = await echoServer({ maxPayload: 65536 });
    const others = await Promise.all(Array.from({ length: 100 }, () => openClient(url)));
    for (const [name, bytes, code] of violations) {
      const raw = await RawClient.open(port);
      raw.write(bytes());
      const reply = await raw.readFrame();
      expect([name, reply.opcode, reply.payload.readUInt16BE(0)]).toEqual([name, Op.Close, code]);
      expect(await raw.closed()).toBe(true);
      const round = others.map(
        (ws, i) =>
          new Promise<boolean>((resolve) => {
            ws.addEventListener("message", (e) => resolve((e as MessageEvent).data === `${name} ${i}`), {
              once: true,
            });
            ws.send(`${name} ${i}`);
          }),
      );
      expect((await within(Promise.all(round), 10_000, name)).every(Boolean)).toBe(true);
    }
    const closed = others.map((ws) => nextEvent(ws, "close"));
    await wss.close();
    await Promise.all(closed);
  });
});

describe("load", () => {
  it("1,000 concurrent connections each echo their own messages", async () => {
    const { wss, url } = await echoServer();
    const count = 1000;
    const clients: WebSocket[] = [];
    for (let batch = 0; batch < count; batch += 100)
      clients.push(...(await Promise.all(Array.from({ length: 100 }, () => openClient(url)))));
    expect(wss.clients.size).toBe(count);
    const results = await within(
      Promise.all(
        clients.map(
          (ws, i) =>
            new Promise<boolean>((resolve) => {
              const expected = [`a${i}`, `b${i}`, `c${i}`];
              const got: string[] = [];
              ws.onmessage = (e) => {
                got.push((e as MessageEvent).data);
                if (got.length === 3) resolve(got.join() === expected.join());
              };
              for (const m of expected) ws.send(m);
            }),
        ),
      ),
      20_000,
      "1,000 echoes",
    );
    expect(results.every(Boolean)).toBe(true);
    const closed = clients.map((ws) => nextEvent(ws, "close"));
    await wss.close();
    await Promise.all(closed);
  });
});

describe("backpressure", () => {
  it("a sender that waits for drain holds a slow reader to the high-water mark", async () => {
    const highWaterMark = 256 * 1024;
    const { wss, port } = await listen({ highWaterMark, heartbeat: false });
    const chunk = Buffer.alloc(16 * 1024, 1);
    let peak = 0;
    let sent = 0;
    const total = 2000; // 32 MiB: more than the kernel's socket buffers take from a reader that pauses
    const done = new Promise<void>((resolve) =>
      wss.on("connection", (ws: ServerConnection) => {
        const pump = () => {
          while (sent < total && ws.bufferedAmount < highWaterMark) {
            ws.send(chunk);
            sent++;
            peak = Math.max(peak, ws.bufferedAmount);
          }
          if (sent === total) resolve();
          else ws.once("drain", pump);
        };
        pump();
      }),
    );
    const raw = await RawClient.open(port);
    raw.socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sent).toBeLessThan(total);
    raw.socket.removeAllListeners("data");
    raw.socket.on("data", () => {}); // read and discard
    raw.socket.resume();
    await within(done, 10_000, "all chunks sent");
    expect(peak).toBeLessThanOrEqual(highWaterMark + chunk.length + 14);
    raw.destroy();
    await wss.close();
  });

  it("a sender that ignores backpressure is stopped at maxBufferedAmount with 1008", async () => {
    const maxBufferedAmount = 1024 * 1024;
    const { wss, port } = await listen({ maxBufferedAmount, heartbeat: false, closeTimeout: 500 });
    let peak = 0;
    let errors = 0;
    wss.on("connection", (ws) => {
      ws.on("error", () => errors++);
      const chunk = Buffer.alloc(64 * 1024);
      const flood = () => {
        for (let i = 0; i < 8 && ws.readyState === ws.OPEN; i++) {
          ws.send(chunk);
          peak = Math.max(peak, ws.bufferedAmount);
        }
        if (ws.readyState === ws.OPEN) setImmediate(flood);
      };
      flood();
    });
    const serverClosed = new Promise<number>((resolve) =>
      wss.once("connection", (ws) => ws.once("close", (code) => resolve(code))),
    );
    const raw = await RawClient.open(port);
    raw.socket.pause();
    // The peer never reads, so no close reply comes: the close timeout destroys the socket (1006 here).
    expect(await within(serverClosed, 10_000, "server gives up on the slow reader")).toBe(1006);
    raw.destroy();
    expect(errors).toBe(1);
    expect(peak).toBeLessThanOrEqual(maxBufferedAmount + 8 * (64 * 1024 + 14));
    await wss.close();
  });

  it("the close frame of an overflowed connection carries 1008 for a reader that catches up", async () => {
    const { wss, port } = await listen({ maxBufferedAmount: 64 * 1024, heartbeat: false });
    wss.on("connection", (ws) => {
      ws.on("error", () => {});
      for (let i = 0; i < 40; i++) ws.send(Buffer.alloc(16 * 1024));
      setImmediate(() => ws.send("one more"));
    });
    const raw = await RawClient.open(port);
    let last;
    for (let i = 0; i < 50; i++) {
      last = await raw.readFrame();
      if (last.opcode === Op.Close) break;
    }
    expect(last!.opcode).toBe(Op.Close);
    expect(last!.payload.readUInt16BE(0)).toBe(1008);
    raw.destroy();
    await wss.close();
  });
});
