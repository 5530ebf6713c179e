// WireConnection behaviors that span the engine and the host: ordering of events and replies.
import { describe, expect, it } from "vitest";
import { Role, WireConnection } from "../../bindings/protocol/connection.js";
import { createEngine } from "../../bindings/engine/embedded.js";
import type { WebSocketProtocolError } from "../../bindings/engine/errors.js";

/** A masked client frame. */
function clientFrame(byte0: number, payload: Uint8Array): Uint8Array {
  const key = [9, 8, 7, 6];
  return new Uint8Array([byte0, 0x80 | payload.length, ...key, ...payload.map((b, i) => b ^ key[i % 4])]);
}

/** A server-side connection on its own engine that echoes text; `wire` collects what it writes (hex). */
function echoConnection(build: "simd" | "mvp"): { conn: WireConnection; wire: string[]; errors: number[] } {
  const engine = createEngine({ maxConnections: 1, ioBytes: build === "simd" ? 192 * 1024 : 4096 }, build);
  const wire: string[] = [];
  const errors: number[] = [];
  const conn: WireConnection = new WireConnection(
    { engine, slot: 0 },
    {
      message: (data) => conn.send(data, false),
      ping() {},
      pong() {},
      close() {},
      error: (error) => errors.push(error.closeCode),
      closed() {},
      write: (bytes) => wire.push(Buffer.from(bytes).toString("hex")),
    },
    { role: Role.Server, maxPayload: 1 << 20 },
  );
  return { conn, wire, errors };
}

/** A masked client frame of any length. */
function maskedFrame(byte0: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const length = n < 126 ? [0x80 | n] : n <= 0xffff ? [0xfe, n >> 8, n & 255] : [0xff, 0, 0, 0, 0, ...u32(n)];
  const key = [9, 8, 7, 6];
  const frame = new Uint8Array(1 + length.length + 4 + n);
  frame.set([byte0, ...length, ...key]);
  const at = 1 + length.length + 4;
  for (let i = 0; i < n; i++) frame[at + i] = payload[i] ^ key[i % 4];
  return frame;
}

function u32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Byte equality without vitest's element-by-element diffing of megabyte arrays. */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

function payload(n: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 31 + seed) & 255;
  return bytes;
}

/** A server connection that records messages and every allocation it asks for. */
function recorder(build: "simd" | "mvp", maxPayload = 16 << 20) {
  const engine = createEngine({ maxConnections: 1, ioBytes: build === "simd" ? 192 * 1024 : 4096 }, build);
  const messages: Uint8Array[] = [];
  const allocations: number[] = [];
  const conn = new WireConnection(
    { engine, slot: 0 },
    {
      message: (data) => messages.push(data),
      ping() {},
      pong() {},
      close() {},
      error(error) {
        throw error;
      },
      closed() {},
      write() {},
    },
    {
      role: Role.Server,
      maxPayload,
      alloc: (n) => {
        allocations.push(n);
        return new Uint8Array(n);
      },
    },
  );
  const feed = (bytes: Uint8Array, step: number) => {
    for (let at = 0; at < bytes.length; at += step) conn.receive(bytes.subarray(at, at + step));
  };
  return { messages, allocations, feed };
}

