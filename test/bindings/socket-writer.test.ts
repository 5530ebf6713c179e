// The socket writer's backlog on a socket that takes part of each write (as Bun's do): what a failing
// connection drops (whole frames no one handed to the kernel) and what it finishes (the frame in progress).
import { describe, expect, it } from "vitest";
import { GATHER_BYTES, SocketWriter } from "../../bindings/protocol/socket-writer.js";
import type { SessionSocket } from "../../bindings/protocol/session.js";

/** A partial-write socket that takes at most `room` bytes until given more, recording what it took. */
class PartialSocket implements SessionSocket {
  /** Copies of what it took, write by write. */
  private got: Uint8Array[] = [];
  room: number;
  ended = false;
  constructor(room: number) {
    this.room = room;
  }
  write(bytes: Uint8Array): number {
    const n = Math.min(this.room, bytes.length);
    this.room -= n;
    this.got.push(bytes.slice(0, n));
    return n;
  }
  /** Everything it took, in order. */
  get taken(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.got));
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {}
  readonly bufferedAmount = 0;
  get writable(): boolean {
    return !this.ended;
  }
}

/**
 * As Bun's socket: done with the bytes once `write` returns (it records a copy of what it took), so the writer
 * may gather a batch's chunks into its shared buffer. `calls`: the length of each write.
 */
class CopyingSocket extends PartialSocket {
  readonly writeCopies = true;
  calls: number[] = [];
  override write(bytes: Uint8Array): number {
    this.calls.push(bytes.length);
    return super.write(bytes);
  }
}

/** A server frame (or, with `mask`, a client frame) of `length` bytes of `fill`, in each length form. */
function frameBytes(length: number, fill: number, mask = false): Uint8Array {
  const header = length < 126 ? [length] : length < 65536 ? [126, length >> 8, length & 0xff] : [127];
  if (length >= 65536) for (let i = 7; i >= 0; i--) header.push(Math.floor(length / 2 ** (8 * i)) & 0xff);
  if (mask) header[0] |= 0x80;
  const key = mask ? [1, 2, 3, 4] : [];
  return new Uint8Array([0x82, ...header, ...key, ...new Array<number>(length).fill(fill)]);
}

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe("socket writer: failing with a partly written batch", () => {
  for (const [name, sizes, mask, Socket] of [
    ["7-bit, 16-bit and 64-bit lengths", [100, 300, 70_000, 10], false, PartialSocket],
    ["masked client frames", [300, 100, 70_000], true, PartialSocket],
    ["7-bit, 16-bit and 64-bit lengths, gathered", [100, 300, 70_000, 10], false, CopyingSocket],
  ] as const)
    it(`finishes the frame in progress and drops the frames behind it (${name})`, () => {
      const frames = sizes.map((size, i) => frameBytes(size, i + 1, mask));
      const socket = new Socket(0);
      const writer = new SocketWriter(socket, (n) => new Uint8Array(n));
      writer.startFrames();
      const results: Array<Error | undefined | null> = [null, null];
      writer.track((error) => (results[0] = error));
      writer.write([frames[0], concat(frames[1], frames[2]), ...frames.slice(3)]);
      writer.track((error) => (results[1] = error));
      writer.write([frameBytes(5, 9)]);
      // The kernel takes all of the first frame and part of the second.
      socket.room = frames[0].length + 20;
      writer.drain();
      const dropped = writer.dropWaiting();
      expect(dropped.length).toBe(2);
      for (const callback of dropped) callback(new Error("dropped"));
      expect(results.map((result) => result?.message)).toEqual(["dropped", "dropped"]);
      expect(writer.backlogBytes).toBe(frames[1].length - 20);
      socket.room = Infinity;
      writer.write([frameBytes(2, 0xcc)]);
      writer.drain();
      expect(new Uint8Array(socket.taken)).toEqual(concat(frames[0], frames[1], frameBytes(2, 0xcc)));
    });

  it("drops a batch no byte of which was taken, and keeps a partly written handshake whole", () => {
    const socket = new PartialSocket(10);
    const writer = new SocketWriter(socket, (n) => new Uint8Array(n));
    const head = new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\n\r\n");
    writer.write([head]);
    writer.startFrames();
    writer.write([frameBytes(50, 1)]);
    writer.dropWaiting();
    socket.room = Infinity;
    writer.drain();
    expect(new Uint8Array(socket.taken)).toEqual(head);
  });
});

