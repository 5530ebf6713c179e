// A Bun socket as bindings/protocol/session.ts sees it. Bun's writes are unbuffered: `write` returns the bytes the
// kernel took, and the session keeps the rest until the socket's `drain`.
import type { Socket } from "bun";
import type { Session, SessionSocket } from "../../bindings/protocol/session.js";

import { allocBuffer as nodeAllocBuffer } from "../node/buffer.js";
import { NetSocket, type NetSocketLink } from "./net-socket.js";

const bufferCopy = Buffer.prototype.copy;

/**
 * Buffers, as on Node (and the same empty one), with `copyRange`: a message copied out of engine memory by
 * Bun's native `Buffer#copy` with engine memory as its source, without the view of the range that
 * `set(from.subarray(...))` makes (a native call each on JSC): 30-60 ns less per message of 100 B-1 KiB.
 */
export const allocBuffer = Object.assign((size: number): Buffer => nodeAllocBuffer(size), {
  copyRange(from: Uint8Array, start: number, end: number): Buffer {
    const bytes = nodeAllocBuffer(end - start);
    bufferCopy.call(from, bytes, 0, start, end);
    return bytes;
  },
  adopts: nodeAllocBuffer.adopts,
});

/** `SessionSocket` over one of Bun's sockets. */
export class SocketLink<D = unknown> implements SessionSocket {
  readonly socket: Socket<D>;
  /** Bun's close callback ran (or the socket was never opened). */
  closed = false;
  /** Reading is paused. */
  paused = false;
  /** The WebSocket's session once open (what `_socket.write` and `_socket.end` go through). */
  session: Session | null = null;
  /** ws's `_socket` for this socket, once asked for (`netSocket()`). */
  net: NetSocket | null = null;
  private ended = false;

  constructor(socket: Socket<D>) {
    this.socket = socket;
  }

  /** The `net.Socket`-shaped view of this socket (ws's `_socket`), made on first use. */
  netSocket(): NetSocket {
    return (this.net ??= new NetSocket(this as unknown as NetSocketLink));
  }

  /** Bun's `write` is a send(2): the kernel copied what it took by the time it returns. */
  readonly writeCopies = true;

  write(bytes: Uint8Array): number {
    if (this.closed || this.ended) return -1;
    this.net?.activity();
    const taken = this.socket.write(bytes);
    if (taken < 0) this.lost();
    return taken;
  }

  /**
   * Bun's write returned -1: the socket is shut down or closed under us (the peer reset it), and nothing
   * more can be written. Bun reports that close only from its read path, which never runs on a socket paused
   * by backpressure (a peer that reset while its echoes waited): the close never came, and the connection,
   * with the echoes waiting for it, was held until stallTimeout (30 s; up to 62 of 64 connections after a 1 s
   * cell of 16 KiB echoes in bench/echo.ts, which the next cells' peak RSS piled up on). So the socket is
   * closed here, as a write error destroys a Node socket, once this write has returned (Bun runs the close
   * callback inside `terminate()`, which would re-enter the writer mid-write).
   */
  private lost(): void {
    if (this.ended) return;
    this.ended = true;
    queueMicrotask(() => {
      if (!this.closed) this.socket.terminate();
    });
  }

  end(): void {
    if (this.closed || this.ended) return;
    this.ended = true;
    // FIN only, still reading: Bun's end() closes at once, and closing with the peer's bytes unread makes
    // the kernel send RST, which can drop our close frame (even the 101) before the peer reads it.
    this.socket.shutdown();
  }

  destroy(): void {
    if (this.closed) return;
    this.ended = true;
    this.socket.terminate();
  }

  pauseReading(): void {
    this.paused = true;
    if (!this.closed) this.socket.pause();
  }

  resumeReading(): void {
    this.paused = false;
    if (!this.closed) this.socket.resume();
  }

  get bufferedAmount(): number {
    return 0;
  }

  get writable(): boolean {
    return !this.closed && !this.ended;
  }
}

/**
 * Bun's socket callbacks with the application's exceptions kept out of Bun: a listener that throws (in
 * `message`, `close`, a send's callback...) is an uncaught exception, as on Node, and the connection goes on.
 * Bun would instead hand the throw to the socket's `error` callback and close the socket, so the
 * application's bug would end its connection without a word.
 */
export function rethrowing<T extends object>(handlers: T): T {
  const guarded: Record<string, unknown> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    guarded[name] =
      typeof handler !== "function"
        ? handler
        : function (this: unknown, a: unknown, b: unknown, c: unknown) {
            // Bun's callbacks take at most three arguments (handshake: socket, success, error).
            try {
              return handler.call(this, a, b, c);
            } catch (error) {
              queueMicrotask(() => {
                throw error;
              });
            }
          };
  }
  return guarded as T;
}
