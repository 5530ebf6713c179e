// One WebSocket over one byte stream: socket bytes into the engine slot, the engine's frames out through a
// per-tick write batch, heartbeat, backpressure, the close timers, and releasing the slot exactly once.
// Socket-free: a host adapts its socket to `SessionSocket` and reports the socket's events to the session
// (onData, onDrain, onEnd, onClose). The protocol itself is the engine's.
import type { PerMessageDeflate } from "./permessage-deflate.js";
import { BlobSends, isBlob, type PendingSend } from "./blob-sends.js";
import { Role, WireConnection, type ConnectionHandler } from "./connection.js";
import { CloseCode, type WebSocketProtocolError } from "../engine/errors.js";
import { defaults } from "../policies/config.js";
import { Heartbeat, type HeartbeatOptions } from "../policies/heartbeat.js";
import { OutputQueue } from "./output.js";
import type { EnginePool, SlotHandle } from "../engine/pool.js";

/** WebSocket ready states (WHATWG and ws numbering). */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** Data a connection can send: a Blob is read first, and later sends wait for it (WHATWG order). */
export type SendData = string | ArrayBuffer | ArrayBufferView | Blob;

/** Data of a ping, a pong or a close reason (no Blob: those go out at once). */
export type ControlData = string | ArrayBuffer | ArrayBufferView;

/** Completion of a send, ping or pong: no error once written to the socket. */
export type WriteCallback = (error?: Error) => void;

/** The socket as a session sees it. */
export interface SessionSocket {
  /**
   * Write bytes. A socket that may take only part (Bun) returns how many it took, -1 when closed; the
   * session keeps the rest until `onDrain`. A socket that buffers everything itself (Node streams)
   * returns a boolean and calls `done` once the bytes are written.
   */
  write(bytes: Uint8Array, done?: (error?: Error | null) => void): number | boolean;
  /** Optional: gather the writes of one batch into one (Node cork/uncork). */
  cork?(): void;
  uncork?(): void;
  /** Half-close after what was written (FIN). */
  end(): void;
  /** Close now, dropping anything unsent. */
  destroy(): void;
  /** Optional: stop reading (a server stops reading a peer whose output is stalled), then resume. */
  pauseReading?(): void;
  resumeReading?(): void;
  /** Bytes the socket holds that the kernel has not taken (0 for a socket that never buffers). */
  readonly bufferedAmount: number;
  /** False once the socket takes no more writes. */
  readonly writable: boolean;
}

/** Settings of one session (resolved defaults; see docs/NODE.md for the user-facing ones). */
export interface SessionOptions {
  role: Role;
  maxPayload: number;
  fragments: "message" | "stream";
  heartbeat: Required<HeartbeatOptions> | null;
  /** bufferedAmount at or above which `drain` is owed once it empties. */
  highWaterMark: number;
  /** Bytes still queued when a send happens beyond which the peer is failed with 1008. */
  maxBufferedAmount: number;
  /** Ms to wait for the peer's close frame, or its FIN after the close handshake. */
  closeTimeout: number;
  /** Ms a server keeps a peer whose output stays stalled (reading paused) before failing it with 1008. */
  stallTimeout: number;
  /** permessage-deflate as negotiated (server side; a client sets it on `wire` after the 101). */
  deflate?: PerMessageDeflate | null;
  /** Answer pings with pongs from inside the engine (default true). */
  autoPong?: boolean;
}

/** What a session reports to the object users see. `data` comes from the host's `alloc`. */
export interface SessionEvents {
  message(data: Uint8Array, isBinary: boolean): void;
  fragment(data: Uint8Array, isBinary: boolean, first: boolean, last: boolean): void;
  ping(data: Uint8Array): void;
  pong(data: Uint8Array): void;
  /** The peer's close frame arrived (the engine queued the reply). */
  closing(code: number, reason: string): void;
  /** A protocol violation (a close frame with its code was sent) or a local failure. */
  error(error: Error): void;
  /** bufferedAmount fell back after reaching the high-water mark. */
  drain(): void;
  /** The socket is gone and the slot released; nothing follows. */
  end(code: number, reason: string, wasClean: boolean): void;
}

/** Resolved settings shared by the server's connections and a client. */
export interface SessionLimits {
  highWaterMark?: number;
  maxBufferedAmount?: number;
  closeTimeout?: number;
  stallTimeout?: number;
}