describe.each(["simd", "mvp"] as const)("WireConnection message assembly (%s build)", (build) => {
  it("allocates a one-frame message once, at its announced length, however its bytes are split", () => {
    const message = payload(100_000);
    const frame = maskedFrame(0x82, message);
    for (const step of [1000, 4096, 65536, 99_999, frame.length]) {
      const { messages, allocations, feed } = recorder(build);
      feed(frame, step);
      expect(messages).toHaveLength(1);
      expect(same(messages[0], message)).toBe(true);
      expect(allocations).toEqual([100_000]);
    }
  });

  it("assembles a message of many small frames, with pings between them, without quadratic copying", () => {
    const parts: Uint8Array[] = [];
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 2000; i++) {
      const part = payload(10, i);
      parts.push(part);
      frames.push(maskedFrame((i === 0 ? 0x02 : 0x00) | (i === 1999 ? 0x80 : 0), part));
      if (i % 100 === 50) frames.push(maskedFrame(0x89, payload(3)));
    }
    const { messages, allocations, feed } = recorder(build);
    feed(concat(frames), 777);
    expect(messages).toHaveLength(1);
    expect(same(messages[0], concat(parts))).toBe(true);
    expect(allocations.reduce((a, b) => a + b, 0)).toBeLessThan(4 * 20_000);
  });

  it("assembles fragments of mixed sizes split at every kind of offset", () => {
    const parts = [payload(70_000, 1), payload(5, 2), payload(0, 3), payload(300, 4), payload(65_536, 5)];
    const frames = parts.map((part, i) => maskedFrame((i === 0 ? 0x02 : 0) | (i === 4 ? 0x80 : 0), part));
    const wire = concat([...frames, maskedFrame(0x82, payload(7, 9))]);
    for (const step of [1, 13, 4096, 65536, wire.length]) {
      if (step === 1 && build === "simd") continue; // byte by byte: the mvp build covers it
      const { messages, feed } = recorder(build);
      feed(wire, step);
      expect(messages).toHaveLength(2);
      expect(same(messages[0], concat(parts))).toBe(true);
      expect(same(messages[1], payload(7, 9))).toBe(true);
    }
  });

  it("assembles messages whose first, middle or last fragments are empty", () => {
    for (const sizes of [
      [0, 5],
      [0, 0, 0],
      [3, 0, 0, 4],
      [0, 70_000, 0],
    ]) {
      const parts = sizes.map((n, i) => payload(n, i));
      const frames = parts.map((part, i) =>
        maskedFrame(
          (i === 0 ? 0x01 : 0) | (i === parts.length - 1 ? 0x80 : 0),
          part.map((b) => b & 0x7f),
        ),
      );
      const { messages, feed } = recorder(build);
      feed(concat(frames), 4096);
      expect(messages).toHaveLength(1);
      expect(same(messages[0], concat(parts.map((part) => part.map((b) => b & 0x7f))))).toBe(true);
    }
  });

  it("reserves at most 256 KiB for a frame whose header announces more than has arrived", () => {
    const { messages, allocations, feed } = recorder(build);
    const frame = maskedFrame(0x82, payload(8 << 20));
    feed(frame.subarray(0, 4096), 4096);
    expect(messages).toHaveLength(0);
    expect(Math.max(...allocations)).toBeLessThanOrEqual(256 * 1024);
  });

  it("gives each message of a read bytes of its own, exact, whatever is read or written after it", () => {
    // 64 bytes and less are copied by a loop, more by set(): both sides of the line, in one read and split.
    const sizes = [0, 1, 32, 63, 64, 65, 125, 126, 1000, 4097, 20_000, 7];
    const parts = sizes.map((n, i) => payload(n, i + 1));
    const wire = concat(parts.map((part) => maskedFrame(0x82, part)));
    for (const step of [wire.length, 4096, 777]) {
      const { messages, allocations, feed } = recorder(build);
      feed(wire, step);
      expect(messages.map((m) => m.length)).toEqual(sizes);
      parts.forEach((part, i) => expect(same(messages[i], part)).toBe(true));
      // The same frames with other payloads read over the same engine memory: what was delivered stays.
      feed(
        concat(
          parts.map((part) =>
            maskedFrame(
              0x82,
              part.map((b) => b ^ 0x5a),
            ),
          ),
        ),
        step,
      );
      parts.forEach((part, i) => expect(same(messages[i], part)).toBe(true));
      messages[2].fill(0);
      expect(same(messages[3], parts[3])).toBe(true);
      if (step === wire.length) expect(allocations.slice(0, sizes.length)).toEqual(sizes);
    }
  });

  it("grows a large one-frame message to exactly its length, delivering it whole", () => {
    const message = payload(3 * 1024 * 1024 + 17);
    const { messages, allocations, feed } = recorder(build);
    feed(maskedFrame(0x82, message), 65536);
    expect(messages).toHaveLength(1);
    expect(messages[0].length).toBe(message.length);
    expect(same(messages[0], message)).toBe(true);
    expect(allocations.at(-1)).toBe(message.length);
    expect(allocations.reduce((a, b) => a + b, 0)).toBeLessThan(3 * message.length);
  });
});

