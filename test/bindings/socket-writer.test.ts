// The socket writer's backlog on a socket that takes part of each write (as Bun's do): what a failing
// connection drops (whole frames no one handed to the kernel) and what it finishes (the frame in progress).
import { describe, expect, it } from "vitest";
import { SocketWriter } from "../../bindings/protocol/socket-writer.js";
import type { SessionSocket } from "../../bindings/protocol/session.js";

/** A partial-write socket that takes at most `room` bytes until given more, recording what it took. */
class PartialSocket implements SessionSocket {
  taken: number[] = [];
  room: number;
  ended = false;
  constructor(room: number) {
    this.room = room;
  }
  write(bytes: Uint8Array): number {
    const n = Math.min(this.room, bytes.length);
    this.room -= n;
    this.taken.push(...bytes.subarray(0, n));
    return n;
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

/** A server frame (or, with `mask`, a client frame) of `length` bytes of `fill`, in each length form. */
function frameBytes(length: number, fill: number, mask = false): Uint8Array {
  const header = length < 126 ? [length] : length < 65536 ? [126, length >> 8, length & 0xff] : [127];
  if (length >= 65536) for (let i = 7; i >= 0; i--) header.push(Math.floor(length / 2 ** (8 * i)) & 0xff);
  if (mask) header[0] |= 0x80;
  const key = mask ? [1, 2, 3, 4] : [];
  return new Uint8Array([0x82, ...header, ...key, ...new Array<number>(length).fill(fill)]);
}

const concat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((part) => [...part]));

describe("socket writer: failing with a partly written batch", () => {
  for (const [name, sizes, mask] of [
    ["7-bit, 16-bit and 64-bit lengths", [100, 300, 70_000, 10], false],
    ["masked client frames", [300, 100, 70_000], true],
  ] as const)
    it(`finishes the frame in progress and drops the frames behind it (${name})`, () => {
      const frames = sizes.map((size, i) => frameBytes(size, i + 1, mask));
      const socket = new PartialSocket(0);
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
