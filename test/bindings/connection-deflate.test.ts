// WireConnection with permessage-deflate negotiated: RSV1 on the wire, inflating with limits, text checked
// after inflating, and the engine still refusing RSV1 where the RFC forbids it.
import * as zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { Role, WireConnection, type ConnectionHandler } from "../../bindings/protocol/connection.js";
import { createEngine } from "../../bindings/engine/embedded.js";
import type { DeflateSession } from "../../bindings/protocol/extensions.js";
import { PerMessageDeflate, SYNC_INFLATE_BYTES } from "../../bindings/protocol/permessage-deflate.js";
import type { WebSocketProtocolError } from "../../bindings/engine/errors.js";
import { nodeDeflateCodec, openInflateStreams } from "../../runtimes/node/deflate.js";

const session = (takeover: boolean): DeflateSession => ({
  sendNoContextTakeover: !takeover,
  sendWindowBits: 15,
  receiveNoContextTakeover: !takeover,
  receiveWindowBits: 15,
});

interface End {
  conn: WireConnection;
  wire: Uint8Array[];
  messages: Array<[Uint8Array, boolean]>;
  errors: WebSocketProtocolError[];
  /** Messages and pings in the order delivered ("m:<first bytes>", "ping:<payload>"). */
  order: string[];
  /** The `holding` hook's calls. */
  holding: boolean[];
}

function end(role: 0 | 1, deflate: boolean, maxPayload = 1 << 20, takeover = true, threshold = 16): End {
  const engine = createEngine({ maxConnections: 1, ioBytes: 192 * 1024 }, "simd");
  const result: End = { conn: null!, wire: [], messages: [], errors: [], order: [], holding: [] };
  const handler: ConnectionHandler = {
    message: (data, isBinary) => {
      result.messages.push([data, isBinary]);
      result.order.push(`m:${Buffer.from(data.subarray(0, 12)).toString()}`);
    },
    ping: (data) => result.order.push(`ping:${Buffer.from(data).toString()}`),
    pong() {},
    close() {},
    error: (error) => result.errors.push(error),
    closed() {},
    write: (bytes) => result.wire.push(bytes.slice()),
    holding: (on) => result.holding.push(on),
  };
  result.conn = new WireConnection({ engine, slot: 0 }, handler, {
    role,
    maxPayload,
    deflate: deflate
      ? new PerMessageDeflate(session(takeover), nodeDeflateCodec, { maxPayload, threshold })
      : undefined,
  });
  return result;
}

function take(from: End): Uint8Array {
  const bytes = Buffer.concat(from.wire);
  from.wire = [];
  return bytes;
}

/** Wait (bounded) until `from` has `count` messages or an error: large ones inflate off the event loop. */
async function delivered(from: End, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (from.messages.length < count && from.errors.length === 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 1));
}

const text = (n: number, seed = 0) =>
  Array.from({ length: n }, (_, i) => '{"k":' + ((i * 31 + seed) % 97) + "}")
    .join(",")
    .slice(0, n);

