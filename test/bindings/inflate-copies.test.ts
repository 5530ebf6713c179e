// Copies of an inflated message on the event loop, counted where JavaScript can see them: every call that
// copies bytes (Buffer.concat, which node:zlib joins its output chunks with, TypedArray `set` and `slice`,
// Buffer `copy`, ArrayBuffer `slice`) is wrapped while a compressed message goes from the wire to the
// application, in the byte type it asked for (a Buffer, or an ArrayBuffer for binaryType "arraybuffer").
// Once: zlib's output chunks are joined into a new Buffer that is the message delivered (and the ArrayBuffer
// given is that Buffer's own when the Buffer fills it: over 4 KiB, Node's Buffer pool below); a single output
// chunk, a view of zlib's larger chunk buffer, is copied once into the message. The compressed bytes are
// copied too (into engine memory, kept, joined), a few KiB here.
import { afterEach, describe, expect, it } from "vitest";
import { Role, WireConnection } from "../../bindings/protocol/connection.js";
import { createEngine } from "../../bindings/engine/embedded.js";
import { PerMessageDeflate, SYNC_INFLATE_BYTES } from "../../bindings/protocol/permessage-deflate.js";
import { toArrayBuffer } from "../../bindings/protocol/send-data.js";
import { nodeDeflateCodec } from "../../runtimes/node/deflate.js";
import { allocBuffer } from "../../runtimes/node/buffer.js";
import * as zlib from "node:zlib";

/** Counts bytes copied by the copying calls while installed; `joins` holds what Buffer.concat returned. */
class CopyCounter {
  copied = 0;
  joins: Buffer[] = [];
  private readonly undo: Array<() => void> = [];

  install(): void {
    const counter = this;
    const concat = Buffer.concat;
    Buffer.concat = function (list: readonly Uint8Array[], total?: number) {
      const joined = concat.call(Buffer, list, total);
      counter.copied += joined.length;
      counter.joins.push(joined);
      return joined;
    } as typeof Buffer.concat;
    this.undo.push(() => (Buffer.concat = concat));
    const typedArray = Object.getPrototypeOf(Uint8Array.prototype) as Uint8Array;
    const set = typedArray.set;
    const slice = typedArray.slice;
    Object.defineProperty(Uint8Array.prototype, "set", {
      configurable: true,
      writable: true,
      value(this: Uint8Array, source: ArrayLike<number>, offset?: number) {
        counter.copied += source.length;
        return set.call(this, source, offset);
      },
    });
    Object.defineProperty(Uint8Array.prototype, "slice", {
      configurable: true,
      writable: true,
      value(this: Uint8Array, start?: number, end?: number) {
        const copy = slice.call(this, start, end);
        counter.copied += copy.length;
        return copy;
      },
    });
    this.undo.push(() => {
      delete (Uint8Array.prototype as { set?: unknown }).set;
      delete (Uint8Array.prototype as { slice?: unknown }).slice;
    });
    const copy = Buffer.prototype.copy;
    Buffer.prototype.copy = function (this: Buffer, ...args: Parameters<Buffer["copy"]>) {
      const n = copy.apply(this, args);
      counter.copied += n;
      return n;
    };
    this.undo.push(() => (Buffer.prototype.copy = copy));
    const abSlice = ArrayBuffer.prototype.slice;
    ArrayBuffer.prototype.slice = function (this: ArrayBuffer, start?: number, end?: number) {
      const copy = abSlice.call(this, start ?? 0, end ?? this.byteLength);
      counter.copied += copy.byteLength;
      return copy;
    };
    this.undo.push(() => (ArrayBuffer.prototype.slice = abSlice));
  }

  uninstall(): void {
    while (this.undo.length > 0) this.undo.pop()!();
  }
}

let counter: CopyCounter | null = null;
afterEach(() => {
  counter?.uninstall();
  counter = null;
});

const text = (n: number) =>
  Buffer.from(
    Array.from({ length: Math.ceil(n / 8) + 1 }, (_, i) => '{"k":' + ((i * 31) % 97) + "}")
      .join(",")
      .slice(0, n),
  );

