// ws's `_socket` on Bun: the members of node:net's Socket that applications written for ws reach for
// (`remoteAddress`, `setNoDelay`, `setKeepAlive`, `setTimeout`, `pause`/`resume`/`isPaused`, `'data'`,
// `'close'`, `write`, `end`, `destroy`...), each mapped onto Bun's socket and the connection's session.
// Made the first time it is asked for: a connection whose `_socket` nobody reads pays nothing for it.
import { EventEmitter } from "node:events";
import type { Socket } from "bun";
import type { Session } from "../../bindings/protocol/session.js";
import type { WriteCallback } from "../../bindings/protocol/send-data.js";

/** What the view drives: Bun's socket, the host's link over it, and the session once open. */
export interface NetSocketLink {
  readonly socket: Socket<unknown>;
  /** Bun's close callback ran. */
  readonly closed: boolean;
  /** Reading is paused (by the session, `ws.pause()` or this view). */
  readonly paused: boolean;
  /** The WebSocket's session, once the connection is open (null during the handshake). */
  session: Session | null;
  pauseReading(): void;
  resumeReading(): void;
  end(): void;
  destroy(): void;
}

/**
 * A `net.Socket`-shaped view of one of Bun's sockets, as ws's `_socket` (and, on the server, `req.socket`).
 * Not a `net.Socket` (not a stream: no `pipe`, no `_writableState`); what it has behaves as Node's does:
 *
 * - `'data'` gets each read before the WebSocket parses it; `'end'`, `'close'`, `'error'`
 *   (only when listened to: as on Node, where ws listens, it never throws), `'timeout'`;
 * - `write` goes behind the frames already queued, and `end` sends FIN behind them, as a `net.Socket`'s would
 *   behind the frames ws wrote to it; `destroy` closes at once;
 * - `pause`/`resume`/`isPaused` are the socket's reading, the same switch `ws.pause()` and the read gate use;
 * - `setTimeout` is Node's idle timeout ('timeout' after that long without a read or write, the socket left
 *   open), `setNoDelay` and `setKeepAlive` Bun's own.
 */
export class NetSocket extends EventEmitter {
  private readonly link: NetSocketLink;
  private idleMs = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bytes written before the session was there, the kernel not having taken them yet. */
  private early: Uint8Array | null = null;
  private ended = false;

  constructor(link: NetSocketLink) {
    super();
    this.link = link;
  }

  get remoteAddress(): string | undefined {
    return this.link.socket.remoteAddress || undefined;
  }

  get remotePort(): number | undefined {
    return this.link.socket.remotePort || undefined;
  }

  get remoteFamily(): string | undefined {
    return this.link.socket.remoteFamily || undefined;
  }

  get localAddress(): string | undefined {
    return this.link.socket.localAddress || undefined;
  }

  get localPort(): number | undefined {
    return this.link.socket.localPort || undefined;
  }

  get localFamily(): string | undefined {
    return this.link.socket.localFamily || undefined;
  }

  /** `{ address, port, family }` of the local end, as `net.Socket#address()`. */
  address(): { address: string; port: number; family: string } | Record<string, never> {
    const socket = this.link.socket;
    if (this.link.closed) return {};
    return { address: socket.localAddress, port: socket.localPort, family: socket.localFamily };
  }

  get destroyed(): boolean {
    return this.link.closed;
  }

  get readable(): boolean {
    return !this.link.closed;
  }

  get writable(): boolean {
    return !this.link.closed && !this.ended;
  }

  /** Nagle off (true, the default) or on, as Node's; Bun's `setNoDelay`. */
  setNoDelay(noDelay = true): this {
    if (!this.link.closed) this.link.socket.setNoDelay(noDelay);
    return this;
  }

