// A Node socket as bindings/protocol/session.ts sees it: a net.Socket, a TLS socket, any Duplex handleUpgrade
// is given, or an HTTP/2 stream carrying a WebSocket (RFC 8441). Node streams buffer every write themselves
// (`write` returns a boolean and calls back once written), and gather a batch with cork/uncork.
import { Socket } from "node:net";
import type { Http2Stream } from "node:http2";
import { addAbortSignal, type Duplex } from "node:stream";
import type { Session, SessionSocket } from "../../bindings/protocol/session.js";

export { allocBuffer } from "./buffer.js";

/** `SessionSocket` over a `net.Socket`, the TLS one, or any Duplex. */
export class SocketLink implements SessionSocket {
  readonly socket: Duplex;

  constructor(socket: Duplex) {
    this.socket = socket;
  }

  write(bytes: Uint8Array, done?: (error?: Error | null) => void): boolean {
    return this.socket.write(bytes, done);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  get writable(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }
}

/**
 * `SessionSocket` over an HTTP/2 stream (RFC 8441 §5), the server's and the client's: the orderly end after
 * the close handshake is the stream's END_STREAM (`end`), an abnormal one RST_STREAM with CANCEL
 * (`resetStream`), leaving the session's other streams alone. HTTP/2 flow control shows in
 * `bufferedAmount`: what the peer's window does not admit stays queued.
 */
export class Http2StreamLink extends SocketLink {
  declare readonly socket: Http2Stream;
  /** We reset the stream: its 'error' (the abort) and anything after are ours, not the peer's. */
  reset = false;

  constructor(stream: Http2Stream) {
    super(stream);
  }

  override destroy(): void {
    if (this.socket.closed || this.socket.destroyed) return;
    this.reset = true;
    resetStream(this.socket);
  }
}

/**
 * RST_STREAM with CANCEL and nothing before it. `stream.close(NGHTTP2_CANCEL)` ends the writable side first,
 * so the peer gets END_STREAM (an orderly half-close) ahead of the reset, and a peer that answers it at once
 * closes the stream cleanly before the reset arrives. Destroying the stream with an AbortError (what an
 * aborted `addAbortSignal` signal does, on Node and Bun alike) sends the reset alone, with CANCEL; the stream
 * then emits that AbortError as 'error'.
 */
export function resetStream(stream: Http2Stream): void {
  const abort = new AbortController();
  addAbortSignal(abort.signal, stream);
  abort.abort();
}

/** The 'error' listener of a socket in its handshake and of an open connection's: 'close' reports the end. */
export const ignoreError = (): void => {};

// The session (or client link) of a socket, on the socket itself: the listeners below and the in-place read
// callback are shared by every socket (Node calls them with `this` the socket), not closures per connection.
const kSession = Symbol("wasmsocket.session");
const kReader = Symbol("wasmsocket.reader");

type BoundSocket = Duplex & { [kSession]: Session; [kReader]: InPlaceReader };

function onEnd(this: BoundSocket): void {
  this[kSession].onEnd();
}

function onClose(this: BoundSocket): void {
  this[kSession].onClose();
}

function onDrain(this: BoundSocket): void {
  this[kSession].onDrain();
}

function onData(this: BoundSocket, chunk: Buffer): void {
  this[kSession].receive(chunk);
}

/**
 * Report an open server connection's socket events to its session. `head` (bytes read with the request)
 * goes first. Plain TCP sockets then read straight into the engine's input area; TLS sockets, HTTP/2
 * streams and other Duplexes by 'data' events.
 */
export function bindSession(socket: Duplex, session: Session, head?: Uint8Array): void {
  // handleUpgrade takes any Duplex: only a net.Socket has setNoDelay (an HTTP/2 stream has setTimeout).
  const tcp = socket as Partial<Pick<Socket, "setNoDelay" | "setTimeout" | "timeout">>;
  if (typeof tcp.setNoDelay === "function") tcp.setNoDelay(true);
  // A timeout node:http (or the application) set; our own port's sockets have none to clear (a net.Socket's
  // `timeout` stays undefined until one is set). Other Duplexes (HTTP/2 streams) are cleared as they come.
  if (typeof tcp.setTimeout === "function" && (tcp.timeout !== undefined || !(socket instanceof Socket)))
    tcp.setTimeout(0);
  (socket as BoundSocket)[kSession] = session;
  // ECONNRESET and the like: 'close' follows and reports 1006. The socket has had `ignoreError` since its
  // handshake began (the server's, kept): one listener, not one removed and another added.
  if (!hasListener(socket, "error", ignoreError)) socket.on("error", ignoreError);
  socket.on("end", onEnd);
  socket.on("close", onClose);
  socket.on("drain", onDrain);
  if (head && head.length > 0) session.receive(head);
  if (!readInPlace(socket, session)) socket.on("data", onData);
}

/** Whether `listener` is among `event`'s listeners of `socket`, without copying the list (`listeners()`). */
function hasListener(socket: Duplex, event: string, listener: (...args: never[]) => void): boolean {
  const events = (socket as unknown as { _events?: Record<string, unknown> })._events;
  if (events === undefined) return socket.listeners(event).includes(listener);
  const entry = events[event];
  return entry === listener || (Array.isArray(entry) && entry.includes(listener));
}

/** What reads in place: a session, or a client's link (which hands bytes to its session once open). */
export interface InPlaceReader {
  readonly readBuffer: Uint8Array;
  receive(bytes: Uint8Array): void;
  receiveInPlace(length: number): void;
}

interface UserBufferFields {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

let userBufferFields: UserBufferFields | null | undefined;

/** The fields `new net.Socket({ onread })` sets (Node ≥ 12), found once by their names; null if absent. */
function findUserBufferFields(): UserBufferFields | null {
  const symbols = new Map(Object.getOwnPropertySymbols(new Socket()).map((s) => [s.description, s]));
  const [buffer, callback, generator] = ["kBuffer", "kBufferCb", "kBufferGen"].map((n) => symbols.get(n));
  return buffer && callback && generator ? { buffer, callback, generator } : null;
}

type Fields = Record<symbol, unknown>;

/**
 * Switch a socket node:http created (so without the `onread` option) to Node's user-buffer reads: the
 * kernel reads into the engine's input area and the session parses it in place, with no Buffer per read
 * (the same mode `onread` gives our client). Bytes node:http already buffered are fed first. 'data'
 * listeners the application adds still see every read (a copy, made only while one listens). Returns
 * false, leaving the socket alone, where the handle cannot do it (TLS), the application paused the socket,
 * or Node's fields are not found.
 */
export function readInPlace(socket: Duplex, session: InPlaceReader): boolean {
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } })
    ._handle;
  if (!handle || typeof handle.useUserBuffer !== "function" || "encrypted" in socket) return false;
  // Paused by the application (in "connection"): it runs the stream, so 'data' events it is.
  if (socket.readableFlowing === false) return false;
  userBufferFields ??= findUserBufferFields();
  const fields = userBufferFields;
  if (!fields || !(fields.buffer in socket)) return false;
  // Our own port's sockets hold nothing here (their head came by 'data'): no read() to ask.
  if (socket.readableLength > 0)
    for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null;) session.receive(chunk);
  const buffer = session.readBuffer;
  const target = socket as unknown as Fields;
  (socket as BoundSocket)[kReader] = session;
  target[fields.buffer] = buffer;
  target[fields.generator] = null;
  target[fields.callback] = readIntoEngine;
  handle.useUserBuffer(buffer);
  // Reading may have stopped while node:http's buffer was full.
  socket.resume();
  return true;
}