describe("socket writer: a batch gathered for a socket that copies what it takes (Bun's)", () => {
  /** `count` frames of `size` bytes, each of its own fill. */
  const framesOf = (count: number, size: number) =>
    Array.from({ length: count }, (_, i) => frameBytes(size, (i * 7 + 1) & 255));

  it("16 frames of 2 KiB (a tick of a fan-out) are one write, byte-exact", () => {
    const socket = new CopyingSocket(Infinity);
    const writer = new SocketWriter(socket, (n) => new Uint8Array(n));
    writer.startFrames();
    const frames = framesOf(16, 2048);
    writer.write(frames);
    expect(socket.calls).toEqual([16 * 2052]);
    expect(Buffer.from(socket.taken).equals(concat(...frames))).toBe(true);
  });

  it("headers and payloads of 1.5 KiB (a tick of echoes) are one write, a chunk past the buffer one of its own", () => {
    const socket = new CopyingSocket(Infinity);
    const writer = new SocketWriter(socket, (n) => new Uint8Array(n));
    writer.startFrames();
    // As the output queue hands them over: each header in the slab, each payload by reference.
    const chunks = framesOf(64, 1536).flatMap((frame) => [frame.subarray(0, 4), frame.subarray(4)]);
    const large = frameBytes(GATHER_BYTES + 100, 0xee);
    writer.write([...chunks, large.subarray(0, 10), large.subarray(10), frameBytes(3, 1)]);
    expect(socket.calls).toEqual([64 * 1540 + 10, GATHER_BYTES + 100, 5]);
    expect(Buffer.from(socket.taken).equals(concat(...chunks, large, frameBytes(3, 1)))).toBe(true);
  });

  it("a socket taking part at any byte: what it did not take follows from the batch's own chunks", () => {
    const chunks = [
      ...framesOf(20, 1536).flatMap((frame) => [frame.subarray(0, 4), frame.subarray(4)]),
      ...framesOf(2, 30_000),
      frameBytes(70_000, 0xab),
      // Past the buffer: its header gathered, the payload written as it is.
      ...(() => {
        const large = frameBytes(GATHER_BYTES + 100, 0xcd);
        return [large.subarray(0, 10), large.subarray(10)];
      })(),
      ...framesOf(40, 10),
      ...framesOf(50, 3000),
    ];
    const expected = concat(...chunks);
    // The room the kernel has at each write and drain, from a different start each run: cuts in a header, a
    // payload, at a chunk's end, at and around the shared buffer's size, and in a chunk that goes as it is.
    const rooms = [1, 3, 4, 1540, 4000, 30_000, GATHER_BYTES - 1, GATHER_BYTES, GATHER_BYTES + 1, 200_000];
    for (let start = 0; start < rooms.length; start++) {
      let turn = start;
      const socket = new CopyingSocket(rooms[turn++ % rooms.length]);
      const writer = new SocketWriter(socket, (n) => new Uint8Array(n));
      writer.startFrames();
      let written = false;
      writer.track(() => (written = true));
      writer.write(chunks);
      for (let drains = 0; drains < 100 && writer.backlogBytes > 0; drains++) {
        // Another connection's batch between drains refills the shared buffer.
        const other = new CopyingSocket(Infinity);
        const otherWriter = new SocketWriter(other, (n) => new Uint8Array(n));
        otherWriter.write(framesOf(8, 3000).map((frame) => frame.fill(0x55, 4)));
        expect(other.calls).toEqual([8 * 3004]);
        expect(writer.backlogBytes + socket.taken.length).toBe(expected.length);
        socket.room = rooms[turn++ % rooms.length];
        writer.drain();
      }
      expect(Buffer.from(socket.taken).equals(expected), `start ${start}`).toBe(true);
      expect(writer.backlogBytes).toBe(0);
      writer.settle();
      expect(written).toBe(true);
    }
  });

  it("a socket that keeps what it is given (no `writeCopies`) never gets the shared buffer", () => {
    const held: Uint8Array[] = [];
    const buffering: SessionSocket = {
      write(bytes) {
        held.push(bytes);
        return true;
      },
      end() {},
      destroy() {},
      bufferedAmount: 0,
      writable: true,
    };
    const writer = new SocketWriter(buffering, (n) => new Uint8Array(n));
    writer.startFrames();
    const frames = framesOf(4, 100);
    writer.write(frames);
    // Another socket's gathered batch after it: what the first socket holds is unchanged.
    new SocketWriter(new CopyingSocket(Infinity), (n) => new Uint8Array(n)).write(framesOf(4, 200));
    expect(Buffer.from(concat(...held)).equals(concat(...frames))).toBe(true);
  });
});