  /** TCP keep-alive, the first probe after `initialDelay` ms (0: the system's), as Node's; Bun's `setKeepAlive`. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    if (!this.link.closed) this.link.socket.setKeepAlive(enable, initialDelay);
    return this;
  }

  /**
   * Node's idle timeout: 'timeout' once `ms` pass without a read or a write (0 turns it off); the socket is
   * left open, for the listener to end. `callback` is added as a one-time 'timeout' listener.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0)
      throw new RangeError(`setTimeout: the timeout must be a finite number of ms >= 0, got ${String(ms)}`);
    this.idleMs = ms;
    if (callback) ms === 0 ? this.removeListener("timeout", callback) : this.once("timeout", callback);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (ms > 0 && !this.link.closed) {
      this.idleTimer = setTimeout(() => this.emit("timeout"), ms);
      this.idleTimer.unref?.();
    }
    return this;
  }

  /** The timeout in force (ms; 0 for none), as Node's `timeout`. */
  get timeout(): number | undefined {
    return this.idleMs > 0 ? this.idleMs : undefined;
  }

  pause(): this {
    this.link.pauseReading();
    return this;
  }

  resume(): this {
    this.link.resumeReading();
    return this;
  }

  isPaused(): boolean {
    return this.link.paused;
  }

  /**
   * Write bytes as they are, behind the frames queued so far (the connection's framing is the caller's
   * business, as with ws's `_socket`). `callback` runs once they are written, or with the error.
   */
  write(
    data: string | Uint8Array,
    encoding?: BufferEncoding | WriteCallback,
    callback?: WriteCallback,
  ): boolean {
    if (typeof encoding === "function") [callback, encoding] = [encoding, undefined];
    const bytes = typeof data === "string" ? Buffer.from(data, encoding) : data;
    const session = this.link.session;
    if (this.link.closed || this.ended) {
      const error = new Error(
        this.ended ? "write after end" : "This socket has been ended by the other party",
      );
      queueMicrotask(() => callback?.(error));
      return false;
    }
    if (session) {
      session.writeBytes(bytes, callback);
      return true;
    }
    // During the handshake there is no session: straight to Bun's socket, the rest on its drain (`drained`).
    if (this.early) this.early = Buffer.concat([this.early, bytes]);
    else {
      const taken = Math.max(this.link.socket.write(bytes), 0);
      if (taken < bytes.length) this.early = bytes.slice(taken);
    }
    if (callback) queueMicrotask(() => callback());
    this.activity();
    return this.early === null;
  }

  /** FIN once what is queued is written (`data` written first), as Node's `end`. */
  end(
    data?: string | Uint8Array | (() => void),
    encoding?: BufferEncoding | (() => void),
    callback?: () => void,
  ): this {
    if (typeof data === "function") [callback, data] = [data, undefined];
    if (typeof encoding === "function") [callback, encoding] = [encoding, undefined];
    if (data !== undefined) this.write(data, encoding);
    if (callback) this.once("finish", callback);
    if (this.ended || this.link.closed) return this;
    this.ended = true;
    const session = this.link.session;
    if (session) session.endSocket();
    else if (this.early === null) this.link.end();
    queueMicrotask(() => this.emit("finish"));
    return this;
  }

  /** Close now; with `error`, 'error' is emitted first (when listened to), as Node's. */
  destroy(error?: Error): this {
    if (error && this.listenerCount("error") > 0) this.emit("error", error);
    this.link.destroy();
    return this;
  }

  /** Bun's `ref`/`unref`: whether this socket keeps the process alive. */
  ref(): this {
    this.link.socket.ref();
    return this;
  }

  unref(): this {
    this.link.socket.unref();
    return this;
  }

  /** @internal Bytes read, before the WebSocket parses them. */
  read(bytes: Uint8Array): void {
    this.activity();
    if (this.listenerCount("data") > 0)
      this.emit("data", Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** @internal Bytes the session wrote: the idle timeout starts again. */
  activity(): void {
    this.idleTimer?.refresh();
  }

  /** @internal Bun's socket can take more: what was written during the handshake goes first. */
  drained(): void {
    const early = this.early;
    if (early === null || this.link.closed) return;
    const taken = Math.max(this.link.socket.write(early), 0);
    this.early = taken < early.length ? early.subarray(taken) : null;
    if (this.early === null && this.ended && !this.link.session) this.link.end();
  }

  /** @internal The peer's FIN. */
  peerEnded(): void {
    this.emit("end");
  }

  /** @internal Bun's close callback. */
  socketClosed(error?: Error): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.early = null;
    if (error && this.listenerCount("error") > 0) this.emit("error", error);
    this.emit("close", error !== undefined);
  }
}
