// Hands one connection's output to its socket: each flush of the output queue (output.ts) is one batch of
// whole frames, written in one write or one corked batch. A socket that buffers itself (Node) takes a batch
// whole; once it says it holds enough (write returned false), later batches wait here until its `drain`. A
// partial-write socket (Bun) takes what the kernel takes and the rest waits here; a batch of several chunks
// is copied into one buffer shared by every such socket and written in one call (`sendGathered`), since each
// call there is a syscall of its own. So what waits here is what no one has handed to the kernel yet, in
// whole frames except the frame in progress: a failing connection drops those (`dropWaiting`), and its
// close frame goes right behind what the socket already holds. The callbacks of sends run once their batch
// is written; FIN goes out after everything kept.
import { notWritten, type WriteCallback } from "./send-data.js";
import type { SessionSocket } from "./session.js";

// A batch of several chunks is joined into one write on sockets without cork that keep what they are given
// (the Bun client's attempt when it goes node:http's way), up to this size; past it a copy costs more than
// the extra write.
const JOIN_BYTES = 16 * 1024;

/**
 * The buffer a partial-write socket's batch of several chunks is gathered into, a piece of this size at a
 * time, shared by every such socket: the socket is done with it when `write` returns (the kernel copied what
 * it took), and what it did not take is kept as the batch's own chunks, so the next write may fill it again.
 * A batch of frames published to many connections, or a tick's echoes of 1-16 KiB payloads (each passed by
 * reference behind its header in the slab), was one `send(2)` per chunk: 4-9× the CPU per message. 128 KiB,
 * not 64: a 64 KiB message then goes with its header in one write (0.9× the CPU of two, in the echo bench).
 */
export const GATHER_BYTES = 128 * 1024;
/** Chunks of up to this many bytes are gathered by a loop rather than `set` (a native call each on JSC). */
const TINY_GATHER_BYTES = 64;
let gatherBuffer: Uint8Array | null = null;

type Done = (error?: Error | null) => void;
/** A callback to fail. */
type Failing = (error: Error) => void;

/** One flush of the output queue: whole frames (or the opening handshake), in order. */
interface Batch {
  chunks: Uint8Array[];
  /** Runs once all of it is written (or with the error). */
  done: Done | undefined;
  /** Not frames but the opening handshake: never cut. */
  raw: boolean;
  /** The chunk to write next, and the bytes of it the socket has already taken. */
  next: number;
  offset: number;
}

/** Bytes of `batch` the socket has not taken. */
function remaining(batch: Batch): number {
  let bytes = -batch.offset;
  for (let i = batch.next; i < batch.chunks.length; i++) bytes += batch.chunks[i].length;
  return bytes;
}

/** The byte at `at` of the batch's chunks seen as one run. */
function byteAt(chunks: Uint8Array[], at: number): number {
  for (const chunk of chunks) {
    if (at < chunk.length) return chunk[at];
    at -= chunk.length;
  }
  return 0;
}

/**
 * The end of the frame that holds byte `taken - 1` of a batch of whole frames: the first frame boundary at
 * or past `taken`. Our own frame headers are read back (RFC 6455 §5.2: 7-bit length, or 126/127 and a 16- or
 * 64-bit one, and a masking key on a client's frames); the engine wrote them, so they are well formed.
 */
function frameBoundary(chunks: Uint8Array[], taken: number): number {
  let at = 0;
  while (at < taken) {
    const second = byteAt(chunks, at + 1);
    let length = second & 0x7f;
    let header = 2;
    if (length === 126) {
      length = (byteAt(chunks, at + 2) << 8) | byteAt(chunks, at + 3);
      header = 4;
    } else if (length === 127) {
      length = 0;
      for (let i = 2; i < 10; i++) length = length * 256 + byteAt(chunks, at + i);
      header = 10;
    }
    if (second & 0x80) header += 4;
    at += header + length;
  }
  return at;
}

/** Move the batch's place on by `bytes` the socket took. */
function advance(batch: Batch, bytes: number): void {
  const { chunks } = batch;
  bytes += batch.offset;
  while (bytes > 0 && bytes >= chunks[batch.next].length) bytes -= chunks[batch.next++].length;
  batch.offset = bytes;
}

/** The chunks of a batch up to byte `end`. */
function truncate(chunks: Uint8Array[], end: number): Uint8Array[] {
  const kept: Uint8Array[] = [];
  for (const chunk of chunks) {
    if (end <= 0) break;
    kept.push(end < chunk.length ? chunk.subarray(0, end) : chunk);
    end -= chunk.length;
  }
  return kept;
}

/** The scratch batch's chunks between writes: none, shared (never written to; a write replaces them). */
const NO_CHUNKS: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

