// Per-tick write batching: what the sink gets, and that a slab is reused only once the transport holds
// none of its bytes (reusing it earlier would rewrite bytes still waiting to be sent).
import { describe, expect, it } from "vitest";
import { OutputQueue, SLAB_BYTES } from "../../bindings/output.js";
import { Role } from "../../bindings/connection.js";
import { EnginePool } from "../../bindings/pool.js";
import { Session, type SessionSocket } from "../../bindings/session.js";

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

/** A socket that takes everything at once (kernel room) or keeps it all queued (a slow peer). */
class FakeSocket implements SessionSocket {
  written: Uint8Array[] = [];
  snapshots: number[][] = [];
  bufferedAmount = 0;
  constructor(private readonly slow: boolean) {}
  write(bytes: Uint8Array): boolean {
    this.written.push(bytes);
    this.snapshots.push([...bytes]);
    if (this.slow) this.bufferedAmount += bytes.length;
    return !this.slow;
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
      if (n >= SLAB_BYTES) slabs.push(n);
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
    expect(slabs).toEqual([SLAB_BYTES]);
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
    expect(slabs.length).toBeLessThanOrEqual(4);
  });

  it("a closed session's slab goes to the next session: accepting and closing allocates no slab each", async () => {
    const slabs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const s = session(new FakeSocket(false), slabs);
      s.send(new Uint8Array(100).fill(i), true, 0);
      await Promise.resolve();
      s.onClose();
    }
    expect(slabs.length).toBeLessThanOrEqual(1);
  });

  it("never rewrites bytes a slow socket still holds", async () => {
    const slabs: number[] = [];
    const socket = new FakeSocket(true);
    const s = session(socket, slabs);
    for (let i = 0; i < 400; i++) {
      s.send(new Uint8Array(100).fill(i & 255), true, 0);
      await Promise.resolve();
    }
    expect(new Set(socket.written.map((bytes) => bytes.buffer)).size).toBeGreaterThan(1);
    expect(socket.written.map((bytes) => [...bytes])).toEqual(socket.snapshots);
  });
});
