// Write batching shared by the hosts: frames produced during one tick (a read burst's replies, a loop of
// sends) are gathered and handed to the transport together, so each connection makes one write per tick.
// Borrowed bytes (headers and masked frames in engine memory) and small payloads are copied into a slab that
// is filled forward and never rewritten under a pending write, so a tick of small frames is one chunk; a
// string is encoded straight into the slab (`reserve`/`commit`). Larger payloads of the caller's (or a frame
// published to many connections, or bytes made for one send) are passed by reference, uncopied. So a
// server's payload is copied at most once between the caller and the socket.

/** Receives the gathered chunks, in order, once per flush. */
export type OutputSink = (chunks: Uint8Array[]) => void;

/** Full slab size: small frames of one tick share one allocation (the transport gathers slabs: cork). */
export const SLAB_BYTES = 16 * 1024;
/**
 * Full slab size for a transport without cork (Bun's), where each chunk of a tick is a write of its own: a
 * tick of 32 echoes of 1 KiB fits one slab, so one write, not three. (With cork, larger slabs only held
 * more memory: peak RSS +10 MB in the 1 KiB echo cell on Node.)
 */
export const UNCORKED_SLAB_BYTES = 64 * 1024;
/**
 * A connection's first slab, made at its first frame (the handshake goes out in a buffer of its own, so a
 * connection idle since its handshake holds none). Slabs double (up to SLAB_BYTES) only when a tick's frames
 * outgrow them, so a quiet connection keeps 1 KiB, not 16.
 */
export const FIRST_SLAB_BYTES = 1024;
/** Payloads up to this size are copied into the slab: cheaper than one more chunk to write. */
export const COPY_BYTES = 1024;
/** Payloads up to this many bytes are copied into a slab by a loop rather than `set`. */
const TINY_COPY_BYTES = 64;

// Full slabs whose bytes the kernel has taken, for any queue to fill again (a tick that outgrows one slab
// would otherwise drop one per tick for the GC), by size. Bounded: at most 1 MiB of each size.
const spareSlabs = new Map<number, Uint8Array[]>([
  [SLAB_BYTES, []],
  [UNCORKED_SLAB_BYTES, []],
]);
const SPARE_BYTES = 1024 * 1024;

/** Keep a full slab of a spare size for another queue, within the bound. */
function spare(slab: Uint8Array): void {
  const list = spareSlabs.get(slab.length);
  if (list && list.length * slab.length < SPARE_BYTES) list.push(slab);
}
/** The slab of a queue that has written nothing yet (or was released): shared, it holds no bytes. */
const NO_SLAB = new Uint8Array(0);

/** The slab to hold `need` bytes: a power of two from FIRST_SLAB_BYTES to `full`, or `need` beyond. */
function slabSize(need: number, full: number): number {
  if (need > full) return need;
  let size = FIRST_SLAB_BYTES;
  while (size < need) size <<= 1;
  return size;
}

/** Frames waiting for the end of the tick. */
export class OutputQueue {
  private readonly sink: OutputSink;
  private readonly alloc: (size: number) => Uint8Array;
  /** Full slab size: SLAB_BYTES, or UNCORKED_SLAB_BYTES for a transport without cork. */
  private readonly slabBytes: number;
  private slab: Uint8Array;
  private start = 0;
  private end = 0;
  private chunks: Uint8Array[] = [];
  /** Slabs filled up since the last flush: free once the transport has taken that flush. */
  private retired: Uint8Array[] = [];
  private scheduled = false;
  /** The scheduled flush, made at the first (a connection that never sends a frame makes none). */
  private flushTask: (() => void) | null = null;
  /** Bytes queued and not yet handed to the sink. */
  pending = 0;

  constructor(
    sink: OutputSink,
    alloc: (size: number) => Uint8Array = (n) => new Uint8Array(n),
    slabBytes = SLAB_BYTES,
  ) {
    this.sink = sink;
    this.alloc = alloc;
    this.slabBytes = slabBytes;
    this.slab = NO_SLAB;
  }

  /**
   * Queue bytes. `borrowed` ones (aliasing memory that will be reused) are copied now; the caller's payload
   * is copied into the slab up to COPY_BYTES (its one copy) and passed by reference past it; `owned` bytes
   * (made for this send, held by no one else) are always passed by reference.
   */
  push(bytes: Uint8Array, borrowed: boolean, owned = false): void {
    if (bytes.length === 0) return;
    this.pending += bytes.length;
    if (!borrowed && (owned || bytes.length > COPY_BYTES)) this.append(bytes);
    else {
      if (this.slab.length - this.end < bytes.length) this.nextSlab(bytes.length);
      this.slab.set(bytes, this.end);
      this.end += bytes.length;
    }
    this.schedule();
  }

