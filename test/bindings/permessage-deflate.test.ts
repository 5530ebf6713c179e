import * as zlib from "node:zlib";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WsDeflate, type WsPerMessageDeflate } from "../support/ws-deflate.js";
import type { DeflateSession } from "../../bindings/protocol/extensions.js";
import {
  DEFAULT_LEVEL,
  DeflateError,
  PerMessageDeflate,
  type DeflateCodec,
} from "../../bindings/protocol/permessage-deflate.js";
import { nodeDeflateCodec, openInflateStreams, waitingInflates } from "../../runtimes/node/deflate.js";

/** JSON-like text of `size` bytes, varied by `seed`. */
function jsonText(size: number, seed = 0): Uint8Array {
  let text = "[";
  for (let i = seed; text.length < size; i++)
    text +=
      JSON.stringify({ id: i, user: `user${i % 97}`, active: i % 3 === 0, score: (i * 7919) % 1000 }) + ",";
  return new TextEncoder().encode(text.slice(0, size));
}

function randomBytes(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function session(takeover: boolean, bits = 15): DeflateSession {
  return {
    sendNoContextTakeover: !takeover,
    sendWindowBits: bits,
    receiveNoContextTakeover: !takeover,
    receiveWindowBits: bits,
  };
}

function pair(takeover: boolean, bits = 15, maxPayload = 64 << 20, historyBytes?: number) {
  const tuning = { maxPayload, threshold: 0, historyBytes };
  return {
    sender: new PerMessageDeflate(session(takeover, bits), nodeDeflateCodec, tuning),
    receiver: new PerMessageDeflate(session(takeover, bits), nodeDeflateCodec, tuning),
  };
}

function roundTrip(sender: PerMessageDeflate, receiver: PerMessageDeflate, data: Uint8Array, pieces = 1) {
  const wire = sender.compress(data);
  const step = Math.max(1, Math.ceil(wire.length / pieces));
  for (let at = 0; at < wire.length; at += step) receiver.push(wire.subarray(at, at + step));
  return { wire, inflated: receiver.finish() };
}

const SIZES = [0, 1, 2, 125, 126, 1023, 1024, 4096, 65535, 65536, 65537, 300_000, 1 << 20];

describe("PerMessageDeflate round trips", () => {
  for (const takeover of [true, false])
    for (const bits of [9, 10, 11, 12, 13, 14, 15])
      it(`sizes 0..1 MiB, ${takeover ? "context takeover" : "no context takeover"}, window bits ${bits}`, () => {
        const { sender, receiver } = pair(takeover, bits);
        for (const [i, size] of SIZES.entries()) {
          for (const data of [jsonText(size, i), randomBytes(size, i)]) {
            const { wire, inflated } = roundTrip(sender, receiver, data);
            expect(Buffer.from(inflated).equals(Buffer.from(data))).toBe(true);
            expect(wire.subarray(-4)).not.toEqual(new Uint8Array([0, 0, 0xff, 0xff]));
          }
        }
      });

  it("window bits 8: the sender sends uncompressed (zlib cannot raw-deflate with 256-byte windows)", () => {
    const pmd = new PerMessageDeflate(session(true, 8), nodeDeflateCodec, { maxPayload: 1 << 20 });
    expect(pmd.shouldCompress(1 << 16)).toBe(false);
  });

  it("inflates what a peer compressed with an 8-bit window", () => {
    const receiver = new PerMessageDeflate(session(true, 8), nodeDeflateCodec, { maxPayload: 1 << 20 });
    // zlib's deflate with windowBits 8 is a zlib-wrapped stream only; its raw body is what a peer sends.
    for (const size of [10, 200, 5000]) {
      const data = jsonText(size, size);
      const zlibbed = zlib.deflateSync(data, { windowBits: 8, finishFlush: zlib.constants.Z_SYNC_FLUSH });
      receiver.push(zlibbed.subarray(2, zlibbed.length - 4));
      expect(Buffer.from(receiver.finish()).equals(Buffer.from(data))).toBe(true);
    }
  });

  it("fragmented compressed messages: the payload pushed in 1..many pieces", () => {
    const { sender, receiver } = pair(true);
    for (const pieces of [1, 2, 3, 7, 64, 1000]) {
      const data = jsonText(50_000, pieces);
      expect(Buffer.from(roundTrip(sender, receiver, data, pieces).inflated).equals(Buffer.from(data))).toBe(
        true,
      );
    }
  });

  it("context takeover shrinks similar messages; no context takeover compresses each alone", () => {
    const sizes = (takeover: boolean) => {
      const { sender, receiver } = pair(takeover);
      return [0, 1, 2, 3].map((i) => roundTrip(sender, receiver, jsonText(1024, i * 3)).wire.length);
    };
    const withHistory = sizes(true);
    const alone = sizes(false);
    expect(withHistory[3]).toBeLessThan(alone[3]);
    expect(alone[3]).toBeGreaterThan(alone[0] * 0.8);
  });

  it("keeps no bytes between messages without context takeover, at most the windows with it", () => {
    const off = pair(false);
    roundTrip(off.sender, off.receiver, jsonText(100_000));
    expect(off.sender.retainedBytes + off.receiver.retainedBytes).toBe(0);
    const on = pair(true, 10, 1 << 20, 512);
    roundTrip(on.sender, on.receiver, jsonText(100_000));
    expect(on.sender.retainedBytes).toBe(512);
    expect(on.receiver.retainedBytes).toBe(1024);
    on.sender.release();
    expect(on.sender.retainedBytes).toBe(0);
  });

  it("keeps copies, not views: callers may reuse the buffers they passed (Buffer.slice is a view)", () => {
    const { sender, receiver } = pair(true, 10);
    const first = Buffer.from(jsonText(5000, 1));
    const wire = Buffer.from(sender.compress(first));
    receiver.push(wire);
    wire.fill(0); // the caller reuses its read buffer before the message ends
    receiver.push(new Uint8Array(0));
    expect(Buffer.from(receiver.finish()).equals(Buffer.from(jsonText(5000, 1)))).toBe(true);
    first.fill(0x20); // and its send buffer after sending
    const second = jsonText(5000, 1);
    const { inflated } = roundTrip(sender, receiver, second);
    expect(Buffer.from(inflated).equals(Buffer.from(second))).toBe(true);
  });

  it("an empty message is the single byte 00 (RFC 7692 §7.2.3.6)", () => {
    const { sender, receiver } = pair(false);
    expect([...roundTrip(sender, receiver, new Uint8Array(0)).wire]).toEqual([0]);
    receiver.push(new Uint8Array([0]));
    expect(receiver.finish()).toHaveLength(0);
  });

  it("sends messages below the threshold uncompressed", () => {
    const pmd = new PerMessageDeflate(session(true), nodeDeflateCodec, { maxPayload: 1 << 20 });
    expect(pmd.shouldCompress(1023)).toBe(false);
    expect(pmd.shouldCompress(1024)).toBe(true);
  });

  it("corrupt deflate data fails with 1007", () => {
    const { receiver } = pair(true);
    receiver.push(new Uint8Array([0xff, 0xff, 0xff, 0x00, 0x13]));
    expect(() => receiver.finish()).toThrow(DeflateError);
    receiver.push(new Uint8Array([0xff, 0xff, 0xff, 0x00, 0x13]));
    try {
      receiver.finish();
    } catch (error) {
      expect((error as DeflateError).closeCode).toBe(1007);
    }
  });

  it("compresses at zlib level 5 by default, and at the level asked for", () => {
    const seen: number[] = [];
    const codec: DeflateCodec = {
      deflate: (input, call) => (seen.push(call.level), nodeDeflateCodec.deflate(input, call)),
      inflate: (input, call) => nodeDeflateCodec.inflate(input, call),
    };
    const message = jsonText(64 * 1024, 3);
    const byDefault = new PerMessageDeflate(session(false), codec, { maxPayload: 1 << 20 }).compress(message);
    const six = new PerMessageDeflate(session(false), codec, { maxPayload: 1 << 20, level: 6 }).compress(
      message,
    );
    expect(seen).toEqual([DEFAULT_LEVEL, 6]);
    expect(DEFAULT_LEVEL).toBe(5);
    // Level 5 keeps level 6's ratio on JSON-like text to within 2% (the reason it is the default).
    expect(byDefault.length).toBeLessThan(six.length * 1.02);
  });

  it("zlib work completes inside the call (nothing is queued for later)", () => {
    const { sender, receiver } = pair(true);
    const wire = sender.compress(jsonText(1 << 16));
    receiver.push(wire);
    expect(receiver.finish()).toHaveLength(1 << 16);
  });
});

describe("decompression bombs", () => {
  afterEach(() => vi.restoreAllMocks());

  it("256 KiB inflating to 256 MiB stops with 1009 after at most maxPayload + one chunk of output", () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(256 << 20), {
      level: 9,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    expect(bomb.length).toBeLessThan(300 << 10);
    const maxPayload = 1 << 20;
    const receiver = new PerMessageDeflate(session(false), nodeDeflateCodec, { maxPayload });
    receiver.push(bomb.subarray(0, bomb.length - 4));
    // Count every output buffer zlib allocates while inflating (processChunkSync's Buffer.allocUnsafe).
    let allocated = 0;
    const real = Buffer.allocUnsafe.bind(Buffer);
    vi.spyOn(Buffer, "allocUnsafe").mockImplementation((size: number) => {
      allocated += size;
      return real(size);
    });
    let error: unknown;
    try {
      receiver.finish();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DeflateError);
    expect((error as DeflateError).closeCode).toBe(1009);
    expect(allocated).toBeGreaterThan(maxPayload / 2); // the counter saw the output
    expect(allocated).toBeLessThanOrEqual(maxPayload + 2 * 16 * 1024);
    expect(receiver.retainedBytes).toBe(0);
  });

  it("the codec is asked for at most maxPayload bytes, whatever the compressed size", () => {
    const asked: number[] = [];
    const codec: DeflateCodec = {
      deflate: (input, call) => nodeDeflateCodec.deflate(input, call),
      inflate: (input, call) => {
        asked.push(call.maxOutput);
        return nodeDeflateCodec.inflate(input, call);
      },
    };
    const receiver = new PerMessageDeflate(session(true), codec, { maxPayload: 5000 });
    const ok = nodeDeflateCodec.deflate(new Uint8Array(5000), { windowBits: 15, level: 6, memLevel: 8 });
    receiver.push(ok.subarray(0, ok.length - 4));
    expect(receiver.finish()).toHaveLength(5000);
    const over = nodeDeflateCodec.deflate(new Uint8Array(5001), { windowBits: 15, level: 6, memLevel: 8 });
    receiver.push(over.subarray(0, over.length - 4));
    expect(() => receiver.finish()).toThrow(/maxPayload 5000 \(1009\)/);
    expect(asked).toEqual([5000, 5000]);
  });
});

describe("the codec's async inflate", () => {
  const inflateAsync = nodeDeflateCodec.inflateAsync!;
  const deflated = (data: Uint8Array) =>
    zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });

  it("inflates one message at a time, in order, each on a zlib stream closed when done", async () => {
    const bomb = deflated(Buffer.alloc(64 << 20));
    const message = jsonText(200_000, 1);
    const results: string[] = [];
    const waitingSeen: number[] = [];
    const all = Promise.all(
      [bomb, deflated(message), bomb].map(
        (input, i) =>
          new Promise<void>((resolve) =>
            inflateAsync(input, { maxOutput: 1 << 20 }, (error, output) => {
              waitingSeen.push(waitingInflates());
              results.push(`${i}:${error ? "error" : output ? output.length : "too big"}`);
              resolve();
            }),
          ),
      ),
    );
    expect([openInflateStreams(), waitingInflates()]).toEqual([1, 2]);
    await all;
    // Each one started when the one before it was done.
    expect(waitingSeen).toEqual([1, 0, 0]);
    expect(results).toEqual(["0:too big", `1:${message.length}`, "2:too big"]);
    await vi.waitFor(() => expect(openInflateStreams()).toBe(0));
    expect(waitingInflates()).toBe(0);
  });

  it("a cancelled inflate never calls back, running or waiting, and frees its turn", async () => {
    const bomb = deflated(Buffer.alloc(64 << 20));
    const calls: string[] = [];
    const cancelRunning = inflateAsync(bomb, { maxOutput: 32 << 20 }, () => calls.push("running"));
    const cancelWaiting = inflateAsync(bomb, { maxOutput: 32 << 20 }, () => calls.push("waiting"));
    const last = new Promise<void>((resolve) =>
      inflateAsync(deflated(jsonText(5000)), { maxOutput: 1 << 20 }, (error, output) => {
        calls.push(`last:${output?.length}`);
        resolve();
      }),
    );
    expect(waitingInflates()).toBe(2);
    cancelWaiting();
    expect(waitingInflates()).toBe(1);
    cancelRunning();
    cancelRunning(); // twice is harmless
    await last;
    expect(calls).toEqual(["last:5000"]);
    await vi.waitFor(() => expect(openInflateStreams()).toBe(0));
    expect(waitingInflates()).toBe(0);
  });
});

