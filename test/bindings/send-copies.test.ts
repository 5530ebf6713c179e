// Copies of a payload on a server's send path, counted where they can be seen: every buffer the session
// allocates (its output slabs included) and the engine's whole memory are searched for the payload's bytes
// after a send, and a payload passed by reference is the caller's own buffer. At most one copy: a small
// payload (or a string, encoded) lands once in the output slab behind the header the engine wrote; a larger
// one reaches the socket as the caller's buffer, only its header copied.
import { describe, expect, it } from "vitest";
import { COPY_BYTES, SLAB_BYTES } from "../../bindings/protocol/output.js";
import { Role } from "../../bindings/protocol/connection.js";
import { EnginePool } from "../../bindings/engine/pool.js";
import type { Engine } from "../../bindings/engine/engine.js";
import { Session, type SessionSocket } from "../../bindings/protocol/session.js";

class Socket implements SessionSocket {
  written: Uint8Array[] = [];
  bufferedAmount = 0;
  write(bytes: Uint8Array): boolean {
    this.written.push(bytes);
    return true;
  }
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {}
  get writable(): boolean {
    return true;
  }
}

/** A server session on its own engine; `allocated` holds every buffer it allocates. */
function server(build: "simd" | "mvp") {
  const pool = new EnginePool({ maxConnections: 1 }, build);
  const handle = pool.acquire();
  const socket = new Socket();
  const allocated: Uint8Array[] = [];
  const session = new Session(
    socket,
    pool,
    handle,
    {
      role: Role.Server,
      maxPayload: 1 << 20,
      fragments: "message",
      heartbeat: null,
      highWaterMark: 1 << 30,
      maxBufferedAmount: 1 << 30,
      closeTimeout: 1000,
      stallTimeout: 30_000,
    },
    {
      message() {},
      fragment() {},
      ping() {},
      pong() {},
      closing() {},
      error() {},
      drain() {},
      end() {},
    },
    (n) => {
      const bytes = new Uint8Array(n);
      allocated.push(bytes);
      return bytes;
    },
  );
  session.start();
  return { session, socket, allocated, engine: handle.engine as Engine };
}

/** Bytes no two positions of which are alike over a short run: found only where they were copied. */
function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** How many times `needle` occurs in `haystack`. */
function occurrences(haystack: Uint8Array, needle: Uint8Array): number {
  let count = 0;
  const first = needle[0];
  for (let i = haystack.indexOf(first); i >= 0 && i + needle.length <= haystack.length;) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) count++;
    i = haystack.indexOf(first, i + 1);
  }
  return count;
}

/** Copies of `payload` in the engine's memory and in everything the session allocated. */
function copies(s: ReturnType<typeof server>, payload: Uint8Array): { engine: number; allocated: number } {
  return {
    engine: occurrences(s.engine.u8, payload),
    allocated: s.allocated.reduce((n, bytes) => n + occurrences(bytes, payload), 0),
  };
}

const concat = (chunks: Uint8Array[]) => Buffer.concat(chunks.map((c) => Buffer.from(c)));

describe.each(["simd", "mvp"] as const)(
  "a server's send path copies a payload at most once (%s build)",
  (build) => {
    it.each([32, 1000, COPY_BYTES])(
      "a %i-byte payload: once, into the output slab behind its header",
      async (n) => {
        const s = server(build);
        const payload = pattern(n, n);
        s.session.send(payload, true, 0);
        await Promise.resolve();
        expect(copies(s, payload)).toEqual({ engine: 0, allocated: 1 });
        // The frame went out whole, in one chunk of a slab.
        expect(s.socket.written).toHaveLength(1);
        const header = n < 126 ? [0x82, n] : [0x82, 126, n >> 8, n & 255];
        expect(concat(s.socket.written).equals(Buffer.concat([Buffer.from(header), payload]))).toBe(true);
      },
    );

    it("a payload past COPY_BYTES: never copied, the socket gets the caller's own buffer", async () => {
      const s = server(build);
      const payload = pattern(COPY_BYTES + 1, 7);
      s.session.send(payload, true, 0);
      await Promise.resolve();
      expect(copies(s, payload)).toEqual({ engine: 0, allocated: 0 });
      expect(s.socket.written.map((c) => c.length)).toEqual([4, COPY_BYTES + 1]);
      expect(s.socket.written[1].buffer).toBe(payload.buffer);
      expect(s.socket.written[1].byteOffset).toBe(payload.byteOffset);
    });

    it("a fragmented payload: each small fragment once, behind its header; large ones by reference", async () => {
      const s = server(build);
      const payload = pattern(3 * 600, 11);
      s.session.send(payload, true, 600);
      const big = pattern(3 * (COPY_BYTES + 8), 13);
      s.session.send(big, true, COPY_BYTES + 8);
      await Promise.resolve();
      for (let i = 0; i < 3; i++) {
        const piece = payload.subarray(i * 600, (i + 1) * 600);
        expect(copies(s, piece), `fragment ${i}`).toEqual({ engine: 0, allocated: 1 });
      }
      expect(copies(s, big)).toEqual({ engine: 0, allocated: 0 });
      const pieces = s.socket.written.filter((c) => c.buffer === big.buffer);
      expect(pieces.map((c) => c.byteOffset)).toEqual([0, COPY_BYTES + 8, 2 * (COPY_BYTES + 8)]);
    });

    it("a string: encoded once, straight into the output slab (UTF-8 of 1-3 bytes a unit, all header sizes)", async () => {
      for (const text of [
        "short",
        "é".repeat(70), // 140 bytes: the header's size depends on the exact length (126+)
        "x".repeat(100), // 100 bytes, with bounds 100..300 that straddle 125
        "é€😀".repeat(700),
      ]) {
        const s = server(build);
        s.session.send(text, false, 0);
        await Promise.resolve();
        const encoded = new TextEncoder().encode(text);
        expect(copies(s, encoded), text.slice(0, 10)).toEqual({ engine: 0, allocated: 1 });
        const wire = concat(s.socket.written);
        const header = wire.length - encoded.length;
        expect(header).toBe(encoded.length < 126 ? 2 : 4);
        expect(wire[0]).toBe(0x81);
        expect(wire.subarray(header).equals(Buffer.from(encoded))).toBe(true);
      }
    });

    it("a string too long for a slab: encoded once, passed by reference behind its header", async () => {
      const s = server(build);
      const text = "ab".repeat(SLAB_BYTES);
      s.session.send(text, false, 0);
      await Promise.resolve();
      const encoded = new TextEncoder().encode(text);
      expect(copies(s, encoded).engine).toBe(0);
      expect(s.socket.written.map((c) => c.length)).toEqual([4, encoded.length]);
    });
  },
);