describe.each(["simd", "mvp"] as const)("WireConnection (%s build)", (build) => {
  it("lets the host answer a message read together with invalid UTF-8 in the next one, before the 1007", () => {
    const { conn, wire, errors } = echoConnection(build);
    const bad = new Uint8Array([0x61, 0xff, 0x62]);
    conn.receive(
      new Uint8Array([...clientFrame(0x81, new TextEncoder().encode("hi")), ...clientFrame(0x81, bad)]),
    );
    expect(wire).toEqual(["81026869", "880203ef"]);
    expect(errors).toEqual([1007]);
  });

  it("does the same when the invalid byte is in a later fragment of a message begun in the same read", () => {
    const { conn, wire, errors } = echoConnection(build);
    const text = (s: string) => new TextEncoder().encode(s);
    conn.receive(
      new Uint8Array([
        ...clientFrame(0x81, text("hi")),
        ...clientFrame(0x01, text("ok")),
        ...clientFrame(0x80, new Uint8Array([0xc3, 0x28])),
      ]),
    );
    expect(wire).toEqual(["81026869", "880203ef"]);
    expect(errors).toEqual([1007]);
  });

  it("still fails at once, with nothing read before it, on invalid UTF-8 split across reads", () => {
    const { conn, wire, errors } = echoConnection(build);
    const frame = clientFrame(0x81, new Uint8Array([0x61, 0x62, 0xed, 0xa0, 0x80]));
    conn.receive(frame.subarray(0, 8));
    expect(wire).toEqual([]);
    conn.receive(frame.subarray(8));
    expect(wire).toEqual(["880203ef"]);
    expect(errors).toEqual([1007]);
  });

  it("reports each rule with ws's err.code and message, naming the opcode, length or close code it saw", () => {
    const failure = (bytes: Uint8Array, split: boolean) => {
      const errors: WebSocketProtocolError[] = [];
      const engine = createEngine({ maxConnections: 1, ioBytes: 4096 }, build);
      const conn = new WireConnection(
        { engine, slot: 0 },
        {
          message() {},
          ping() {},
          pong() {},
          close() {},
          error: (error) => errors.push(error),
          closed() {},
          write() {},
        },
        { role: Role.Server, maxPayload: 1000 },
      );
      // Byte by byte too: the header's slow path finds the rule before the header is complete.
      if (split) for (const byte of bytes) conn.receive(new Uint8Array([byte]));
      else conn.receive(bytes);
      return errors.map((e) => [e instanceof RangeError, e.code, e.message, e.closeCode]);
    };
    const cases: Array<[Uint8Array, string, string, number]> = [
      [
        clientFrame(0x85, new Uint8Array(0)),
        "WS_ERR_INVALID_OPCODE",
        "Invalid WebSocket frame: invalid opcode 5",
        1002,
      ],
      [
        clientFrame(0x80, new Uint8Array(0)),
        "WS_ERR_INVALID_OPCODE",
        "Invalid WebSocket frame: invalid opcode 0",
        1002,
      ],
      [
        concat([clientFrame(0x01, new Uint8Array(1)), clientFrame(0x82, new Uint8Array(1))]),
        "WS_ERR_INVALID_OPCODE",
        "Invalid WebSocket frame: invalid opcode 2",
        1002,
      ],
      [
        clientFrame(0xc1, new Uint8Array(0)),
        "WS_ERR_UNEXPECTED_RSV_1",
        "Invalid WebSocket frame: RSV1 must be clear",
        1002,
      ],
      [
        clientFrame(0xa1, new Uint8Array(0)),
        "WS_ERR_UNEXPECTED_RSV_2_3",
        "Invalid WebSocket frame: RSV2 and RSV3 must be clear",
        1002,
      ],
      [
        clientFrame(0x09, new Uint8Array(0)),
        "WS_ERR_EXPECTED_FIN",
        "Invalid WebSocket frame: FIN must be set",
        1002,
      ],
      [
        maskedFrame(0x89, new Uint8Array(126)),
        "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
        "Invalid WebSocket frame: invalid payload length 126",
        1002,
      ],
      [
        new Uint8Array([0x81, 0x00]),
        "WS_ERR_EXPECTED_MASK",
        "Invalid WebSocket frame: MASK must be set",
        1002,
      ],
      [
        clientFrame(0x88, new Uint8Array([0x03, 0xec])),
        "WS_ERR_INVALID_CLOSE_CODE",
        "Invalid WebSocket frame: invalid status code 1004",
        1002,
      ],
      [
        clientFrame(0x88, new Uint8Array([0x03])),
        "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
        "Invalid WebSocket frame: invalid payload length 1",
        1002,
      ],
      [
        clientFrame(0x81, new Uint8Array([0xff])),
        "WS_ERR_INVALID_UTF8",
        "Invalid WebSocket frame: invalid UTF-8 sequence",
        1007,
      ],
      [
        maskedFrame(0x82, new Uint8Array(1001)),
        "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
        "Max payload size exceeded",
        1009,
      ],
    ];
    for (const [bytes, code, message, closeCode] of cases)
      for (const split of [false, true])
        expect(failure(bytes, split), `${message}${split ? " (byte by byte)" : ""}`).toEqual([
          [true, code, message, closeCode],
        ]);
  });

  it("lets the host answer data that arrives in the same read as a close frame, before the close reply", () => {
    const { conn, wire } = echoConnection(build);
    const hi = new TextEncoder().encode("hi");
    const close = new Uint8Array([0x03, 0xe8]);
    conn.receive(new Uint8Array([...clientFrame(0x81, hi), ...clientFrame(0x88, close)]));
    expect(wire).toEqual(["81026869", "880203e8"]);
  });
});
