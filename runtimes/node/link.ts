// A Node socket as bindings/protocol/session.ts sees it. Node streams buffer every write themselves (`write`
// returns a boolean and calls back once written), and gather a batch with cork/uncork.
import { Buffer } from "node:buffer";
import { Socket } from "node:net";
import type { Session, SessionSocket } from "../../bindings/protocol/session.js";

// Taken once: the global `Buffer` is a getter (Node keeps it for ES modules' deprecation path), which
// optimized code calls on every message it allocates.
const allocUnsafe = Buffer.allocUnsafe;

/** Buffer.allocUnsafe: the byte type Node users get. */
export const allocBuffer = (size: number): Buffer => allocUnsafe(size);

/** `SessionSocket` over a `net.Socket` (or the TLS one). */
export class SocketLink implements SessionSocket {
  readonly socket: Socket;

  constructor(socket: Socket) {
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

const ignoreError = (): void => {};

/**
 * Report an open server connection's socket events to its session. `head` (bytes read with the request)
 * goes first. Plain TCP sockets then read straight into the engine's input area; TLS ones by 'data' events.
 */
export function bindSession(socket: Socket, session: Session, head?: Uint8Array): void {
  // handleUpgrade takes any Duplex: only a net.Socket has these.
  if (typeof socket.setNoDelay === "function") socket.setNoDelay(true);
  if (typeof socket.setTimeout === "function") socket.setTimeout(0);
  // ECONNRESET and the like: 'close' follows and reports 1006.
  socket.on("error", ignoreError);
  socket.on("end", () => session.onEnd());
  socket.on("close", () => session.onClose());
  socket.on("drain", () => session.onDrain());
  if (head && head.length > 0) session.receive(head);
  if (!readInPlace(socket, session)) socket.on("data", (chunk: Buffer) => session.receive(chunk));
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
export function readInPlace(socket: Socket, session: InPlaceReader): boolean {
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } })
    ._handle;
  if (!handle || typeof handle.useUserBuffer !== "function" || "encrypted" in socket) return false;
  // Paused by the application (in "connection"): it runs the stream, so 'data' events it is.
  if (socket.readableFlowing === false) return false;
  userBufferFields ??= findUserBufferFields();
  const fields = userBufferFields;
  if (!fields || !(fields.buffer in socket)) return false;
  for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null;) session.receive(chunk);
  const buffer = session.readBuffer;
  const target = socket as unknown as Fields;
  target[fields.buffer] = buffer;
  target[fields.generator] = null;
  target[fields.callback] = (length: number) => {
    // Read in place, the socket emits no 'data' of its own: an application listening (ws's `_socket`,
    // to count or log bytes) gets a copy of each read, before the engine unmasks it in place.
    if (socket.listenerCount("data") > 0) socket.emit("data", Buffer.from(buffer.subarray(0, length)));
    session.receiveInPlace(length);
    return true;
  };
  handle.useUserBuffer(buffer);
  // Reading may have stopped while node:http's buffer was full.
  socket.resume();
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
