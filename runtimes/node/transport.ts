// One WebSocket over one Node socket: socket bytes into the engine slot, the engine's frames out through a
// per-tick write batch, heartbeat, backpressure, the close timers, and releasing the slot exactly once.
// Shared by the server's connections and the client; the protocol itself is the engine's.
import type { Socket } from "node:net";
import { Role, WireConnection, type ConnectionHandler } from "../../bindings/connection.js";
import { CloseCode, type WebSocketProtocolError } from "../../bindings/errors.js";
import { Heartbeat, type HeartbeatOptions } from "../../bindings/heartbeat.js";
import { OutputQueue } from "../../bindings/output.js";
import type { PerMessageDeflate } from "../../bindings/permessage-deflate.js";
import type { EnginePool, SlotHandle } from "../../bindings/pool.js";

/** WebSocket ready states (WHATWG and ws numbering). */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** Data a connection can send. */
export type SendData = string | ArrayBuffer | ArrayBufferView;

/** Settings of one transport (resolved defaults; see docs/NODE.md for the user-facing ones). */
export interface TransportOptions {
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
  /** permessage-deflate as negotiated for this connection (server side; the client sets it after the 101). */
  deflate?: PerMessageDeflate | null;
}

/** What a transport reports to the object users see. */
export interface TransportEvents {
  message(data: Buffer, isBinary: boolean): void;
  fragment(data: Buffer, isBinary: boolean, first: boolean, last: boolean): void;
  ping(data: Buffer): void;
  pong(data: Buffer): void;
  /** The peer's close frame arrived (the engine queued the reply). */
  closing(code: number, reason: string): void;
  /** A protocol violation (a close frame with its code was sent) or a local failure. */
  error(error: Error): void;
  /** bufferedAmount fell back after reaching the high-water mark. */
  drain(): void;
  /** The socket is gone and the slot released; nothing follows. */
  end(code: number, reason: string, wasClean: boolean): void;
}

const allocBuffer = (size: number): Uint8Array => Buffer.allocUnsafe(size);

