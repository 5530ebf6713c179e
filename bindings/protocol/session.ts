// One WebSocket over one byte stream: it ties together the parts of a connection, each with one job: the
// engine driving (connection.ts: socket bytes into the slot, events out, frames written), the per-tick output
// queue (output.ts) and the socket writer (socket-writer.ts), the output budget and read gate
// (backpressure.ts), the close handshake and readyState (close-handshake.ts), the heartbeat policy, and the
// sends that wait behind a Blob being read or a long message being compressed (held-sends.ts). Socket-free: a host adapts its socket to `SessionSocket` and
// reports the socket's events to the session (receive, onDrain, onEnd, onClose). The protocol is the engine's.
import type { PerMessageDeflate } from "./permessage-deflate.js";
import { isBlob } from "./blob-sends.js";
import { HeldSends, type HeldSendsHost, type PendingSend } from "./held-sends.js";
import type { PublishedFrame } from "./pubsub.js";
import { Role, WireConnection, type ConnectionHandler } from "./connection.js";
import { CloseCode, type WebSocketProtocolError } from "../engine/errors.js";
import { defaults } from "../policies/config.js";
import { Heartbeat, type HeartbeatHooks, type HeartbeatOptions } from "../policies/heartbeat.js";
import { OutputQueue, SLAB_BYTES, UNCORKED_SLAB_BYTES } from "./output.js";
import type { EnginePool, SlotHandle } from "../engine/pool.js";
import { ReadyState } from "./ready-state.js";
import { Backpressure, type BackpressureHost } from "./backpressure.js";
import { CloseHandshake } from "./close-handshake.js";
import { SocketWriter } from "./socket-writer.js";
import { byteSize, notWritten, sendBytes, type SendData, type WriteCallback } from "./send-data.js";

/** The heartbeat's ping payload (none; a frame copies it, so one shared empty array does). */
const EMPTY_PAYLOAD = new Uint8Array(0);
/** The socket as a session sees it. */
export interface SessionSocket {
  /**
   * Write bytes. A socket that may take only part (Bun) returns how many it took, -1 when closed; the
   * session keeps the rest until `onDrain`. A socket that buffers everything itself (Node streams)
   * returns a boolean and calls `done` once the bytes are written.
   */
  write(bytes: Uint8Array, done?: (error?: Error | null) => void): number | boolean;
  /**
   * Optional, for a partial-write socket: true when it is done with the bytes once `write` returns (Bun's,
   * which sends straight to the kernel: what it did not take stays the session's). The session may then
   * gather a batch's chunks into one buffer shared by all such sockets and write them in one call.
   */
  readonly writeCopies?: boolean;
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
  /**
   * Optional: frames read with the opening handshake's 101, fed to the session right after the open event: a
   * host that shows each read to the application (Bun's `_socket` 'data' listeners) shows these too.
   */
  readWithHandshake?(bytes: Uint8Array): void;
  /** Bytes the socket holds that the kernel has not taken (0 for a socket that never buffers). */
  readonly bufferedAmount: number;
  /** False once the socket takes no more writes. */
  readonly writable: boolean;
}

/** Settings of one session (resolved defaults; see docs/NODE.md for the user-facing ones). */
export interface SessionOptions {
  role: Role;
  maxPayload: number;
  /** Most frames per received message, empty ones too (1008 past it); 0: no limit. */
  maxFragments?: number;
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
  /** A client's masking keys (ws's `generateMask`; connection.ts `ConnectionOptions`). */
  generateMask?(mask: Uint8Array): void;
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

/** Bytes `data` takes on the wire as a payload (the send queue's measure, shared with every client). */
export { byteSize };

const encoder = new TextEncoder();

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

  holding(on: boolean): void {
    this.session.onHolding(on);
  }
}