describe("WireConnection with permessage-deflate", () => {
  for (const takeover of [true, false])
    it(`exchanges compressed messages both ways (${takeover ? "" : "no "}context takeover, fragmented or not)`, async () => {
      const server = end(Role.Server, true, 1 << 20, takeover);
      const client = end(Role.Client, true, 1 << 20, takeover);
      for (const [i, size] of [20, 1000, 5000, 70_000, 200_000].entries()) {
        for (const fragmentSize of [0, 100, 4096]) {
          const message = text(size, i);
          client.conn.send(message, false, fragmentSize);
          const bytes = take(client);
          expect(bytes[0] & 0x40).toBe(0x40); // RSV1 on the first frame
          if (size >= 1000) expect(bytes.length).toBeLessThan(size);
          const count = server.messages.length + 1;
          server.conn.receive(bytes);
          await delivered(server, count);
          server.conn.send(new TextEncoder().encode(message), true, fragmentSize);
          client.conn.receive(take(server));
          await delivered(client, count);
        }
      }
      expect(server.errors).toEqual([]);
      expect(client.errors).toEqual([]);
      expect(server.messages.map(([data, bin]) => [new TextDecoder().decode(data), bin])).toEqual(
        [20, 1000, 5000, 70_000, 200_000].flatMap((size, i) => Array(3).fill([text(size, i), false])),
      );
      expect(client.messages.every(([, bin]) => bin)).toBe(true);
    });

  it("sends messages below the threshold uncompressed, and receives uncompressed ones", () => {
    const server = end(Role.Server, true);
    server.conn.send("tiny");
    const bytes = take(server);
    expect(Buffer.from(bytes).toString("hex")).toBe("8104" + Buffer.from("tiny").toString("hex"));
    const client = end(Role.Client, true);
    client.conn.receive(bytes);
    expect(new TextDecoder().decode(client.messages[0][0])).toBe("tiny");
  });

  it("closes with 1009 after at most maxPayload inflated bytes (a 1 MiB bomb of 1 KiB)", () => {
    const server = end(Role.Server, true, 64 * 1024);
    const client = end(Role.Client, false);
    const bomb = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    expect(bomb.length).toBeLessThan(2048);
    // A client frame with RSV1 set, built by hand (the client end did not negotiate deflate).
    const payload = bomb.subarray(0, bomb.length - 4);
    const frame = Buffer.concat([
      Buffer.from([0xc2, 0xfe, payload.length >> 8, payload.length & 0xff, 0, 0, 0, 0]),
      payload,
    ]);
    server.conn.receive(frame);
    expect(server.errors.map((e) => [e.closeCode, e.rule])).toEqual([[1009, "InflatedTooBig"]]);
    expect(Buffer.from(take(server)).toString("hex")).toBe("880203f1");
    expect(server.messages).toEqual([]);
    void client;
  });

  it("closes with 1007 when inflated text is not UTF-8, and when the data is not deflate", () => {
    for (const [payload, rule] of [
      [
        zlib.deflateRawSync(Buffer.from([0x68, 0xff, 0xfe, 0x69]), {
          finishFlush: zlib.constants.Z_SYNC_FLUSH,
        }),
        "InvalidUtf8",
      ],
      [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff]), "InvalidCompressedData"],
    ] as const) {
      const server = end(Role.Server, true);
      const body = payload.subarray(0, payload.length - 4);
      server.conn.receive(Buffer.concat([Buffer.from([0xc1, 0x80 | body.length, 0, 0, 0, 0]), body]));
      expect(server.errors.map((e) => [e.closeCode, e.rule])).toEqual([[1007, rule]]);
      expect(Buffer.from(take(server)).toString("hex")).toBe("880203ef");
      if (rule !== "InvalidCompressedData") continue;
      // As ws reports it: zlib's own message and code.
      let zlibError: Error & { code?: string } = new Error();
      try {
        zlib.inflateRawSync(payload);
      } catch (error) {
        zlibError = error as Error;
      }
      expect(server.errors.map((e) => [e.code, e.message, e.errno])).toEqual([
        ["Z_DATA_ERROR", zlibError.message, -3],
      ]);
    }
  });

  it("the engine still fails RSV1 on continuation and control frames (1002), and without deflate", () => {
    for (const [deflate, frames] of [
      [true, [0x01, 0x80, 0, 0, 0, 0, 0xc0, 0x80, 0, 0, 0, 0]], // RSV1 on a continuation
      [true, [0xc9, 0x80, 0, 0, 0, 0]], // RSV1 on a ping
      [false, [0xc1, 0x80, 0, 0, 0, 0]], // RSV1 not negotiated
    ] as const) {
      const server = end(Role.Server, deflate);
      server.conn.receive(new Uint8Array(frames));
      expect(server.errors.map((e) => [e.closeCode, e.rule, e.code])).toEqual([
        [1002, "UnexpectedRsv1", "WS_ERR_UNEXPECTED_RSV_1"],
      ]);
    }
  });

  it("an uncompressed message may not exceed maxPayload, though compressed ones get stored-block slack", () => {
    const server = end(Role.Server, true, 100);
    server.conn.receive(new Uint8Array([0x82, 0x80 | 101, 0, 0, 0, 0, ...new Uint8Array(101)]));
    expect(server.errors.map((e) => [e.closeCode, e.rule])).toEqual([[1009, "MessageTooBig"]]);
    const ok = end(Role.Server, true, 100);
    const stored = zlib.deflateRawSync(new Uint8Array(100), {
      level: 0,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    const body = stored.subarray(0, stored.length - 4);
    expect(body.length).toBeGreaterThan(100);
    ok.conn.receive(Buffer.concat([Buffer.from([0xc2, 0x80 | body.length, 0, 0, 0, 0]), body]));
    expect(ok.errors).toEqual([]);
    expect(ok.messages[0][0]).toHaveLength(100);
  });
});

