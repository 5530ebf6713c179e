// Hands one connection's output to its socket: each flush of the output queue (output.ts) becomes one write,
// or one corked batch; what a partial-write socket (Bun) does not take is kept, in order, until it drains;
// the callbacks of sends run once their bytes are written; FIN goes out after everything kept.
import { notWritten, type WriteCallback } from "./send-data.js";
import type { SessionSocket } from "./session.js";

// A batch of several chunks is joined into one write on sockets without cork, up to this size; past it
// a copy costs more than the extra write (a large payload is passed by reference, behind its header).
const JOIN_BYTES = 16 * 1024;

type Done = (error?: Error | null) => void;

/** One socket's writes, in order. */
export class SocketWriter {
  private readonly socket: SessionSocket;
  private readonly alloc: (size: number) => Uint8Array;
  /** Callbacks of the sends queued since the last batch: they run once that batch is written. */
  private callbacks: WriteCallback[] = [];
  // Bytes a partial-write socket has not taken yet, and the callbacks waiting for them.
  private backlog: Uint8Array[] = [];
  private backlogCallbacks: Done[] = [];
  private endAfterBacklog = false;
  /** Bytes kept for a partial-write socket (part of bufferedAmount). */
  backlogBytes = 0;

  constructor(socket: SessionSocket, alloc: (size: number) => Uint8Array) {
    this.socket = socket;
    this.alloc = alloc;
  }

  /** Run `callback` once everything queued so far is written (or with the error). */
  track(callback: WriteCallback): void {
    this.callbacks.push(callback);
  }

  /** Run `write` with none of the tracked send callbacks attached to what it writes (they wait for later). */
  untracked(write: () => void): void {
    const callbacks = this.callbacks;
    this.callbacks = [];
    write();
    this.callbacks = callbacks;
  }

  /** The socket holds none of the bytes handed to it: the output queue may fill its slab again. */
  get idle(): boolean {
    return this.backlog.length === 0 && this.socket.bufferedAmount === 0;
  }

  /** Write one batch of the output queue (its sink). */
  write(chunks: Uint8Array[]): void {
    const socket = this.socket;
    const callbacks = this.callbacks;
    this.callbacks = [];
    if (!socket.writable) {
      for (const callback of callbacks) callback(notWritten());
      return;
    }
    const done =
      callbacks.length === 0
        ? undefined
        : (error?: Error | null) => {
            for (const callback of callbacks) callback(error ?? undefined);
          };
    if (chunks.length === 1) this.put(chunks[0], done);
    else this.putBatch(socket.cork ? chunks : this.join(chunks), done);
  }

  /**
   * The socket can take more bytes: write what a partial write left over. True once all of it is written
   * (its callbacks run, and a FIN owed goes out), false while the socket still holds some back.
   */
  drain(): boolean {
    while (this.backlog.length > 0) {
      const head = this.backlog[0];
      const taken = this.socket.write(head);
      if (typeof taken !== "number" || taken < 0) return false;
      this.backlogBytes -= taken;
      if (taken < head.length) {
        this.backlog[0] = head.subarray(taken);
        return false;
      }
      this.backlog.shift();
    }
    const callbacks = this.backlogCallbacks;
    this.backlogCallbacks = [];
    for (const callback of callbacks) callback();
    if (this.endAfterBacklog) {
      this.endAfterBacklog = false;
      this.socket.end();
    }
    return true;
  }

  /** FIN once everything kept is written. */
  end(): void {
    if (this.backlog.length > 0) this.endAfterBacklog = true;
    else this.socket.end();
  }

  /** The socket is closed: what is kept is dropped and every callback still waiting gets an error. */
  close(): void {
    const callbacks = [...this.backlogCallbacks, ...this.callbacks];
    this.callbacks = [];
    this.backlogCallbacks = [];
    this.backlog = [];
    this.backlogBytes = 0;
    for (const callback of callbacks) callback(notWritten());
  }

  /** Several chunks in one batch: corked where the socket can (one write to the kernel). */
  private putBatch(chunks: Uint8Array[], done?: Done): void {
    const socket = this.socket;
    socket.cork?.();
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) this.put(chunks[i]);
    this.put(chunks[last], done);
    socket.uncork?.();
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

  private put(bytes: Uint8Array, done?: Done): void {
    if (this.backlog.length > 0) return this.keep(bytes, done);
    const taken = this.socket.write(bytes, done);
    if (typeof taken !== "number") return;
    if (taken < 0) return done?.(notWritten());
    if (taken === bytes.length) return done?.();
    this.keep(bytes.subarray(taken), done);
  }

  private keep(bytes: Uint8Array, done?: Done): void {
    this.backlog.push(bytes);
    this.backlogBytes += bytes.length;
    if (done) this.backlogCallbacks.push(done);
  }
}