/** Drives one connection's engine slot over one socket. */
export class Session implements BackpressureHost, HeldSendsHost, HeartbeatHooks {
  readonly socket: SessionSocket;
  readonly wire: WireConnection;
  /** Bytes sent once closing: never sent, but counted in bufferedAmount (WHATWG, as ws does). */
  private sentAfterClose = 0;
  /**
   * Application data of the sends (and pings, pongs) framed into the output since it last went to the
   * socket: what bufferedAmount counts for them until then (WHATWG, as ws counts its sender's queue), not the
   * frames' bytes, which may be compressed and carry headers. Once written, the socket counts the frames.
   */
  private queuedData = 0;
  private readonly pool: EnginePool;
  private readonly handle: SlotHandle;
  private readonly options: SessionOptions;
  private readonly events: SessionEvents;
  private readonly output: OutputQueue;
  private readonly writer: SocketWriter;
  private readonly flow: Backpressure;
  private readonly closing: CloseHandshake;
  private readonly heartbeat: Heartbeat | null;
  private released = false;
  /** The socket closed; the slot is released once the input read before that is delivered. */
  private socketGone = false;
  /** Sends waiting behind a Blob being read or a message being compressed; made at the first. */
  private held: HeldSends | null = null;
  /** Published frames waiting for the end of a message the application sends in pieces (`fin: false`). */
  private framesAfterPieces: Array<{ frame: PublishedFrame; drop: boolean }> | null = null;

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
    this.writer = new SocketWriter(socket, alloc);
    // Without cork each chunk of a tick is a write of its own (Bun): larger slabs, fewer chunks.
    this.output = new OutputQueue(
      (chunks) => this.writeChunks(chunks),
      alloc,
      socket.cork ? SLAB_BYTES : UNCORKED_SLAB_BYTES,
    );
    this.flow = new Backpressure(this, socket, options, options.role === Role.Server);
    this.closing = new CloseHandshake(options.closeTimeout, socket);
    this.wire = new WireConnection(handle, new EngineReports(this, events), {
      role: options.role,
      maxPayload: options.maxPayload,
      maxFragments: options.maxFragments,
      fragments: options.fragments,
      autoPong: options.autoPong,
      generateMask: options.generateMask,
      alloc,
      deflate: options.deflate ?? undefined,
    });
    this.heartbeat = options.heartbeat ? new Heartbeat(options.heartbeat, this) : null;
  }

  /** CONNECTING until `start`, OPEN, CLOSING once a close frame went or came (or it failed), CLOSED. */
  get readyState(): ReadyState {
    return this.closing.readyState;
  }

  /** The engine slot's input area, for zero-copy reads (then `receiveInPlace`). */
  get readBuffer(): Uint8Array {
    return this.wire.readBuffer;
  }

  /**
   * Bytes queued and not yet handed to the kernel: the application data sent this tick, then what the socket
   * holds (frames, as written), plus Blobs not yet read and what was sent once closing.
   */
  get bufferedAmount(): number {
    const queued = this.socket.bufferedAmount + this.queuedData + this.writer.backlogBytes;
    return queued + (this.held?.bytes ?? 0) + this.sentAfterClose;
  }

  /**
   * bufferedAmount as the application reads it: the frames this tick queued are handed to the socket first
   * (they would go at the end of the tick anyway), so it counts what the kernel has not taken, as ws's does.
   * Without that, a loop that sends while `bufferedAmount` is low (the slow-consumer guard of a broadcast)
   * counted a tick's own sends against a peer that reads everything, and stopped sending to it.
   */
  get bufferedAmountNow(): number {
    this.output.flush();
    return this.bufferedAmount;
  }

  /** The socket is gone and the slot released. */
  get isReleased(): boolean {
    return this.released;
  }

  /** The handshake is done: frames flow from now on. */
  start(): void {
    if (this.released) return;
    this.writer.startFrames();
    if (this.closing.apply("start") === ReadyState.OPEN) this.heartbeat?.start();
  }

  /**
   * Write bytes that are not frames (the handshake) now, ahead of anything sent after this call; they are
   * copied (a server's 101 is a view of engine memory) into a buffer of their own, not into the output's
   * slab: a connection that stays idle after its handshake then holds no slab at all.
   */
  writeRaw(bytes: Uint8Array): void {
    if (this.released) return;
    this.output.writeCopy(bytes);
  }

  /**
   * Bytes the application writes to the socket itself (ws's `_socket.write`, on a host whose socket is not
   * a Node stream): handed to the socket now, behind the frames queued so far; `callback` runs once they are
   * written, or with the error.
   */
  writeBytes(bytes: Uint8Array, callback?: WriteCallback): void {
    if (this.released || this.socketGone) {
      if (callback) queueMicrotask(() => callback(notWritten()));
      return;
    }
    if (callback) this.writer.track(callback);
    this.output.writeCopy(bytes);
  }

  /** The application ends the socket itself (ws's `_socket.end()`, as above): FIN behind what is queued. */
  endSocket(): void {
    if (this.released || this.socketGone) return;
    this.output.flush();
    this.writer.end();
  }

  /** Feed bytes read from the socket. */
  receive(bytes: Uint8Array): void {
    if (this.released) return;
    this.heartbeat?.activity();
    this.wire.receive(bytes);
    this.flow.read();
  }

  /** Feed `length` bytes the socket read straight into `readBuffer`. */
  receiveInPlace(length: number): void {
    if (this.released) return;
    this.heartbeat?.activity();
    this.wire.receiveInPlace(length);
    this.flow.read();
  }

  /** The application stopped reading (ws's `pause()`): no message events until `resume()`. */
  get paused(): boolean {
    return this.flow.paused;
  }

  /** Stop reading from the socket (ws's `pause()`); a no-op while connecting or once closed. */
  pause(): void {
    if (this.readyState === ReadyState.CONNECTING) return;
    this.flow.pause();
  }

  /** Read again after `pause()` (unless the output is still stalled: then once it drains). */
  resume(): void {
    this.flow.resume();
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
    if (this.held?.waiting || isBlob(data)) {
      // Held bytes are copied now, as the caller may reuse its buffer before what is ahead of them went.
      const held =
        isBlob(data) || typeof data === "string" ? data : new Uint8Array(sendBytes(data) as Uint8Array);
      return this.hold({ data: held, binary, fragmentSize, callback, compress, fin });
    }
    const bytes = sendBytes(data);
    // A long message to compress goes to zlib's thread pool (read where it is, as a long payload sent
    // uncompressed is), and what is sent after it waits.
    if (this.wire.deflatesAsync(bytes, compress, fin)) {
      const payload = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
      return this.hold({ data: payload, binary, fragmentSize, callback, compress, fin });
    }
    this.sendNow(bytes, binary, fragmentSize, callback, compress, fin);
  }

  private hold(item: PendingSend): void {
    if (this.socketGone) return item.callback?.(notWritten());
    this.held ??= new HeldSends(this);
    this.held.push(item);
  }

  private sendNow(
    data: string | Uint8Array,
    binary: boolean,
    fragmentSize: number,
    callback?: WriteCallback,
    compress = true,
    fin = true,
  ) {
    if (this.flow.overBudget) return this.overflow(callback);
    this.queuedData += this.wire.send(data, binary, fragmentSize, compress, fin);
    if (callback) this.writer.track(callback);
    this.flow.queued();
    if (this.framesAfterPieces && !this.wire.sendingPieces) this.sendFramesAfterPieces();
  }

  /**
   * Queue a message framed elsewhere (pub/sub frames once for all its subscribers), by reference, in order
   * with this connection's own sends: behind a send or published frame still being compressed (or a Blob
   * read), and behind the rest of a message being sent in pieces. Past `maxBufferedAmount` the peer is failed
   * with 1008 as for `send`, or with `drop` the message is skipped for this connection (judged when its turn
   * comes). True when queued (or held to be).
   */
  sendFrame(frame: PublishedFrame, drop: boolean): boolean {
    if (this.readyState !== ReadyState.OPEN || this.wire.closeSent) return false;
    if (this.held?.waiting || !frame.ready) {
      if (this.socketGone) return false;
      this.hold({ data: "", binary: false, fragmentSize: 0, frame, drop });
      return true;
    }
    return this.sendFrameNow(frame, drop);
  }

  private sendFrameNow(frame: PublishedFrame, drop: boolean): boolean {
    if (this.wire.sendingPieces) {
      (this.framesAfterPieces ??= []).push({ frame, drop });
      return true;
    }
    if (this.flow.overBudget) {
      if (!drop) this.overflow();
      return false;
    }
    // Compressed alone: with context takeover the peer's window holds it now, so our history must too.
    if (frame.compressed) this.wire.perMessageDeflate!.sentAlone(frame.payload);
    this.output.push(frame.bytes!, false);
    this.queuedData += frame.payload.length;
    this.flow.queued();
    return true;
  }

  /** The message sent in pieces ended: the frames published meanwhile go, in order. */
  private sendFramesAfterPieces(): void {
    const waiting = this.framesAfterPieces!;
    this.framesAfterPieces = null;
    for (const { frame, drop } of waiting) this.sendFrameNow(frame, drop);
  }

  /** Send a ping (up to 125 bytes). */
  ping(data: Uint8Array, callback?: WriteCallback): void {
    if (!this.canSend(callback, data)) return;
    this.wire.ping(data);
    this.queuedData += data.length;
    if (callback) this.writer.track(callback);
  }

  /** Send an unsolicited pong (up to 125 bytes). */
  pong(data: Uint8Array, callback?: WriteCallback): void {
    if (!this.canSend(callback, data)) return;
    this.wire.pong(data);
    this.queuedData += data.length;
    if (callback) this.writer.track(callback);
  }

  /**
   * Start the close handshake (TypeError for an invalid code or reason); no-op when already closing. Behind
   * a Blob still being read, the close waits for the sends before it (then a bad code is an `error`).
   */
  close(code?: number, reason = ""): void {
    if (this.readyState === ReadyState.CLOSED || this.released) return;
    if (this.readyState === ReadyState.CONNECTING) return this.terminate();
    if (this.held?.waiting) {
      if (this.readyState !== ReadyState.OPEN) return;
      this.closing.apply("closeRequested");
      return this.held.push({ data: "", binary: false, fragmentSize: 0, close: { code, reason } });
    }
    this.closeNow(code, reason);
  }

  private closeNow(code: number | undefined, reason: string): void {
    if (!this.wire.close(code, reason)) return;
    // The close frame goes to the socket now (as ws writes it), so bufferedAmount does not count it.
    this.output.flush();
    this.closing.apply("closeRequested");
    this.heartbeat?.stop();
    this.closing.armTimer();
  }

  /**
   * The application's terminate(): the frames its sends queued this tick are handed to the socket first, then
   * `terminate`. ws writes each send at once, so a send followed by terminate() reaches the kernel (which
   * still sends what it took); here they waited for the end of the tick and were dropped, their callbacks
   * failed. Held sends (a Blob being read, a long message being compressed) still fail, as in ws.
   */
  terminateAfterSends(): void {
    const state = this.readyState;
    if (!this.released && (state === ReadyState.OPEN || state === ReadyState.CLOSING)) this.output.flush();
    this.terminate();
  }

  /** Destroy the socket now, without a close handshake; held sends fail (ws's CLOSED_WHILE_* messages). */
  terminate(): void {
    this.closing.apply("terminated");
    // What was written whole is told so before the held sends' errors (and the end, which Bun reports at once).
    this.writer.settle();
    this.held?.clear();
    this.clearOutput();
    this.socket.destroy();
  }

  /** End the connection for a local reason: report it, then destroy the socket. */
  fail(error: Error): void {
    if (this.released) return;
    this.closing.failed = true;
    this.events.error(error);
    this.terminate();
  }

  /** The heartbeat's ping: an empty one. */
  heartbeatPing(): void {
    this.ping(EMPTY_PAYLOAD);
  }

  /**
   * The heartbeat gave up on a silent peer: it fails with close frame 1011 "heartbeat timeout". The local
   * `close` event reports 1006 (no close frame came back), as for any termination.
   */
  heartbeatTimeout(): void {
    const { interval, timeout } = this.options.heartbeat!;
    this.failWith(
      CloseCode.InternalError,
      "heartbeat timeout",
      new Error(
        `peer silent past the heartbeat (${interval} + ${timeout} ms); closed with 1011 and terminated`,
      ),
    );
  }

  /**
   * Fail the connection for a reason of ours (RFC 6455 §7.1.7: send a close frame, then close TCP; process
   * nothing more the peer sends). The close frame goes right behind what the socket already holds: the whole
   * frames still waiting in our queue are dropped (their send callbacks get an error) and a frame the socket
   * has taken part of is finished, never cut. Then the `error` event. The socket is ended (FIN) behind the
   * close frame and destroyed at closeTimeout at the latest (at once only when no close frame could be
   * written): a peer that reads again gets whole frames, then the close frame with its code, then FIN; one that
   * never does is cut after that bound. Once the kernel has the close frame, the socket is read again (and
   * what comes discarded), so the peer's FIN ends it early and unread bytes do not turn our FIN into a reset;
   * until then a peer that does not read stays throttled.
   */
  private failWith(code: number, reason: string, error: Error): void {
    if (this.released) return;
    this.closing.failed = true;
    this.closing.apply("failed");
    this.heartbeat?.stop();
    this.flow.stop();
    this.clearOutput();
    const dropped = this.writer.dropWaiting();
    const sendsClose = !this.wire.closeSent && this.socket.writable;
    if (sendsClose) {
      this.writer.track((failed) => {
        if (!failed) this.socket.resumeReading?.();
      });
      this.wire.close(code, reason);
      this.output.flush();
    }
    this.wire.ignoreInput();
    const stuck = !this.writer.idle;
    const notSent = new Error(`the connection failed (${code}) before the data was written`);
    for (const callback of dropped) callback(notSent);
    this.held?.clear();
    this.events.error(error);
    if (this.released) return;
    // Destroying a socket whose input is unread sends RST, which can make the peer's kernel drop the close
    // frame it holds: once a close frame is written, end with FIN and read (discarding) until the peer's FIN
    // or closeTimeout, stuck or not.
    if (!stuck && !sendsClose) return this.terminate();
    this.writer.end();
    this.closing.armTimer();
  }

  /** The host's socket can take more bytes: write what waits for it. */
  onDrain(): void {
    this.writer.drain();
    this.flow.wrote();
  }

  /** The peer half-closed (FIN): answer with ours. */
  onEnd(): void {
    this.closing.apply("peerEnded");
    this.output.flush();
    this.writer.end();
  }

  /** The socket is closed: release the slot (once) and report the end. */
  onClose(): void {
    if (this.released || this.socketGone) return;
    this.socketGone = true;
    this.heartbeat?.stop();
    this.flow.stop();
    this.writer.settle();
    this.held?.clear();
    this.writer.close();
    // What arrived before the socket closed (the peer's FIN can come while a message inflates, with its close
    // frame held behind it) is still delivered, in order, as ws does: the end is reported once it is.
    this.wire.releaseInput();
    if (!this.wire.holding) this.release();
  }

  /** The socket is gone and the input read before it delivered: release the slot (once) and report the end. */
  private release(): void {
    if (this.released) return;
    const wasClean = this.closing.wasClean(this.wire.closeSent, this.wire.closeReceived);
    this.released = true;
    this.framesAfterPieces = null;
    // Closed: no write of the transport's holds the queue's bytes any more.
    this.output.release();
    this.queuedData = 0;
    this.wire.release();
    this.pool.release(this.handle);
    this.closing.closed();
    this.writer.close();
    this.events.end(this.closing.code, this.closing.reason, wasClean);
  }

  /** Drop what the output holds (the socket is going): nothing of it will be sent. */
  private clearOutput(): void {
    this.output.clear();
    this.queuedData = 0;
  }

  /** @internal A send (or close) that was held: it goes unless the connection closed meanwhile. */
  sendHeld(item: PendingSend): void {
    if (this.released || this.socketGone || this.wire.closeSent) return item.callback?.(notWritten());
    if (item.frame) return void this.sendFrameNow(item.frame, item.drop ?? false);
    if (item.compressed) return this.sendCompressed(item.data as Uint8Array, item);
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

  /** A message compressed off the event loop, framed as it is. */
  private sendCompressed(payload: Uint8Array, item: PendingSend): void {
    if (this.flow.overBudget) return this.overflow(item.callback);
    this.queuedData += payload.length;
    this.wire.sendCompressed(payload, item.binary, item.fragmentSize);
    if (item.callback) this.writer.track(item.callback);
    this.flow.queued();
  }

  /** @internal Start compressing a held send on zlib's thread pool when it should be (from HeldSends). */
  compressHeld(item: PendingSend, done: (result: Uint8Array | Error) => void): (() => void) | null {
    if (this.released || this.wire.closeSent || isBlob(item.data)) return null;
    if (!this.wire.deflatesAsync(item.data, item.compress ?? true, item.fin ?? true)) return null;
    if (typeof item.data === "string") item.data = encoder.encode(item.data);
    return this.wire.perMessageDeflate!.compressAsync(item.data, done);
  }

  /** @internal Hold the connection's input while sends are held (from HeldSends). */
  holdInput(): void {
    if (!this.released) this.wire.holdInput();
  }

  /** @internal Nothing is held any more: replay the input held meanwhile (from HeldSends). */
  releaseInput(): void {
    if (!this.released) this.wire.releaseInput();
  }

  /** @internal A Blob could not be read, or a message not compressed (from HeldSends). */
  heldFailed(error: Error): void {
    this.fail(error);
  }

  /** @internal The socket can still take bytes (from HeldSends). */
  get heldWritable(): boolean {
    return !this.released && this.socket.writable;
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
    // Counted until the batch reaches the socket, as the sends of this tick are.
    this.queuedData += bytes.length;
    if (this.flow.overBudget) this.overflow();
  }

  /**
   * @internal A compressed message inflates off the event loop (from EngineReports): stop reading until it
   * and what arrived behind it are delivered, then throttle as after any read and read again.
   */
  onHolding(on: boolean): void {
    if (this.released) return;
    if (this.socketGone) return on ? undefined : this.release();
    this.flow.hold(on);
  }

  /** @internal The peer's close frame (from EngineReports). */
  onCloseFrame(code: number, reason: string): void {
    this.closing.received(code, reason);
    this.heartbeat?.stop();
    this.events.closing(code, reason);
  }

  /** @internal A protocol violation (from EngineReports). */
  onProtocolError(error: WebSocketProtocolError): void {
    // The engine queued a close frame with error.closeCode. It goes to the socket before the app hears of
    // the failure (WHATWG "fail the WebSocket connection"): an app that exits or terminates in its error
    // handler has still sent it. Then the TCP connection ends.
    this.closing.failed = true;
    this.closing.apply("failed");
    this.heartbeat?.stop();
    this.output.flush();
    this.events.error(error);
    this.finish();
  }

  /**
   * @internal The close handshake is over, or the connection failed: end the transport. The server closes
   * TCP first (RFC 6455 §7.1.1); the client waits for the server's FIN. Either way a peer that never closes
   * is destroyed at the close timeout.
   */
  finish(): void {
    this.output.flush();
    if (this.socketGone) return;
    if (this.options.role === Role.Server) this.writer.end();
    this.closing.armTimer();
  }

  /** @internal Hand the queue to the socket now (for the backpressure check). */
  flushOutput(): void {
    this.output.flush();
  }

  /** @internal The output fell back below the high-water mark (from Backpressure). */
  drained(): void {
    if (this.readyState === ReadyState.OPEN) this.events.drain();
  }

  /** @internal The peer read nothing for stallTimeout (from Backpressure): fail it with 1008. */
  stalled(error: Error): void {
    if (this.wire.closeSent) return;
    this.failWith(CloseCode.PolicyViolation, "peer not reading", error);
  }

  private overflow(callback?: WriteCallback): void {
    const error = this.flow.overflowError(CloseCode.PolicyViolation);
    callback?.(error);
    if (this.wire.closeSent) return;
    // The close frame is handed to the socket before the error event, as for protocol errors.
    this.failWith(CloseCode.PolicyViolation, "send buffer overflow", error);
  }

  /** The output queue's sink: one batch to the socket, then the slab, the drain owed and the read gate. */
  private writeChunks(chunks: Uint8Array[]): void {
    // The socket counts these bytes from now on.
    this.queuedData = 0;
    this.writer.write(chunks);
    if (this.writer.idle) this.output.recycle();
    // Below the mark already (the kernel took it all): the sender may go on at once.
    this.flow.wrote();
  }
}