/** Wait (bounded) until `done()` holds. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
}

/** A masked client frame (zero key) with `payload`, RSV1 when `rsv1`. */
function clientFrame(byte0: number, payload: Uint8Array): Buffer {
  const n = payload.length;
  const header =
    n < 126
      ? [byte0, 0x80 | n]
      : n < 65536
        ? [byte0, 0xfe, n >> 8, n & 0xff]
        : [byte0, 0xff, 0, 0, 0, 0, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([...header, 0, 0, 0, 0]), payload]);
}

/** A client's compressed binary message of `size` zeros (inflates to `size`), as one frame. */
function zerosFrame(size: number): Buffer {
  const deflated = zlib.deflateRawSync(Buffer.alloc(size), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return clientFrame(0xc2, deflated.subarray(0, deflated.length - 4));
}

describe("inflating off the event loop", () => {
  it("keeps the order of messages and pings, compressed (small and large) and not, at any read size", async () => {
    const sizes = [20, 100_000, 2000, 80_000, 50, 70_000, 5];
    for (const readSize of [Infinity, 65536, 1000, 7]) {
      const client = end(Role.Client, true);
      const server = end(Role.Server, true, 1 << 20);
      const expected: string[] = [];
      for (let round = 0; round < 3; round++)
        for (const [i, size] of sizes.entries()) {
          const tag = `${round}-${i}`.padEnd(12, ".");
          const message = tag + text(size, i).slice(12);
          // Every third message uncompressed, every fourth in 1000-byte fragments, a ping between some.
          client.conn.send(message, false, i % 4 === 3 ? 1000 : 0, i % 3 !== 2);
          expected.push(`m:${tag}`);
          if (i % 2 === 0) {
            client.conn.ping(new TextEncoder().encode(`p${round}-${i}`));
            expected.push(`ping:p${round}-${i}`);
          }
        }
      const bytes = take(client);
      for (let at = 0; at < bytes.length; at += Math.min(readSize, bytes.length))
        server.conn.receive(bytes.subarray(at, at + readSize));
      await until(() => server.order.length === expected.length || server.errors.length > 0);
      expect(server.errors).toEqual([]);
      expect(server.order).toEqual(expected);
      // Large messages went off the event loop: input was held, then released, once per hold.
      expect(server.holding.length).toBeGreaterThan(0);
      expect(server.holding.filter((on) => on).length).toBe(server.holding.filter((on) => !on).length);
      expect(server.holding.at(-1)).toBe(false);
    }
  });

  it("fails a bomb past the event-loop size with 1009 and delivers nothing behind it", async () => {
    const maxPayload = 1 << 20;
    const server = end(Role.Server, true, maxPayload);
    const bomb = zerosFrame(64 << 20); // about 64 KiB on the wire
    const after = clientFrame(0x81, Buffer.from("after"));
    server.conn.receive(Buffer.concat([clientFrame(0x81, Buffer.from("before")), bomb, after]));
    expect(server.order).toEqual(["m:before"]);
    expect(server.errors).toEqual([]); // still inflating, off the event loop
    expect(openInflateStreams()).toBe(1);
    server.conn.receive(after); // arrives while it inflates: held
    await until(() => server.errors.length > 0);
    expect(server.errors.map((e) => [e.closeCode, e.rule])).toEqual([[1009, "InflatedTooBig"]]);
    expect(Buffer.from(take(server)).toString("hex")).toBe("880203f1");
    expect(server.order).toEqual(["m:before"]);
    expect(server.holding).toEqual([true, false]);
    await until(() => openInflateStreams() === 0);
    expect(openInflateStreams()).toBe(0);
  });

  it("inflates a message just past the event-loop size off it, and one within it at once", async () => {
    const server = end(Role.Server, true, 1 << 20);
    server.conn.receive(zerosFrame(SYNC_INFLATE_BYTES));
    expect(server.messages.map(([data]) => data.length)).toEqual([SYNC_INFLATE_BYTES]);
    server.conn.receive(zerosFrame(SYNC_INFLATE_BYTES + 1));
    expect(server.messages).toHaveLength(1);
    await delivered(server, 2);
    expect(server.messages.map(([data]) => data.length)).toEqual([
      SYNC_INFLATE_BYTES,
      SYNC_INFLATE_BYTES + 1,
    ]);
    expect(server.messages[1][0].every((byte) => byte === 0)).toBe(true);
  });

  it("releasing the connection while a message inflates stops it and closes its zlib stream", async () => {
    const server = end(Role.Server, true, 64 << 20);
    server.conn.receive(zerosFrame(32 << 20));
    expect(openInflateStreams()).toBe(1);
    server.conn.release();
    await until(() => openInflateStreams() === 0);
    expect(openInflateStreams()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.messages).toEqual([]);
    expect(server.errors).toEqual([]);
  });
});