/** Defaults of the limits every host shares. */
export function sessionLimits(
  options: SessionLimits,
): Pick<SessionOptions, "highWaterMark" | "maxBufferedAmount" | "closeTimeout" | "stallTimeout"> {
  return {
    highWaterMark: Math.max(options.highWaterMark ?? defaults.highWaterMark, defaults.minHighWaterMark),
    maxBufferedAmount: options.maxBufferedAmount ?? defaults.maxBufferedAmount,
    closeTimeout: options.closeTimeout ?? defaults.closeTimeout,
    stallTimeout: options.stallTimeout ?? defaults.stallTimeout,
  };
}

const encoder = new TextEncoder();
// A batch of several chunks is joined into one write on sockets without cork, up to this size; past it
// a copy costs more than the extra write (a large payload is passed by reference, behind its header).
const JOIN_BYTES = 16 * 1024;

/** Bytes of any `SendData` but a Blob (strings are left to the engine's encoder). */
export function sendBytes(data: SendData): string | Uint8Array {
  if (typeof data === "string" || data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("send() takes a string, an ArrayBuffer or an ArrayBufferView");
}

/** Bytes `data` takes on the wire as a payload (a string's UTF-8 length, a Blob's size). */
export function byteSize(data: SendData): number {
  if (typeof data === "string") return encoder.encode(data).length;
  return isBlob(data) ? data.size : data.byteLength;
}

/** Bytes for ping/pong payloads and close reasons given as strings or bytes. */
export function controlBytes(data: ControlData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (typeof data === "string") return encoder.encode(data);
  return sendBytes(data) as Uint8Array;
}

/** Copy bytes into an ArrayBuffer of their own. */
export function toArrayBuffer(data: Uint8Array): ArrayBuffer {
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

const notWritten = (): Error => new Error("socket closed before the data was written");

/**
 * What the engine reports for one session's slot, passed on: a class rather than a handler object of
 * closures, so a connection costs one small object here, not nine closures and their context.
 */
class EngineReports implements ConnectionHandler {
  private readonly session: Session;
  private readonly events: SessionEvents;

  constructor(session: Session, events: SessionEvents) {
    this.session = session;
    this.events = events;
  }

  message(data: Uint8Array, isBinary: boolean): void {
    this.events.message(data, isBinary);
  }

  fragment(data: Uint8Array, isBinary: boolean, first: boolean, last: boolean): void {
    this.events.fragment(data, isBinary, first, last);
  }

  ping(data: Uint8Array): void {
    this.events.ping(data);
  }

  pong(data: Uint8Array): void {
    this.events.pong(data);
  }

  close(code: number, reason: string): void {
    this.session.onCloseFrame(code, reason);
  }

  error(error: WebSocketProtocolError): void {
    this.session.onProtocolError(error);
  }

  closed(): void {
    this.session.finish();
  }

  write(bytes: Uint8Array, borrowed: boolean, owned?: boolean): void {
    this.session.queue(bytes, borrowed, owned);
  }

  reserve(headerLength: number, payloadLength: number): Uint8Array | null {
    return this.session.reserve(headerLength, payloadLength);
  }

  commit(memory: Uint8Array, headerAt: number, headerLength: number, payloadLength: number): void {
    this.session.commit(memory, headerAt, headerLength, payloadLength);
  }

  writeFrame(memory: Uint8Array, headerAt: number, headerLength: number, payload: Uint8Array): void {
    this.session.queueFrame(memory, headerAt, headerLength, payload);
  }

  reply(bytes: Uint8Array): void {
    this.session.queueReply(bytes);
  }
}

/** Drives one connection's engine slot over one socket. */
export class Session {
  readonly socket: SessionSocket;
  readonly wire: WireConnection;
  readyState: ReadyState = ReadyState.CONNECTING;
  /** Bytes sent once closing: never sent, but counted in bufferedAmount (WHATWG, as ws does). */
  private sentAfterClose = 0;
  private pausedByApp = false;
  private readonly pool: EnginePool;
  private readonly handle: SlotHandle;
  private readonly options: SessionOptions;
  private readonly events: SessionEvents;
  private readonly alloc: (size: number) => Uint8Array;
  private readonly output: OutputQueue;
  private readonly heartbeat: Heartbeat | null;
  private callbacks: WriteCallback[] = [];
  // Bytes a partial-write socket has not taken yet, and the callbacks waiting for them.
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  private backlogCallbacks: WriteCallback[] = [];
  private endAfterBacklog = false;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private closeCode: number = CloseCode.Abnormal;
  private closeReason = "";
  private failed = false;
  private needDrain = false;
  private released = false;
  /** Reading is paused until the output drains below the high-water mark (server role). */
  private readingPaused = false;
  private stallTimer: ReturnType<typeof setTimeout> | undefined;
  /** Sends waiting behind a Blob being read; made at the first Blob. */
  private blobs: BlobSends | null = null;

  constructor(
    socket: SessionSocket,
    pool: EnginePool,
    handle: SlotHandle,
    options: SessionOptions,
    events: SessionEvents,
    alloc: (size: number) => Uint8Array,
  ) {
    this.socket = socket;
    this.pool = pool;
    this.handle = handle;
    this.options = options;
    this.events = events;
    this.alloc = alloc;
    this.output = new OutputQueue((chunks) => this.writeChunks(chunks), alloc);
    this.wire = new WireConnection(handle, new EngineReports(this, events), {
      role: options.role,
      maxPayload: options.maxPayload,
      fragments: options.fragments,
      autoPong: options.autoPong,
      alloc,
      deflate: options.deflate ?? undefined,
    });
    this.heartbeat = options.heartbeat
      ? new Heartbeat(options.heartbeat, {
          ping: () => this.ping(new Uint8Array(0)),
          timeout: () => this.fail(new Error("peer silent past the heartbeat timeout; terminated")),
        })
      : null;
  }

  /** The engine slot's input area, for zero-copy reads (then `receiveInPlace`). */
  get readBuffer(): Uint8Array {
    return this.wire.readBuffer;
  }

  /** Bytes queued and not yet handed to the kernel. */
  get bufferedAmount(): number {
    const queued = this.socket.bufferedAmount + this.output.pending + this.backlogBytes;
    return queued + (this.blobs?.bytes ?? 0) + this.sentAfterClose;
  }

  /** The socket is gone and the slot released. */
  get isReleased(): boolean {
    return this.released;
  }

  /** The handshake is done: frames flow from now on. */
  start(): void {
    if (this.released) return;
    this.readyState = ReadyState.OPEN;
    this.heartbeat?.start();
  }

  /** Write bytes that are not frames (the handshake) now, ahead of anything sent after this call. */
  writeRaw(bytes: Uint8Array): void {
    if (this.released) return;
    this.output.push(bytes, false);
    this.output.flush();
  }

  /** Feed bytes read from the socket. */
  receive(bytes: Uint8Array): void {
    if (this.released) return;
    this.heartbeat?.activity();
    this.wire.receive(bytes);
    this.throttle();
  }

  /** Feed `length` bytes the socket read straight into `readBuffer`. */
  receiveInPlace(length: number): void {
    if (this.released) return;
    this.heartbeat?.activity();
    this.wire.receiveInPlace(length);
    this.throttle();
  }

  /**
   * A server stops reading a peer whose output is stalled at the high-water mark, so what the peer makes
   * us send (echoes, pongs to a ping flood) stays bounded; reading resumes once the output drains. The
   * queue is handed to the socket first, so the socket owes a drain (or the kernel took it all).
   */
  private throttle(): void {
    if (this.options.role !== Role.Server || this.readingPaused || this.released) return;
    if (!this.socket.pauseReading || this.bufferedAmount < this.options.highWaterMark) return;
    this.output.flush();
    if (this.bufferedAmount < this.options.highWaterMark) return;
    this.readingPaused = true;
    this.socket.pauseReading();
    // Bounded in time as in memory: a peer that never reads again is failed with 1008.
    // Infinity (or anything past setTimeout's 2^31-1 ms) waits forever: setTimeout would fire at once.
    if (this.options.stallTimeout <= 0x7fffffff)
      this.stallTimer = setTimeout(() => this.stalled(), this.options.stallTimeout);
  }

  private stalled(): void {
    this.stallTimer = undefined;
    if (this.released || this.wire.closeSent) return;
    const error = new Error(
      `the peer read nothing for stallTimeout ${this.options.stallTimeout} ms with ${this.bufferedAmount} bytes ` +
        `queued (highWaterMark ${this.options.highWaterMark}); closing with 1008`,
    );
    this.failed = true;
    this.close(CloseCode.PolicyViolation, "peer not reading");
    this.output.flush();
    this.events.error(error);
  }

  private unthrottle(): void {
    if (!this.readingPaused || this.released || this.bufferedAmount >= this.options.highWaterMark) return;
    this.readingPaused = false;
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (!this.paused) this.socket.resumeReading?.();
  }

  /** The application stopped reading (ws's `pause()`): no message events until `resume()`. */
  get paused(): boolean {
    return this.pausedByApp;
  }

  /** Stop reading from the socket (ws's `pause()`); a no-op while connecting or once closed. */
  pause(): void {
    if (this.readyState === ReadyState.CONNECTING || this.released || !this.socket.pauseReading) return;
    this.pausedByApp = true;
    this.socket.pauseReading();
  }

  /** Read again after `pause()` (unless the output is still stalled: then once it drains). */
  resume(): void {
    if (!this.pausedByApp || this.released) return;
    this.pausedByApp = false;
    if (!this.readingPaused) this.socket.resumeReading?.();
  }

  /** Queue a message; `callback` runs once it is written to the socket (or with an error). */
  send(
    data: SendData,
    binary: boolean,
    fragmentSize: number,
    callback?: WriteCallback,
    compress = true,
    fin = true,
  ): void {
    if (!this.canSend(callback, data)) return;
    if (this.blobs?.waiting || isBlob(data)) {
      // Held bytes are copied now, as the caller may reuse its buffer before the Blob ahead is read.
      const held =
        isBlob(data) || typeof data === "string" ? data : new Uint8Array(sendBytes(data) as Uint8Array);
      this.blobs ??= new BlobSends(
        (item) => this.sendHeld(item),
        (error) => this.fail(error),
      );
      return this.blobs.push({ data: held, binary, fragmentSize, callback, compress, fin });
    }
    this.sendNow(sendBytes(data), binary, fragmentSize, callback, compress, fin);
  }

  private sendNow(
    data: string | Uint8Array,
    binary: boolean,
    fragmentSize: number,
    callback?: WriteCallback,
    compress = true,
    fin = true,
  ) {
    if (this.bufferedAmount > this.options.maxBufferedAmount) return this.overflow(callback);
    this.wire.send(data, binary, fragmentSize, compress, fin);
    if (callback) this.callbacks.push(callback);
    if (this.bufferedAmount >= this.options.highWaterMark) this.needDrain = true;
  }

  /**
   * Queue a message framed elsewhere (pub/sub frames once for all its subscribers), by reference. Past
   * `maxBufferedAmount` the peer is failed with 1008 as for `send`, or with `drop` the message is skipped
   * for this connection. True when queued.
   */
  sendFrame(frame: Uint8Array, drop: boolean): boolean {
    if (this.readyState !== ReadyState.OPEN || this.wire.closeSent) return false;
    if (this.bufferedAmount > this.options.maxBufferedAmount) {
      if (!drop) this.overflow();
      return false;
    }
    this.output.push(frame, false);
    if (this.bufferedAmount >= this.options.highWaterMark) this.needDrain = true;
    return true;
  }

  /** Send a ping (up to 125 bytes). */
  ping(data: Uint8Array, callback?: WriteCallback): void {
    if (!this.canSend(callback, data)) return;
    this.wire.ping(data);
    if (callback) this.callbacks.push(callback);
  }

  /** Send an unsolicited pong (up to 125 bytes). */
  pong(data: Uint8Array, callback?: WriteCallback): void {
    if (!this.canSend(callback, data)) return;
    this.wire.pong(data);
    if (callback) this.callbacks.push(callback);
  }

  /**
   * Start the close handshake (TypeError for an invalid code or reason); no-op when already closing. Behind
   * a Blob still being read, the close waits for the sends before it (then a bad code is an `error`).
   */
  close(code?: number, reason = ""): void {
    if (this.readyState === ReadyState.CLOSED || this.released) return;
    if (this.readyState === ReadyState.CONNECTING) return this.terminate();
    if (this.blobs?.waiting) {
      if (this.readyState !== ReadyState.OPEN) return;
      this.readyState = ReadyState.CLOSING;
      return this.blobs.push({ data: "", binary: false, fragmentSize: 0, close: { code, reason } });
    }
    this.closeNow(code, reason);
  }

  private closeNow(code: number | undefined, reason: string): void {
    if (!this.wire.close(code, reason)) return;
    // The close frame goes to the socket now (as ws writes it), so bufferedAmount does not count it.
    this.output.flush();
    this.readyState = ReadyState.CLOSING;
    this.heartbeat?.stop();
    this.armCloseTimer();
  }

  /** Destroy the socket now, without a close handshake. */
  terminate(): void {
    if (this.readyState !== ReadyState.CLOSED) this.readyState = ReadyState.CLOSING;
    this.output.clear();
    this.socket.destroy();
  }

  /** End the connection for a local reason: report it, then destroy the socket. */
  fail(error: Error): void {
    if (this.released) return;
    this.failed = true;
    this.events.error(error);
    this.terminate();
  }

  /** The host's socket can take more bytes: write what a partial write left over. */
  onDrain(): void {
    while (this.backlog.length > 0) {
      const head = this.backlog[0];
      const taken = this.socket.write(head);
      if (typeof taken !== "number" || taken < 0) return;
      this.backlogBytes -= taken;
      if (taken < head.length) {
        this.backlog[0] = head.subarray(taken);
        return;
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
    if (this.needDrain && this.bufferedAmount < this.options.highWaterMark) this.emitDrain();
    this.unthrottle();
  }

  /** The peer half-closed (FIN): answer with ours. */
  onEnd(): void {
    if (this.readyState === ReadyState.OPEN) this.readyState = ReadyState.CLOSING;
    this.output.flush();
    this.endSocket();
  }

  /** The socket is closed: release the slot (once) and report the end. */
  onClose(): void {
    if (this.released) return;
    const wasClean = !this.failed && this.wire.closeSent && this.wire.closeReceived;
    this.released = true;
    this.heartbeat?.stop();
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    // Closed: no write of the transport's holds the queue's bytes any more.
    this.output.release();
    if (this.blobs?.waiting) this.blobs.clear(notWritten());
    this.wire.release();
    this.pool.release(this.handle);
    this.readyState = ReadyState.CLOSED;
    const callbacks = [...this.backlogCallbacks, ...this.callbacks];
    this.callbacks = [];
    this.backlogCallbacks = [];
    this.backlog = [];
    this.backlogBytes = 0;
    for (const callback of callbacks) callback(notWritten());
    this.events.end(this.closeCode, this.closeReason, wasClean);
  }

  /** A send (or close) that waited behind a Blob: it goes unless the connection closed meanwhile. */
  private sendHeld(item: PendingSend): void {
    if (this.released || this.wire.closeSent) return item.callback?.(notWritten());
    if (!item.close)
      return this.sendNow(
        item.data as string | Uint8Array,
        item.binary,
        item.fragmentSize,
        item.callback,
        item.compress,
        item.fin,
      );
    try {
      this.closeNow(item.close.code, item.close.reason);
    } catch (error) {
      this.fail(error as Error);
    }
  }

  private canSend(callback: WriteCallback | undefined, data: SendData): boolean {
    if (this.readyState === ReadyState.OPEN && !this.wire.closeSent) return true;
    if (this.readyState !== ReadyState.CONNECTING) this.sentAfterClose += byteSize(data);
    const state = Object.keys(ReadyState)[this.readyState];
    callback?.(new Error(`WebSocket is not open: readyState ${this.readyState} (${state})`));
    return false;
  }

  /** @internal Frame bytes from the engine (from EngineReports): queued unless the slot is released. */
  queue(bytes: Uint8Array, borrowed: boolean, owned?: boolean): void {
    if (!this.released) this.output.push(bytes, borrowed, owned);
  }

  /** @internal Room at the end of the output for a payload written in place (from EngineReports). */
  reserve(headerLength: number, payloadLength: number): Uint8Array | null {
    return this.output.reserve(headerLength, payloadLength);
  }

  /** @internal Queue the frame written in the room `reserve` gave, unless the slot is released. */
  commit(memory: Uint8Array, headerAt: number, headerLength: number, payloadLength: number): void {
    if (!this.released) this.output.commit(memory, headerAt, headerLength, payloadLength);
  }

  /** @internal A small frame copied whole into the output (from EngineReports), unless the slot is released. */
  queueFrame(memory: Uint8Array, headerAt: number, headerLength: number, payload: Uint8Array): void {
    if (!this.released) this.output.pushFrame(memory, headerAt, headerLength, payload);
  }

  /**
   * @internal The engine's answers to the peer (pongs, close replies): queued, and counted against the
   * peer's budget as sends are: past `maxBufferedAmount` the peer is failed with 1008.
   */
  queueReply(bytes: Uint8Array): void {
    if (this.released) return;
    this.output.push(bytes, true);
    if (this.bufferedAmount > this.options.maxBufferedAmount) this.overflow();
  }

  /** @internal The peer's close frame (from EngineReports). */
  onCloseFrame(code: number, reason: string): void {
    this.closeCode = code;
    this.closeReason = reason;
    this.readyState = ReadyState.CLOSING;
    this.heartbeat?.stop();
    this.events.closing(code, reason);
  }

  /** @internal A protocol violation (from EngineReports). */
  onProtocolError(error: WebSocketProtocolError): void {
    // The engine queued a close frame with error.closeCode. It goes to the socket before the app hears of
    // the failure (WHATWG "fail the WebSocket connection"): an app that exits or terminates in its error
    // handler has still sent it. Then the TCP connection ends.
    this.failed = true;
    this.readyState = ReadyState.CLOSING;
    this.heartbeat?.stop();
    this.output.flush();
    this.events.error(error);
    this.finish();
  }

  /**
   * After the close frames: the server closes TCP first (RFC 6455 §7.1.1); the client waits for the
   * server's FIN. Either way a peer that never closes is destroyed at the close timeout.
   */
  /** @internal The close handshake is over, or the connection failed: end the transport. */
  finish(): void {
    this.output.flush();
    if (this.options.role === Role.Server) this.endSocket();
    this.armCloseTimer();
  }

  /** FIN once everything queued is written. */
  private endSocket(): void {
    if (this.backlog.length > 0) this.endAfterBacklog = true;
    else this.socket.end();
  }

  private armCloseTimer(): void {
    // Released already: Bun's end() runs the close callback synchronously, and a timer armed after it
    // would hold the socket and the session for closeTimeout with nothing left to clear it.
    if (this.closeTimer !== undefined || this.released) return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.options.closeTimeout);
  }

  private overflow(callback?: WriteCallback): void {
    const error = new Error(
      `bufferedAmount ${this.bufferedAmount} > maxBufferedAmount ${this.options.maxBufferedAmount}: ` +
        `the peer reads too slowly; closing with ${CloseCode.PolicyViolation}`,
    );
    callback?.(error);
    if (this.wire.closeSent) return;
    this.failed = true;
    // The close frame is queued and handed to the socket before the error event, as for protocol errors.
    this.close(CloseCode.PolicyViolation, "send buffer overflow");
    this.output.flush();
    this.events.error(error);
  }

  private writeChunks(chunks: Uint8Array[]): void {
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
    if (this.backlog.length === 0 && socket.bufferedAmount === 0) this.output.recycle();
    // Below the mark already (the kernel took it all): the sender may go on at once.
    if (this.needDrain && this.bufferedAmount < this.options.highWaterMark) this.emitDrain();
    this.unthrottle();
  }

  /** Several chunks in one batch: corked where the socket can (one write to the kernel). */
  private putBatch(chunks: Uint8Array[], done?: (error?: Error | null) => void): void {
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

  private put(bytes: Uint8Array, done?: (error?: Error | null) => void): void {
    if (this.backlog.length > 0) return this.keep(bytes, done);
    const taken = this.socket.write(bytes, done);
    if (typeof taken !== "number") return;
    if (taken < 0) return done?.(notWritten());
    if (taken === bytes.length) return done?.();
    this.keep(bytes.subarray(taken), done);
  }

  private keep(bytes: Uint8Array, done?: (error?: Error | null) => void): void {
    this.backlog.push(bytes);
    this.backlogBytes += bytes.length;
    if (done) this.backlogCallbacks.push(done);
  }

  private emitDrain(): void {
    this.needDrain = false;
    if (this.readyState === ReadyState.OPEN) this.events.drain();
  }
}
