// Per-tick write batching: what the sink gets, and that a slab is reused only once the transport holds
// none of its bytes (reusing it earlier would rewrite bytes still waiting to be sent).
import { describe, expect, it } from "vitest";
import {
  COPY_BYTES,
  FIRST_SLAB_BYTES,
  OutputQueue,
  SLAB_BYTES,
  UNCORKED_SLAB_BYTES,
} from "../../bindings/protocol/output.js";
import { Role } from "../../bindings/protocol/connection.js";
import { EnginePool } from "../../bindings/engine/pool.js";
import { Session, type SessionSocket } from "../../bindings/protocol/session.js";

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("OutputQueue", () => {
  it("gathers a tick's borrowed bytes into one slab chunk, copied", async () => {
    const got: Uint8Array[][] = [];
    const queue = new OutputQueue((chunks) => got.push(chunks));
    const scratch = new Uint8Array([1, 2, 3]);
    queue.push(scratch, true);
    scratch.fill(9);
    queue.push(new Uint8Array([4]), true);
    await tick();
    expect(got.map((chunks) => chunks.map((c) => [...c]))).toEqual([[[1, 2, 3, 4]]]);
  });

  it("fills the slab from its start again after recycle(), and moves on without it", async () => {
    const got: Uint8Array[] = [];
    const queue = new OutputQueue((chunks) => got.push(...chunks));
    queue.push(new Uint8Array([1, 2]), true);
    queue.flush();
    queue.push(new Uint8Array([3, 4]), true);
    queue.flush();
    expect(got[1].buffer).toBe(got[0].buffer);
    expect(got[1].byteOffset).toBe(got[0].byteOffset + 2);
    queue.recycle();
    queue.push(new Uint8Array([5, 6]), true);
    queue.flush();
    expect(got[2].buffer).toBe(got[0].buffer);
    expect(got[2].byteOffset).toBe(0);
  });
});

/**
 * A socket that takes everything at once (kernel room) or keeps it all queued (a slow peer), saying it holds
 * enough past 16 KiB as a Node stream does (then the session keeps later batches until `onDrain`).
 */
class FakeSocket implements SessionSocket {
  written: Uint8Array[] = [];
  snapshots: number[][] = [];
  bufferedAmount = 0;
  constructor(private readonly slow: boolean) {}
  write(bytes: Uint8Array): boolean {
    this.written.push(bytes);
    this.snapshots.push([...bytes]);
    if (this.slow) this.bufferedAmount += bytes.length;
    return this.bufferedAmount < 16 * 1024;
  }
  end(): void {}
  destroy(): void {}
  get writable(): boolean {
    return true;
  }
}

function session(socket: FakeSocket, slabs: number[]): Session {
  const pool = new EnginePool({ maxConnections: 1 });
  const session = new Session(
    socket,
    pool,
    pool.acquire(),
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
      if (n > 0) slabs.push(n);
      return new Uint8Array(n);
    },
  );
  session.start();
  return session;
}