  /**
   * Hand the sink what is queued, then a copy of `bytes` in an allocation of their exact size, now: the slab is
   * left alone (none is made), and no flush is scheduled for it (a microtask that would find nothing to do).
   */
  writeCopy(bytes: Uint8Array): void {
    if (bytes.length === 0) return this.flush();
    const copy = this.alloc(bytes.length);
    copy.set(bytes);
    this.pending += copy.length;
    this.append(copy);
    this.flush();
  }

  /** Queue `bytes` by reference, behind what the slab holds. */
  private append(bytes: Uint8Array): void {
    this.seal();
    this.chunks.push(bytes);
  }

  /**
   * Queue a small frame whole in the slab: the header, `headerLength` bytes at `headerAt` in `memory`
   * (borrowed), and the payload behind it (copied once).
   */
  pushFrame(memory: Uint8Array, headerAt: number, headerLength: number, payload: Uint8Array): void {
    const size = headerLength + payload.length;
    this.pending += size;
    if (this.slab.length - this.end < size) this.nextSlab(size);
    const slab = this.slab;
    const end = this.end;
    for (let i = 0; i < headerLength; i++) slab[end + i] = memory[headerAt + i];
    const n = payload.length;
    // A tiny payload by a loop: on JSC, cheaper than `set`'s native call (the echo of 32 B messages).
    if (n <= TINY_COPY_BYTES) for (let i = 0, at = end + headerLength; i < n; i++) slab[at + i] = payload[i];
    else slab.set(payload, end + headerLength);
    this.end = end + size;
    this.schedule();
  }

  /**
   * Room at the end of the slab for a frame whose payload (at most `payloadLength` bytes) is written in
   * place: the payload's room is returned, `headerLength` bytes kept before it; null past a full slab.
   * Nothing is queued until `commit`; the next push or reserve may reuse the room.
   */
  reserve(headerLength: number, payloadLength: number): Uint8Array | null {
    const size = headerLength + payloadLength;
    if (size > this.slabBytes) return null;
    if (this.slab.length - this.end < size) this.nextSlab(size);
    const at = this.end + headerLength;
    return this.slab.subarray(at, at + payloadLength);
  }

  /**
   * Queue the frame `reserve` made room for: its header, `headerLength` bytes at `headerAt` in `memory`
   * (borrowed), copied before the `payloadLength` bytes written in the room.
   */
  commit(memory: Uint8Array, headerAt: number, headerLength: number, payloadLength: number): void {
    const slab = this.slab;
    const end = this.end;
    for (let i = 0; i < headerLength; i++) slab[end + i] = memory[headerAt + i];
    this.end = end + headerLength + payloadLength;
    this.pending += headerLength + payloadLength;
    this.schedule();
  }

  /** Hand everything queued to the sink now (also called before ending the transport). */
  flush(): void {
    this.scheduled = false;
    this.seal();
    if (this.chunks.length > 0) {
      const chunks = this.chunks;
      this.chunks = [];
      this.pending = 0;
      this.sink(chunks);
    }
    // Not recycled by the sink: their bytes may still be waiting in the transport.
    if (this.retired.length > 0) this.retired = [];
  }

  /**
   * The transport holds none of the bytes handed to it any more (the kernel took them all): fill the slab
   * from its start again. Without this every slab would be dropped full and, living across several
   * collections, be promoted and pile up until a full GC (most of peak RSS under small-message load).
   */
  recycle(): void {
    if (this.chunks.length !== 0 || this.start !== this.end) return;
    this.start = this.end = 0;
    for (const slab of this.retired) spare(slab);
    this.retired = [];
  }

  /**
   * The transport is closed and holds none of our bytes: drop what is queued and hand the slabs to other
   * queues (a server accepting and closing connections would otherwise allocate a slab for each one).
   */
  release(): void {
    if (this.slab.length === this.slabBytes) spare(this.slab);
    for (const retired of this.retired) spare(retired);
    this.clear();
    this.slab = NO_SLAB;
    this.start = this.end = 0;
  }

  /** Drop everything queued (the transport is gone). */
  clear(): void {
    this.chunks = [];
    this.retired = [];
    this.pending = 0;
    this.start = this.end;
  }

  /** Move on to a slab with room for `need` bytes (what is in the current one is sealed as a chunk). */
  private nextSlab(need: number): void {
    this.seal();
    const full = this.slabBytes;
    if (this.slab.length === full) this.retired.push(this.slab);
    // A smaller slab is dropped: a write still holding its bytes keeps it alive.
    const size = slabSize(Math.max(Math.min(this.slab.length * 2, full), need), full);
    this.slab = (size === full ? spareSlabs.get(full)?.pop() : undefined) ?? this.alloc(size);
    this.start = this.end = 0;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask((this.flushTask ??= () => this.flush()));
  }

  private seal(): void {
    if (this.end === this.start) return;
    this.chunks.push(this.slab.subarray(this.start, this.end));
    this.start = this.end;
  }
}