describe("codec bytes interoperate with ws's PerMessageDeflate", () => {
  const wsPair = (takeover: boolean, bits: number, isServer: boolean) => {
    const ws = new WsDeflate({ isServer, maxPayload: 0, threshold: 0 });
    const params: Record<string, Array<string | true>> = {
      server_max_window_bits: [String(bits)],
      client_max_window_bits: [String(bits)],
    };
    if (!takeover) params.server_no_context_takeover = params.client_no_context_takeover = [true];
    ws.accept([params]);
    return ws;
  };
  const wsCompress = (ws: WsPerMessageDeflate, data: Uint8Array) =>
    new Promise<Buffer>((resolve, reject) =>
      ws.compress(Buffer.from(data), true, (error, result) => (error ? reject(error) : resolve(result!))),
    );
  const wsDecompress = (ws: WsPerMessageDeflate, data: Uint8Array) =>
    new Promise<Buffer>((resolve, reject) =>
      ws.decompress(Buffer.from(data), true, (error, result) => (error ? reject(error) : resolve(result!))),
    );

  for (const takeover of [true, false])
    for (const bits of [9, 12, 15])
      it(`both directions, ${takeover ? "" : "no "}context takeover, window bits ${bits}`, async () => {
        const ours = new PerMessageDeflate(session(takeover, bits), nodeDeflateCodec, {
          maxPayload: 1 << 24,
          threshold: 0,
          historyBytes: 1 << bits,
        });
        const wsServer = wsPair(takeover, bits, true);
        const wsClient = wsPair(takeover, bits, false);
        for (const [i, size] of [0, 10, 1024, 1024, 5000, 70_000, 1024].entries()) {
          const data = i % 2 ? randomBytes(size, i) : jsonText(size, i);
          // ws compresses (as server), we inflate.
          ours.push(await wsCompress(wsServer, data));
          expect(Buffer.from(ours.finish()).equals(Buffer.from(data))).toBe(true);
          // We compress, ws inflates (as server, receiving a client's message).
          const inflated = await wsDecompress(wsServer, ours.compress(data));
          expect(inflated.equals(Buffer.from(data))).toBe(true);
        }
        wsServer.cleanup();
        wsClient.cleanup();
      });
});