describe("Session output slabs", () => {
  it("reuses one slab tick after tick while the socket takes every write at once", async () => {
    const slabs: number[] = [];
    const socket = new FakeSocket(false);
    const s = session(socket, slabs);
    for (let i = 0; i < 2000; i++) {
      s.send(new Uint8Array(100).fill(i & 255), true, 0);
      await Promise.resolve();
    }
    expect(socket.written).toHaveLength(2000);
    // One small slab: a connection that writes a little per tick never grows it.
    expect(slabs).toEqual([FIRST_SLAB_BYTES]);
  });

  it("writes the handshake without a slab: a connection idle since its handshake holds none", async () => {
    const slabs: number[] = [];
    const socket = new FakeSocket(false);
    const s = session(socket, slabs);
    const response = new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\n\r\n");
    s.writeRaw(response);
    await Promise.resolve();
    expect(socket.written).toEqual([response]);
    // Only the response's own copy was allocated, no slab of FIRST_SLAB_BYTES.
    expect(slabs).toEqual([response.length]);
    s.send(new Uint8Array(100), true, 0);
    await Promise.resolve();
    expect(slabs).toEqual([response.length, FIRST_SLAB_BYTES]);
  });

  it("grows a slab by doubling only when a tick's frames outgrow it, up to SLAB_BYTES", async () => {
    const slabs: number[] = [];
    const s = session(new FakeSocket(false), slabs);
    s.send(new Uint8Array(100), true, 0);
    await Promise.resolve();
    for (let k = 0; k < 12; k++) s.send(new Uint8Array(100), true, 0);
    await Promise.resolve();
    // (Other allocations: the session joining a tick's chunks for a socket without cork.)
    const slabSizes = () => slabs.filter((n) => n >= FIRST_SLAB_BYTES && (n & (n - 1)) === 0);
    expect(slabSizes()).toEqual([FIRST_SLAB_BYTES, 2 * FIRST_SLAB_BYTES]);
    for (let k = 0; k < 200; k++) s.send(new Uint8Array(100), true, 0);
    await Promise.resolve();
    expect(Math.max(...slabSizes())).toBe(SLAB_BYTES);
  });

  it("a tick of 32 KB is one chunk on a socket without cork (one write), slabs of 16 KiB with cork", async () => {
    // 32 echoes of 1 KiB per tick: where each chunk is a write of its own (Bun) the slab grows past
    // SLAB_BYTES (up to UNCORKED_SLAB_BYTES) so the tick is one write; with cork (Node) slabs stay at
    // SLAB_BYTES and the tick is several chunks written as one batch.
    class CorkSocket extends FakeSocket {
      cork(): void {}
      uncork(): void {}
    }
    const tickBytes = 32 * 1004;
    for (const corked of [true, false]) {
      const socket = corked ? new CorkSocket(false) : new FakeSocket(false);
      const slabs: number[] = [];
      const s = session(socket, slabs);
      for (let round = 0; round < 8; round++) {
        for (let k = 0; k < 32; k++) s.send(new Uint8Array(1000).fill(k), true, 0);
        await Promise.resolve();
      }
      const largest = Math.max(...slabs.filter((n) => n >= FIRST_SLAB_BYTES && (n & (n - 1)) === 0));
      if (corked) {
        expect(largest).toBe(SLAB_BYTES);
        expect(socket.written.slice(-2).reduce((n, chunk) => n + chunk.length, 0)).toBe(tickBytes);
      } else {
        expect(largest).toBeGreaterThan(SLAB_BYTES);
        expect(largest).toBeLessThanOrEqual(UNCORKED_SLAB_BYTES);
        expect(socket.written.at(-1)!.length).toBe(tickBytes);
      }
    }
  });

  it("a tick that outgrows one slab gets full slabs back from the spare list, not new ones", async () => {
    const slabs: number[] = [];
    const socket = new FakeSocket(false);
    const s = session(socket, slabs);
    for (let i = 0; i < 300; i++) {
      for (let k = 0; k < 3; k++) s.send(new Uint8Array(10_000).fill((i + k) & 255), true, 0);
      await Promise.resolve();
    }
    expect(socket.written.length).toBeGreaterThanOrEqual(300);
    expect(slabs.filter((n) => n === SLAB_BYTES).length).toBeLessThanOrEqual(4);
  });

  it("a closed session's slab goes to the next session: accepting and closing allocates no slab each", async () => {
    const slabs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const s = session(new FakeSocket(false), slabs);
      // Enough in one tick to grow to full slabs.
      for (let k = 0; k < 3; k++) s.send(new Uint8Array(10_000).fill(i), true, 0);
      await Promise.resolve();
      s.onClose();
    }
    expect(slabs.filter((n) => n === SLAB_BYTES).length).toBeLessThanOrEqual(3);
  });

  it("a server writes a payload past COPY_BYTES by reference behind its header, smaller ones copied", async () => {
    const socket = new (class extends FakeSocket {
      cork(): void {}
      uncork(): void {}
    })(false);
    const s = session(socket, []);
    const big = new Uint8Array(COPY_BYTES + 1).fill(7);
    s.send(big, true, 0);
    await Promise.resolve();
    expect(socket.written).toHaveLength(2);
    expect(socket.written[0].length).toBe(4);
    expect(socket.written[1].buffer).toBe(big.buffer);
    const small = new Uint8Array(COPY_BYTES).fill(8);
    s.send(small, true, 0);
    await Promise.resolve();
    expect(socket.written).toHaveLength(3);
    expect(socket.written[2].length).toBe(COPY_BYTES + 4);
    expect(socket.written[2].buffer).not.toBe(small.buffer);
  });

  it("never rewrites bytes a slow socket still holds", async () => {
    const slabs: number[] = [];
    const socket = new FakeSocket(true);
    const s = session(socket, slabs);
    for (let i = 0; i < 400; i++) {
      s.send(new Uint8Array(100).fill(i & 255), true, 0);
      await Promise.resolve();
    }
    // What the socket holds, then what the session kept for it, written as the socket drains.
    for (let drains = 0; drains < 100; drains++) {
      socket.bufferedAmount = 0;
      s.onDrain();
    }
    expect(new Set(socket.written.map((bytes) => bytes.buffer)).size).toBeGreaterThan(1);
    expect(socket.written.map((bytes) => [...bytes])).toEqual(socket.snapshots);
    const frames = Array.from({ length: 400 }, (_, i) => [
      0x82,
      100,
      ...new Array<number>(100).fill(i & 255),
    ]);
    expect(socket.snapshots.flat()).toEqual(frames.flat());
  });
});
