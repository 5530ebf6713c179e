// The engine's writer through its raw exports, both builds: the message writer (beginMessage / nextFrame:
// opcode, continuations, FIN, RSV1, fragment sizes, pieces), control and close frames with the limits the
// engine alone checks, header sizes, and the HTTP token table hosts ask through tokenLength.
import { describe, expect, it } from "vitest";
import {
  CallError,
  ConnFlag,
  FrameBit,
  MAX_CLOSE_REASON,
  MAX_CONTROL_PAYLOAD,
  MessageFlag,
  Opcode,
  Result,
  Role,
} from "../../bindings/engine/abi.js";
import { loadEngine, type Build, type RawEngine } from "./load.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** A fresh engine with slot 0 opened for `role` with ConnFlag `flags`, entropy filled with 0x11.. bytes. */
function opened(build: Build, role: number = Role.Server, flags = 0): RawEngine {
  const engine = loadEngine(build);
  expect(engine.exports.open(0, role, flags, 1 << 20)).toBe(0);
  engine.fillEntropy(new Uint8Array(64).map((_, i) => 0x11 * ((i % 15) + 1)));
  return engine;
}

/** Payload bytes of the frame whose header was just written. */
function frameLength(engine: RawEngine): number {
  const result = engine.exports.resultPtr();
  return engine.u32(result + Result.FrameLength) + engine.u32(result + Result.FrameLengthHigh) * 2 ** 32;
}

/**
 * Begin a message of `total` bytes and collect its frames as [header hex, payload length]: the first header
 * from beginMessage, the rest from nextFrame until the payload is all given out.
 */
function message(
  engine: RawEngine,
  opcode: number,
  total: number,
  flags = 0,
  fragment = 0,
): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const dst = engine.io;
  let size = engine.exports.beginMessage(0, opcode, total, flags, fragment, dst);
  let done = 0;
  for (;;) {
    expect(size).toBeGreaterThan(0);
    const n = frameLength(engine);
    out.push([hex(engine.read(dst, size)), n]);
    done += n;
    if (done >= total) break;
    size = engine.exports.nextFrame(0, dst);
  }
  expect(done).toBe(total);
  expect(engine.exports.nextFrame(0, dst)).toBe(CallError.NoMessage);
  return out;
}