/** A masked client frame (zero key) carrying `message` deflated alone, RSV1 set. */
function compressedFrame(message: Uint8Array, binary: boolean): Buffer {
  const deflated = zlib.deflateRawSync(message, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const payload = deflated.subarray(0, deflated.length - 4);
  const n = payload.length;
  const first = binary ? 0xc2 : 0xc1;
  const header =
    n < 126
      ? Buffer.from([first, 0x80 | n])
      : n < 65536
        ? Buffer.from([first, 0xfe, n >> 8, n & 0xff])
        : Buffer.from([first, 0xff, 0, 0, 0, 0, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([header, Buffer.alloc(4), payload]);
}

/** A server connection as the Node host makes it (its Buffer allocator), deflate without context takeover. */
function server(maxPayload: number) {
  const engine = createEngine({ maxConnections: 1, ioBytes: 64 * 1024 }, "simd");
  const messages: Array<[Uint8Array, boolean]> = [];
  const errors: Error[] = [];
  const session = {
    sendNoContextTakeover: true,
    sendWindowBits: 15,
    receiveNoContextTakeover: true,
    receiveWindowBits: 15,
  };
  const conn = new WireConnection(
    { engine, slot: 0 },
    {
      message: (data, isBinary) => messages.push([data, isBinary]),
      ping() {},
      pong() {},
      close() {},
      error: (error) => errors.push(error),
      closed() {},
      write() {},
    },
    {
      role: Role.Server,
      maxPayload,
      alloc: allocBuffer,
      deflate: new PerMessageDeflate(session, nodeDeflateCodec, { maxPayload }),
    },
  );
  return { conn, messages, errors };
}

async function deliveredOne(s: ReturnType<typeof server>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (s.messages.length === 0 && s.errors.length === 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 1));
}

describe("an inflated message is copied once on its way to the application (Node host's Buffers)", () => {
  const cases: Array<[string, number]> = [
    ["1 MiB, inflated on zlib's thread pool", 1 << 20],
    ["16 MiB, inflated on zlib's thread pool", 16 << 20],
    [`${SYNC_INFLATE_BYTES - 1000} B, inflated at once in several zlib chunks`, SYNC_INFLATE_BYTES - 1000],
    ["10,000 B, inflated at once", 10_000],
    ["3,000 B, inflated at once", 3_000],
    ["1,000 B, inflated at once in one zlib chunk", 1_000],
  ];
  for (const [label, size] of cases)
    for (const binaryType of ["nodebuffer", "arraybuffer"] as const)
      it(`${label}, delivered as ${binaryType}`, async () => {
        const s = server(32 << 20);
        const message = text(size);
        const frame = compressedFrame(message, true);
        counter = new CopyCounter();
        counter.install();
        s.conn.receive(frame);
        await deliveredOne(s);
        const data = s.messages[0]?.[0];
        const delivered = data && binaryType === "arraybuffer" ? toArrayBuffer(data) : data;
        counter.uninstall();
        expect(s.errors).toEqual([]);
        expect(s.messages).toHaveLength(1);
        expect(Buffer.from(data).equals(message)).toBe(true);
        // The compressed bytes: into engine memory, kept, joined with the tail restored (and slack for it).
        const compressedCopies = 3 * frame.length + 64;
        // A small message's Buffer is a slice of Node's pool: an ArrayBuffer of its own is one more copy.
        const toOwn = binaryType === "arraybuffer" && size < Buffer.poolSize >>> 1 ? size : 0;
        expect(counter.copied - compressedCopies - toOwn).toBeLessThanOrEqual(size);
        if (binaryType === "arraybuffer") {
          expect(delivered).toBeInstanceOf(ArrayBuffer);
          expect((delivered as ArrayBuffer).byteLength).toBe(size);
        }
        // Where zlib's chunks were joined (more than one chunk), the join is what the application got.
        const join = counter.joins.find((joined) => joined.length === size);
        if (join) {
          expect(data).toBe(join);
          if (binaryType === "arraybuffer" && toOwn === 0) expect(delivered).toBe(join.buffer);
        }
      });

  it("text is delivered as the joined Buffer too, after its UTF-8 is checked", async () => {
    const s = server(32 << 20);
    const message = text(1 << 20);
    counter = new CopyCounter();
    counter.install();
    s.conn.receive(compressedFrame(message, false));
    await deliveredOne(s);
    counter.uninstall();
    expect(s.messages).toHaveLength(1);
    const [data, isBinary] = s.messages[0];
    expect(isBinary).toBe(false);
    expect(Buffer.from(data).equals(message)).toBe(true);
    expect(counter.joins.some((joined) => joined === data)).toBe(true);
  });
});