/** What sockets still in their handshake read into (`readHeadInPlace`), made at the first. */
let headBuffer: Uint8Array | null = null;
const HEAD_READ_BYTES = 16 * 1024;

/**
 * Read a raw socket's request head with Node's user-buffer reads (as `readInPlace` reads frames), into one
 * buffer shared by every such socket: each read is parsed or copied by `onRead` (called with `this` the
 * socket) before another read can come, so no Buffer is made per read and no 'data' event runs. Once the
 * connection opens, `readInPlace` switches the socket to its session's input area. False, leaving the socket
 * alone, where `readInPlace` could not do it either (TLS, Node's fields not found).
 */
export function readHeadInPlace(
  socket: Socket,
  onRead: (this: Socket, length: number, buffer: Uint8Array) => boolean,
): boolean {
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } })
    ._handle;
  if (!handle || typeof handle.useUserBuffer !== "function" || "encrypted" in socket) return false;
  userBufferFields ??= findUserBufferFields();
  const fields = userBufferFields;
  if (!fields || !(fields.buffer in socket) || socket.readableLength > 0) return false;
  headBuffer ??= new Uint8Array(HEAD_READ_BYTES);
  const target = socket as unknown as Fields;
  target[fields.buffer] = headBuffer;
  target[fields.generator] = null;
  target[fields.callback] = onRead;
  handle.useUserBuffer(headBuffer);
  return true;
}

/** Whether `socket` is read in place (`readInPlace`, `readHeadInPlace`): its reads make no 'data' events. */
export function readsInPlace(socket: Duplex): boolean {
  const fields = userBufferFields;
  return !!fields && (socket as unknown as Fields)[fields.buffer] != null;
}

/**
 * The in-place read callback (`onread`'s, which Node calls with `this` the socket and the buffer read into).
 * Read in place, the socket emits no 'data' of its own: an application listening (ws's `_socket`, to count
 * or log bytes) gets a copy of each read, before the engine unmasks it in place.
 */
function readIntoEngine(this: BoundSocket, length: number, buffer: Uint8Array): boolean {
  if (this.listenerCount("data") > 0) this.emit("data", Buffer.from(buffer.subarray(0, length)));
  this[kReader].receiveInPlace(length);
  return true;
}

/**
 * A head as node:http received it (start line, header lines as sent, blank line), for the engine to read.
 * Only the fields node:http reported in `parsed` (its `headers`): those past the `maxHeadersCount` an
 * application set are left out, as node:http (and ws, which reads `headers`) leave them out.
 */
export function rawHead(startLine: string, rawHeaders: string[], parsed: object): Buffer {
  let head = `${startLine}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if (rawHeaders[i].toLowerCase() in parsed) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return Buffer.from(head + "\r\n", "latin1");
}