describe.each(["simd", "mvp"] as const)("writer exports (%s build)", (build) => {
  describe("beginMessage / nextFrame", () => {
    it("writes one frame with FIN for an unfragmented message, in the minimal length form", () => {
      for (const [n, header] of [
        [0, "8200"],
        [5, "8205"],
        [125, "827d"],
        [126, "827e007e"],
        [65535, "827effff"],
        [65536, "827f0000000000010000"],
      ] as const) {
        const engine = opened(build);
        expect(message(engine, Opcode.Binary, n, 0, 0)).toEqual([[header, n]]);
        expect(engine.exports.nextFrame(0, engine.io)).toBe(CallError.NoMessage);
      }
    });

    it("fragments: the opcode on the first frame, continuations after, FIN on the last only", () => {
      const engine = opened(build);
      expect(message(engine, Opcode.Text, 7, 0, 3)).toEqual([
        ["0103", 3],
        ["0003", 3],
        ["8001", 1],
      ]);
      // An exact multiple of the fragment size ends on a full frame, not an empty one.
      expect(message(engine, Opcode.Binary, 6, 0, 3)).toEqual([
        ["0203", 3],
        ["8003", 3],
      ]);
    });

    it("sets RSV1 on the first frame of a compressed message only, where the slot allows it", () => {
      const engine = opened(build, Role.Server, ConnFlag.Rsv1Allowed);
      expect(message(engine, Opcode.Text, 4, MessageFlag.Compressed, 2)).toEqual([
        [hex(new Uint8Array([Opcode.Text | FrameBit.Rsv1, 2])), 2],
        ["8002", 2],
      ]);
      const plain = opened(build);
      expect(plain.exports.beginMessage(0, Opcode.Text, 4, MessageFlag.Compressed, 0, plain.io)).toBe(
        CallError.CompressionNotAllowed,
      );
    });

    it("sends a message in pieces: no FIN until the last piece, continuations after the first", () => {
      const engine = opened(build, Role.Server, ConnFlag.Rsv1Allowed);
      expect(message(engine, Opcode.Text, 2, MessageFlag.More, 0)).toEqual([["0102", 2]]);
      // A continuing piece cannot set RSV1 (first frame only); its opcode argument is the message's type.
      expect(engine.exports.beginMessage(0, Opcode.Text, 1, MessageFlag.Compressed, 0, engine.io)).toBe(
        CallError.CompressionNotAllowed,
      );
      expect(message(engine, Opcode.Binary, 0, MessageFlag.More, 0)).toEqual([["0000", 0]]);
      expect(message(engine, Opcode.Text, 3, 0, 2)).toEqual([
        ["0002", 2],
        ["8001", 1],
      ]);
      // The message is over: the next one starts with its own opcode.
      expect(message(engine, Opcode.Binary, 1, 0, 0)).toEqual([["8201", 1]]);
    });

    it("refuses a new message while frames of the last one remain, and frames without a message", () => {
      const engine = opened(build);
      expect(engine.exports.nextFrame(0, engine.io)).toBe(CallError.NoMessage);
      expect(engine.exports.beginMessage(0, Opcode.Binary, 10, 0, 4, engine.io)).toBe(2);
      expect(engine.exports.nextFrame(0, engine.io)).toBe(2);
      expect(engine.exports.beginMessage(0, Opcode.Binary, 1, 0, 0, engine.io)).toBe(CallError.MessageUnfinished);
      expect(hex(engine.read(engine.io, 2))).toBe("0004");
      expect(engine.exports.nextFrame(0, engine.io)).toBe(2);
      expect(hex(engine.read(engine.io, 2))).toBe("8002");
      expect(frameLength(engine)).toBe(2);
      expect(engine.exports.nextFrame(0, engine.io)).toBe(CallError.NoMessage);
    });

    it("refuses bad arguments before changing anything", () => {
      const engine = opened(build);
      const begin = (conn: number, opcode: number, length: number, flags: number) =>
        engine.exports.beginMessage(conn, opcode, length, flags, 0, engine.io);
      for (const opcode of [Opcode.Continuation, Opcode.Close, Opcode.Ping, 3, 15])
        expect(begin(0, opcode, 1, 0)).toBe(CallError.InvalidOpcode);
      expect(begin(0, Opcode.Text, -1, 0)).toBe(CallError.InvalidArgument);
      expect(begin(0, Opcode.Text, 2 ** 53, 0)).toBe(CallError.InvalidArgument);
      expect(begin(0, Opcode.Text, NaN, 0)).toBe(CallError.InvalidArgument);
      expect(begin(0, Opcode.Text, 1, 4)).toBe(CallError.InvalidArgument);
      expect(begin(1, Opcode.Text, 1, 0)).toBe(CallError.InvalidConnection);
      expect(engine.exports.nextFrame(0, engine.io)).toBe(CallError.NoMessage);
    });

    it("carries lengths past 4 GiB in the 64-bit form, FrameLengthHigh holding the top bits", () => {
      const engine = opened(build);
      const n = 2 ** 32 + 5;
      expect(engine.exports.beginMessage(0, Opcode.Binary, n, 0, 0, engine.io)).toBe(10);
      expect(hex(engine.read(engine.io, 10))).toBe("827f0000000100000005");
      expect(engine.u32(engine.exports.resultPtr() + Result.FrameLength)).toBe(5);
      expect(engine.u32(engine.exports.resultPtr() + Result.FrameLengthHigh)).toBe(1);
      expect(frameLength(engine)).toBe(n);
    });

    it("stops after a close frame was sent, between frames too", () => {
      const engine = opened(build);
      expect(engine.exports.beginMessage(0, Opcode.Binary, 4, 0, 2, engine.io)).toBe(2);
      expect(engine.exports.writeClose(0, 1000, engine.io, 0, engine.io)).toBe(4);
      expect(engine.exports.nextFrame(0, engine.io)).toBe(CallError.AlreadyClosing);
      expect(engine.exports.beginMessage(0, Opcode.Binary, 1, 0, 0, engine.io)).toBe(CallError.AlreadyClosing);
    });

    it("gives a client a fresh masking key per frame that maskChunk applies", () => {
      const engine = opened(build, Role.Client);
      const payload = new TextEncoder().encode("Hello");
      const keys: string[] = [];
      let done = 0;
      const dst = engine.io;
      while (done < 5) {
        const size =
          done === 0 ? engine.exports.beginMessage(0, Opcode.Text, 5, 0, 3, dst) : engine.exports.nextFrame(0, dst);
        expect(size).toBe(6);
        const n = frameLength(engine);
        const header = engine.read(dst, size);
        expect(header[1]).toBe(0x80 | n);
        keys.push(hex(header.subarray(2, 6)));
        engine.write(dst + size, payload.subarray(done, done + n));
        // Masked in two calls: the key offset carries over.
        expect(engine.exports.maskChunk(0, dst + size, 1)).toBe(0);
        expect(engine.exports.maskChunk(0, dst + size + 1, n - 1)).toBe(0);
        const masked = engine.read(dst + size, n);
        const unmasked = masked.map((b, i) => b ^ header[2 + (i % 4)]);
        expect(new TextDecoder().decode(unmasked)).toBe("Hello".slice(done, done + n));
        done += n;
      }
      expect(keys).toHaveLength(2);
      expect(keys[0]).not.toBe(keys[1]);
    });

    it("refuses a client frame when the entropy pool is empty, and writes it once refilled", () => {
      const engine = loadEngine(build);
      expect(engine.exports.open(0, Role.Client, 0, 1 << 20)).toBe(0);
      engine.fillEntropy(new Uint8Array(0));
      expect(engine.exports.beginMessage(0, Opcode.Binary, 3, 0, 2, engine.io)).toBe(CallError.EntropyExhausted);
      engine.fillEntropy(new Uint8Array(4).fill(1));
      // Nothing changed on the refusal: the message begins now, and its second frame needs 4 bytes more.
      expect(engine.exports.beginMessage(0, Opcode.Binary, 3, 0, 2, engine.io)).toBe(6);
      expect(engine.exports.nextFrame(0, engine.io)).toBe(CallError.EntropyExhausted);
      engine.fillEntropy(new Uint8Array(4).fill(2));
      expect(engine.exports.nextFrame(0, engine.io)).toBe(6);
      expect(hex(engine.read(engine.io, 2))).toBe("8081");
    });

    it("useMaskKey: the host's key masks every later client frame (ws's generateMask), needing no entropy", () => {
      const engine = loadEngine(build);
      expect(engine.exports.open(0, Role.Client, 0, 1 << 20)).toBe(0);
      engine.fillEntropy(new Uint8Array(0));
      // The key's bytes as they go on the wire, read little-endian.
      expect(engine.exports.useMaskKey(0, 0x04030201)).toBe(0);
      const dst = engine.io;
      const size = engine.exports.beginMessage(0, Opcode.Binary, 3, 0, 2, dst);
      expect(hex(engine.read(dst, size))).toBe("0282" + "01020304");
      engine.write(dst + size, new Uint8Array([0x10, 0x20]));
      expect(engine.exports.maskChunk(0, dst + size, 2)).toBe(0);
      expect(hex(engine.read(dst + size, 2))).toBe("1122");
      expect(engine.exports.useMaskKey(0, 0)).toBe(0);
      expect(hex(engine.read(dst, engine.exports.nextFrame(0, dst)))).toBe("8081" + "00000000");
      // Control and close frames take it too; the frame's payload is masked with it.
      const ping = engine.exports.writeControl(0, Opcode.Ping, dst + 64, 0, dst);
      expect(hex(engine.read(dst, ping))).toBe("8980" + "00000000");
      expect(engine.exports.useMaskKey(0, 0xffffffff)).toBe(0);
      const close = engine.exports.writeClose(0, 1000, dst + 64, 0, dst);
      expect(hex(engine.read(dst, close))).toBe("8882" + "ffffffff" + "fc17");
      // A server's frames are never masked; open() ends the host's keys (entropy again: none left here).
      const server = opened(build);
      expect(server.exports.useMaskKey(0, 1)).toBe(CallError.InvalidArgument);
      expect(server.exports.useMaskKey(7, 1)).toBe(CallError.InvalidConnection);
      expect(engine.exports.open(0, Role.Client, 0, 1 << 20)).toBe(0);
      expect(engine.exports.beginMessage(0, Opcode.Binary, 1, 0, 0, dst)).toBe(CallError.EntropyExhausted);
    });

    it("useMaskKey: pongs feed writes for a client take the host's key, with no entropy left", () => {
      const engine = loadEngine(build);
      expect(engine.exports.open(0, Role.Client, ConnFlag.AutoPong, 1 << 20)).toBe(0);
      engine.fillEntropy(new Uint8Array(0));
      expect(engine.exports.useMaskKey(0, 0x44332211)).toBe(0);
      engine.write(engine.io, new Uint8Array([0x89, 0x01, 0x61]));
      expect(engine.exports.feed(0, engine.io, 3)).toBeGreaterThan(0);
      const result = engine.exports.resultPtr();
      expect(engine.u32(result + Result.Consumed)).toBe(3);
      const out = engine.read(engine.exports.outPtr(), engine.u32(result + Result.OutLength));
      expect(hex(out)).toBe("8a81" + "11223344" + (0x61 ^ 0x11).toString(16));
    });
  });

  it("headerBytes: the size nextFrame writes for a length, masking key included for a client", () => {
    const server = opened(build);
    const client = opened(build, Role.Client);
    for (const [n, size] of [
      [0, 2],
      [125, 2],
      [126, 4],
      [65535, 4],
      [65536, 10],
      [2 ** 40, 10],
    ] as const) {
      expect(server.exports.headerBytes(0, n)).toBe(size);
      expect(client.exports.headerBytes(0, n)).toBe(size + 4);
      expect(server.exports.beginMessage(0, Opcode.Binary, n, 0, 0, server.io)).toBe(size);
    }
    expect(server.exports.headerBytes(0, -1)).toBe(CallError.InvalidArgument);
    expect(server.exports.headerBytes(3, 1)).toBe(CallError.InvalidConnection);
  });

  describe("control frames", () => {
    it("writes pings and pongs with FIN, up to 125 bytes", () => {
      const engine = opened(build);
      const src = engine.io + 1024;
      engine.write(src, new Uint8Array(MAX_CONTROL_PAYLOAD).fill(0x61));
      expect(engine.exports.writeControl(0, Opcode.Ping, src, 2, engine.io)).toBe(4);
      expect(hex(engine.read(engine.io, 4))).toBe("89026161");
      expect(engine.exports.writeControl(0, Opcode.Pong, src, MAX_CONTROL_PAYLOAD, engine.io)).toBe(127);
      expect(hex(engine.read(engine.io, 2))).toBe("8a7d");
    });

    it("judges the length and opcode alone (checkControl) as writeControl does, before reading", () => {
      const engine = opened(build);
      for (const opcode of [Opcode.Ping, Opcode.Pong]) {
        expect(engine.exports.checkControl(opcode, MAX_CONTROL_PAYLOAD)).toBe(0);
        expect(engine.exports.checkControl(opcode, MAX_CONTROL_PAYLOAD + 1)).toBe(CallError.ControlTooLong);
        // A length far past memory is refused without a read (no trap).
        expect(engine.exports.writeControl(0, opcode, engine.io, 0x7fffffff, engine.io)).toBe(
          CallError.ControlTooLong,
        );
      }
      for (const opcode of [Opcode.Text, Opcode.Binary, Opcode.Continuation, Opcode.Close, 11]) {
        expect(engine.exports.checkControl(opcode, 0)).toBe(CallError.InvalidOpcode);
        expect(engine.exports.writeControl(0, opcode, engine.io, 0, engine.io)).toBe(CallError.InvalidOpcode);
      }
    });
  });

  describe("close frames", () => {
    it("checkClose: the code, the 123-byte reason limit and UTF-8, the order writeClose checks them in", () => {
      const engine = opened(build);
      const reason = engine.io + 2048;
      engine.write(reason, new Uint8Array(MAX_CLOSE_REASON + 1).fill(0x62));
      expect(engine.exports.checkClose(1000, reason, MAX_CLOSE_REASON)).toBe(0);
      expect(engine.exports.checkClose(0, reason, 0)).toBe(0);
      expect(engine.exports.checkClose(1000, reason, MAX_CLOSE_REASON + 1)).toBe(CallError.CloseReasonTooLong);
      expect(engine.exports.checkClose(1000, reason, 0x7fffffff)).toBe(CallError.CloseReasonTooLong);
      expect(engine.exports.checkClose(0, reason, 1)).toBe(CallError.InvalidCloseCode);
      for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000])
        expect(engine.exports.checkClose(code, reason, 0)).toBe(CallError.InvalidCloseCode);
      for (const code of [1000, 1003, 1007, 1014, 3000, 4999])
        expect(engine.exports.checkClose(code, reason, 0)).toBe(0);
      engine.write(reason, new Uint8Array([0xc3, 0x28]));
      expect(engine.exports.checkClose(1000, reason, 2)).toBe(CallError.CloseReasonNotUtf8);
      expect(engine.exports.writeClose(0, 1000, reason, 2, engine.io)).toBe(CallError.CloseReasonNotUtf8);
      expect(engine.exports.writeClose(0, 1000, reason, 1, engine.io)).toBe(CallError.CloseReasonNotUtf8);
      engine.write(reason, new TextEncoder().encode("bye"));
      expect(engine.exports.writeClose(0, 1000, reason, 3, engine.io)).toBe(7);
      expect(hex(engine.read(engine.io, 7))).toBe("880503e8627965");
      expect(engine.exports.writeClose(0, 1000, reason, 0, engine.io)).toBe(CallError.AlreadyClosing);
    });
  });

  it("tokenLength: the RFC 9110 §5.6.2 tchar set, byte by byte", () => {
    const engine = opened(build);
    const tchar = new Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    const at = engine.io;
    for (let c = 0; c < 256; c++) {
      engine.write(at, new Uint8Array([c, 0x61]));
      const expected = c < 128 && tchar.has(String.fromCharCode(c)) ? 2 : 0;
      expect(engine.exports.tokenLength(at, 2), `byte ${c}`).toBe(expected);
    }
    engine.write(at, new TextEncoder().encode("permessage-deflate; x"));
    expect(engine.exports.tokenLength(at, 21)).toBe(18);
    expect(engine.exports.tokenLength(at, 4)).toBe(4);
    expect(engine.exports.tokenLength(at, 0)).toBe(0);
  });
});