/** One socket's writes, in order. */
export class SocketWriter {
  private readonly socket: SessionSocket;
  private readonly alloc: (size: number) => Uint8Array;
  /** Callbacks of the sends queued since the last batch: they run once that batch is written (null: none). */
  private callbacks: WriteCallback[] | null = null;
  /** Batches not (wholly) handed to the socket yet, in order. */
  private backlog: Batch[] = [];
  /** A buffering socket said it holds enough: later batches wait for its drain. */
  private blocked = false;
  private endAfterBacklog = false;
  /** Frames flow (the opening handshake is written): batches from now on may be cut between frames. */
  private framing = false;
  private readonly scratch: Batch = { chunks: NO_CHUNKS, done: undefined, raw: false, next: 0, offset: 0 };
  /** Bytes of the backlog the socket has not taken (part of bufferedAmount). */
  backlogBytes = 0;
  /** Callbacks of batches a partial-write socket has taken whole, to run in a microtask (or at `settle`). */
  private written: Done[] | null = null;

  constructor(socket: SessionSocket, alloc: (size: number) => Uint8Array) {
    this.socket = socket;
    this.alloc = alloc;
  }

  /** Run `callback` once everything queued so far is written (or with the error). */
  track(callback: WriteCallback): void {
    (this.callbacks ??= []).push(callback);
  }

  /** The opening handshake is done: what is written from now on is frames. */
  startFrames(): void {
    this.framing = true;
  }

  /** The socket holds none of the bytes handed to it: the output queue may fill its slab again. */
  get idle(): boolean {
    return this.backlog.length === 0 && this.socket.bufferedAmount === 0;
  }

  /** Write one batch of the output queue (its sink). */
  write(chunks: Uint8Array[]): void {
    const socket = this.socket;
    const callbacks = this.callbacks;
    this.callbacks = null;
    if (!socket.writable) {
      if (callbacks) for (const callback of callbacks) callback(notWritten());
      return;
    }
    const done =
      callbacks === null
        ? undefined
        : (error?: Error | null) => {
            for (const callback of callbacks) callback(error ?? undefined);
          };
    // The common case, the socket takes it all, allocates no batch: the scratch one is filled in, and copied
    // only when something has to wait.
    const batch = this.scratch;
    batch.chunks = chunks.length > 1 && !socket.cork && !socket.writeCopies ? this.join(chunks) : chunks;
    batch.done = done;
    batch.raw = !this.framing;
    batch.next = batch.offset = 0;
    if (this.backlog.length > 0 || this.blocked || !this.send(batch)) this.keep({ ...batch });
    batch.chunks = NO_CHUNKS;
    batch.done = undefined;
  }

  /**
   * The socket can take more bytes: hand it what waits here, in order, until it holds enough again. Callbacks
   * run as their batches are written, and a FIN owed goes out after the last.
   */
  drain(): void {
    this.blocked = false;
    while (this.backlog.length > 0 && !this.blocked) {
      const batch = this.backlog[0];
      const before = remaining(batch);
      const whole = this.send(batch);
      this.backlogBytes -= before - (whole ? 0 : remaining(batch));
      if (!whole) return;
      this.backlog.shift();
    }
    if (this.backlog.length > 0 || !this.endAfterBacklog) return;
    this.endAfterBacklog = false;
    this.socket.end();
  }

  /** FIN once everything kept is written. */
  end(): void {
    if (this.backlog.length > 0) this.endAfterBacklog = true;
    else this.socket.end();
  }

  /**
   * The connection is failing: drop the whole frames no one has handed to the kernel (those of sends queued
   * since the last batch too), keeping only the rest of a frame the socket has taken part of, so what goes
   * next starts on a frame boundary. Returns the callbacks of what was dropped, for the caller to run with
   * an error once it has queued its close frame (a callback may re-enter the connection).
   */
  dropWaiting(): Failing[] {
    const dropped: Failing[] = this.callbacks ?? [];
    this.callbacks = null;
    const head = this.backlog[0];
    const started = head !== undefined && (head.next > 0 || head.offset > 0);
    for (const batch of this.backlog.slice(started ? 1 : 0)) if (batch.done) dropped.push(batch.done);
    this.backlog = started ? [head] : [];
    if (started && !head.raw) this.cutAfterFrameInProgress(head, dropped);
    this.backlogBytes = started ? remaining(head) : 0;
    // Cut right at a frame boundary: nothing of it is left to write.
    if (started && this.backlogBytes === 0) this.backlog = [];
    return dropped;
  }

  /**
   * Run now the callbacks of batches a partial-write socket has taken whole: before the errors of later
   * sends and before the connection reports its end (Bun closes a terminated socket synchronously).
   */
  settle(): void {
    const written = this.written;
    if (written === null) return;
    this.written = null;
    for (const done of written) done();
  }

  /** The socket is closed: what is kept is dropped and every callback still waiting gets an error. */
  close(): void {
    this.settle();
    // Nothing waits (every connection's end, often twice): nothing to make.
    if (this.callbacks === null && this.backlog.length === 0) {
      this.backlogBytes = 0;
      return;
    }
    const callbacks: Failing[] = this.callbacks ?? [];
    this.callbacks = null;
    for (const batch of this.backlog) if (batch.done) callbacks.push(batch.done);
    this.backlog = [];
    this.backlogBytes = 0;
    for (const callback of callbacks) callback(notWritten());
  }