/** Bytes of any `SendData` (strings are left to the engine's encoder). */
export function sendBytes(data: SendData): string | Uint8Array {
  if (typeof data === "string" || data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("send() takes a string, an ArrayBuffer or an ArrayBufferView");
}

/** Drives one connection's engine slot over one socket. */
export class Transport {
  readonly socket: Socket;
  readonly wire: WireConnection;
  readyState: ReadyState = ReadyState.CONNECTING;
  private readonly pool: EnginePool;
  private readonly handle: SlotHandle;
  private readonly options: TransportOptions;
  private readonly events: TransportEvents;
  private readonly output: OutputQueue;
  private readonly heartbeat: Heartbeat | null;
  private callbacks: Array<(error?: Error) => void> = [];
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private closeCode: number = CloseCode.Abnormal;
  private closeReason = "";
  private failed = false;
  private needDrain = false;
  private released = false;

  constructor(
    socket: Socket,
    pool: EnginePool,
    handle: SlotHandle,
    options: TransportOptions,
    events: TransportEvents,
  ) {
    this.socket = socket;
    this.pool = pool;
    this.handle = handle;
    this.options = options;
    this.events = events;
    this.output = new OutputQueue((chunks) => this.writeChunks(chunks), allocBuffer);
    this.wire = new WireConnection(handle, this.engineHandler(), {
      role: options.role,
      maxPayload: options.maxPayload,
      fragments: options.fragments,
      alloc: allocBuffer,
      deflate: options.deflate ?? undefined,
    });
    this.heartbeat = options.heartbeat
      ? new Heartbeat(options.heartbeat, {
          ping: () => this.ping(new Uint8Array(0)),
          timeout: () => this.fail(new Error("peer silent past the heartbeat timeout; terminated")),
        })
      : null;
    socket.on("error", this.onSocketError);
    socket.on("end", this.onSocketEnd);
    socket.on("close", this.onSocketClose);
    socket.on("drain", this.onSocketDrain);
  }

  /** The engine slot's input area, for zero-copy reads (`net.connect({ onread })`). */
  get readBuffer(): Uint8Array {
    return this.wire.readBuffer;
  }

  /** Bytes queued and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.socket.writableLength + this.output.pending;
  }

  /** The handshake is done: start reading frames (after `head`, bytes read past the handshake). */
  start(head: Uint8Array | undefined, readsInPlace: boolean): void {
    if (this.socket.destroyed) return;
    this.readyState = ReadyState.OPEN;
    this.socket.setNoDelay(true);
    this.socket.setTimeout(0);
    if (!readsInPlace) this.socket.on("data", this.onData);
    this.heartbeat?.start();
    if (head && head.length > 0) this.receive(head);
  }

  /** Feed bytes read from the socket. */
  receive(bytes: Uint8Array): void {
    this.heartbeat?.activity();
    this.wire.receive(bytes);
  }

  /** Feed `length` bytes the socket read straight into `readBuffer`. */
  receiveInPlace(length: number): void {
    this.heartbeat?.activity();
    this.wire.receiveInPlace(length);
  }

  /** Queue a message; `callback` runs once it is written to the kernel (or with an error). */
  send(data: SendData, binary: boolean, fragmentSize: number, callback?: (error?: Error) => void): void {
    if (this.readyState !== ReadyState.OPEN || this.wire.closeSent) {
      callback?.(new Error(`WebSocket is not open: readyState ${this.readyState}`));
      return;
    }
    if (this.bufferedAmount > this.options.maxBufferedAmount) return this.overflow(callback);
    this.wire.send(sendBytes(data), binary, fragmentSize);
    if (callback) this.callbacks.push(callback);
    if (this.bufferedAmount >= this.options.highWaterMark) this.needDrain = true;
  }

  /** Send a ping (up to 125 bytes). */
  ping(data: Uint8Array, callback?: (error?: Error) => void): void {
    if (this.readyState !== ReadyState.OPEN || this.wire.closeSent) {
      callback?.(new Error(`WebSocket is not open: readyState ${this.readyState}`));
      return;
    }
    this.wire.ping(data);
    if (callback) this.callbacks.push(callback);
  }

  /** Send an unsolicited pong (up to 125 bytes). */
  pong(data: Uint8Array, callback?: (error?: Error) => void): void {
    if (this.readyState !== ReadyState.OPEN || this.wire.closeSent) {
      callback?.(new Error(`WebSocket is not open: readyState ${this.readyState}`));
      return;
    }
    this.wire.pong(data);
    if (callback) this.callbacks.push(callback);
  }

  /** Start the close handshake (TypeError for an invalid code or reason); no-op when already closing. */
  close(code?: number, reason = ""): void {
    if (this.readyState === ReadyState.CLOSED || this.released) return;
    if (this.readyState === ReadyState.CONNECTING) return this.terminate();
    if (!this.wire.close(code, reason)) return;
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

  /** What the engine reports for this slot. */
  private engineHandler(): ConnectionHandler {
    const events = this.events;
    return {
      message: (data, isBinary) => events.message(data as Buffer, isBinary),
      fragment: (data, isBinary, first, last) => events.fragment(data as Buffer, isBinary, first, last),
      ping: (data) => events.ping(data as Buffer),
      pong: (data) => events.pong(data as Buffer),
      close: (code, reason) => this.onCloseFrame(code, reason),
      error: (error) => this.onProtocolError(error),
      closed: () => this.finish(),
      write: (bytes, borrowed) => {
        if (!this.released) this.output.push(bytes, borrowed);
      },
    };
  }

  private onCloseFrame(code: number, reason: string): void {
    this.closeCode = code;
    this.closeReason = reason;
    this.readyState = ReadyState.CLOSING;
    this.heartbeat?.stop();
    this.events.closing(code, reason);
  }

  private onProtocolError(error: WebSocketProtocolError): void {
    // The engine queued a close frame with error.closeCode; send it, then end the TCP connection.
    this.failed = true;
    this.readyState = ReadyState.CLOSING;
    this.heartbeat?.stop();
    this.events.error(error);
    this.finish();
  }

  /**
   * After the close frames: the server closes TCP first (RFC 6455 §7.1.1); the client waits for the
   * server's FIN. Either way a peer that never closes is destroyed at the close timeout.
   */
  private finish(): void {
    this.output.flush();
    if (this.options.role === Role.Server) this.socket.end();
    this.armCloseTimer();
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== undefined) return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.options.closeTimeout);
  }

  private overflow(callback?: (error?: Error) => void): void {
    const error = new Error(
      `bufferedAmount ${this.bufferedAmount} > maxBufferedAmount ${this.options.maxBufferedAmount}: ` +
        `the peer reads too slowly; closing with 1008`,
    );
    callback?.(error);
    if (this.wire.closeSent) return;
    this.failed = true;
    this.events.error(error);
    this.close(CloseCode.PolicyViolation, "send buffer overflow");
  }

  private writeChunks(chunks: Uint8Array[]): void {
    const socket = this.socket;
    const callbacks = this.callbacks;
    this.callbacks = [];
    if (socket.destroyed || !socket.writable) {
      const error = new Error("socket closed before the data was written");
      for (const callback of callbacks) callback(error);
      return;
    }
    const done =
      callbacks.length === 0
        ? undefined
        : (error?: Error | null) => {
            for (const callback of callbacks) callback(error ?? undefined);
          };
    if (chunks.length === 1) {
      socket.write(chunks[0], done);
    } else {
      socket.cork();
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) socket.write(chunks[i]);
      socket.write(chunks[last], done);
      socket.uncork();
    }
    // Below the mark already (the kernel took it all): the sender may go on at once.
    if (this.needDrain && socket.writableLength < this.options.highWaterMark) this.emitDrain();
  }

  private emitDrain(): void {
    this.needDrain = false;
    if (this.readyState === ReadyState.OPEN) this.events.drain();
  }

  private readonly onData = (chunk: Buffer): void => this.receive(chunk);

  private readonly onSocketDrain = (): void => {
    if (this.needDrain && this.bufferedAmount < this.options.highWaterMark) this.emitDrain();
  };

  private readonly onSocketError = (): void => {
    // ECONNRESET and the like: 'close' follows and reports 1006.
  };

  private readonly onSocketEnd = (): void => {
    if (this.readyState === ReadyState.OPEN) this.readyState = ReadyState.CLOSING;
    this.output.flush();
    this.socket.end();
  };

  private readonly onSocketClose = (): void => {
    if (this.released) return;
    const wasClean = !this.failed && this.wire.closeSent && this.wire.closeReceived;
    this.released = true;
    this.heartbeat?.stop();
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.output.clear();
    this.wire.release();
    this.pool.release(this.handle);
    this.readyState = ReadyState.CLOSED;
    const callbacks = this.callbacks;
    this.callbacks = [];
    for (const callback of callbacks) callback(new Error("socket closed before the data was written"));
    this.events.end(this.closeCode, this.closeReason, wasClean);
  };
}