  /** Keep only the frame in progress of a batch the socket has taken part of; its callbacks fail (some of their frames are dropped). */
  private cutAfterFrameInProgress(batch: Batch, dropped: Failing[]): void {
    let taken = batch.offset;
    for (let i = 0; i < batch.next; i++) taken += batch.chunks[i].length;
    const end = frameBoundary(batch.chunks, taken);
    if (end >= taken + remaining(batch)) return;
    batch.chunks = truncate(batch.chunks, end);
    if (batch.done) dropped.push(batch.done);
    batch.done = undefined;
  }

  /**
   * Hand `batch` (from where it stopped) to the socket: true once the socket has all of it. A buffering
   * socket takes it whole, corked, and may say it holds enough (then `blocked`); a partial-write socket may
   * take part, and the batch records how far it got.
   */
  private send(batch: Batch): boolean {
    const socket = this.socket;
    const { chunks } = batch;
    const last = chunks.length - 1;
    if (batch.next < last && socket.writeCopies) {
      if (!this.sendGathered(batch)) return false;
      if (batch.done) this.wroteWhole(batch.done);
      return true;
    }
    const corked = last > 0 && socket.cork !== undefined;
    // A buffering socket runs the batch's callbacks itself, once written; for a partial-write one it is
    // written once the kernel has taken it all.
    let buffering = false;
    if (corked) socket.cork!();
    try {
      for (; batch.next <= last; batch.next++, batch.offset = 0) {
        const chunk = chunks[batch.next];
        const piece = batch.offset > 0 ? chunk.subarray(batch.offset) : chunk;
        const taken = socket.write(piece, batch.next === last ? batch.done : undefined);
        buffering = typeof taken !== "number";
        if (typeof taken !== "number") {
          if (!taken) this.blocked = true;
          continue;
        }
        if (taken === piece.length) continue;
        // Closed (-1): kept, its callbacks fail when the socket's close is reported.
        if (taken > 0) batch.offset += taken;
        return false;
      }
    } finally {
      if (corked) socket.uncork!();
    }
    if (!buffering && batch.done) this.wroteWhole(batch.done);
    return true;
  }

  /**
   * Hand a partial-write socket the batch (from where it stopped) gathered into the shared buffer, in pieces of
   * up to GATHER_BYTES: true once it has taken all. A chunk that fills a piece alone goes as it is, uncopied.
   * What the socket did not take stays in the batch's own chunks (`next`, `offset`), for the next drain.
   */
  private sendGathered(batch: Batch): boolean {
    const socket = this.socket;
    const { chunks } = batch;
    const buffer = (gatherBuffer ??= new Uint8Array(GATHER_BYTES));
    while (batch.next < chunks.length) {
      let next = batch.next;
      let offset = batch.offset;
      let piece: Uint8Array;
      if (chunks[next].length - offset >= GATHER_BYTES) {
        // Large enough to be a write of its own: a copy would save nothing.
        piece = offset > 0 ? chunks[next].subarray(offset) : chunks[next];
        next++;
        offset = 0;
      } else {
        let filled = 0;
        while (next < chunks.length) {
          const chunk = chunks[next];
          const n = chunk.length - offset;
          if (filled + n > GATHER_BYTES) {
            // A large chunk goes as it is in the next piece; a smaller one fills this piece up.
            if (n >= GATHER_BYTES) break;
            const part = GATHER_BYTES - filled;
            buffer.set(chunk.subarray(offset, offset + part), filled);
            filled += part;
            offset += part;
            break;
          }
          if (n <= TINY_GATHER_BYTES) for (let i = 0; i < n; i++) buffer[filled + i] = chunk[offset + i];
          else buffer.set(offset > 0 ? chunk.subarray(offset) : chunk, filled);
          filled += n;
          next++;
          offset = 0;
        }
        piece = filled === GATHER_BYTES ? buffer : buffer.subarray(0, filled);
      }
      const taken = socket.write(piece) as number;
      if (taken === piece.length) {
        batch.next = next;
        batch.offset = offset;
        continue;
      }
      // Closed (-1): kept, its callbacks fail when the socket's close is reported.
      if (taken > 0) advance(batch, taken);
      return false;
    }
    return true;
  }

  /**
   * A partial-write socket took a batch whole: its callbacks run after this call, as a buffering socket's
   * come (Node's, on a later tick), since a flush may run inside the application's own code (reading
   * bufferedAmount, terminate()), which a callback must not re-enter.
   */
  private wroteWhole(done: Done): void {
    if (this.written === null) {
      this.written = [done];
      queueMicrotask(() => this.settle());
    } else this.written.push(done);
  }

  private keep(batch: Batch): void {
    this.backlog.push(batch);
    this.backlogBytes += remaining(batch);
  }

  /** One write for a batch of small chunks (a socket without cork makes a syscall per write). */
  private join(chunks: Uint8Array[]): Uint8Array[] {
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    if (total > JOIN_BYTES) return chunks;
    const joined = this.alloc(total);
    let at = 0;
    for (const chunk of chunks) {
      joined.set(chunk, at);
      at += chunk.length;
    }
    return [joined];
  }
}
