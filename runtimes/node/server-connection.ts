// The server's per-connection object, shaped like `ws`'s WebSocket so its users can switch by an import.
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { Role } from "../../bindings/connection.js";
import type { EnginePool, SlotHandle } from "../../bindings/pool.js";
import { ReadyState, Transport, type SendData, type TransportOptions } from "./transport.js";

/** How received binary data is delivered: Buffer (default) or ArrayBuffer. */
export type BinaryType = "nodebuffer" | "arraybuffer";

/** Options of `send`. */
export interface SendOptions {
  /** Send as a binary message (default: true for bytes, false for strings). */
  binary?: boolean;
  /** Split into frames of at most this many payload bytes (0: one frame). */
  fragmentSize?: number;
}

type Callback = (error?: Error) => void;

/** Events of a server-side connection. */
export interface ServerConnectionEvents {
  message: [data: Buffer | ArrayBuffer, isBinary: boolean];
  fragment: [data: Buffer | ArrayBuffer, isBinary: boolean, first: boolean, last: boolean];
  ping: [data: Buffer];
  pong: [data: Buffer];
  close: [code: number, reason: Buffer];
  error: [error: Error];
  drain: [];
}

let nextId = 1;

/** Copy a pooled Buffer's bytes into an ArrayBuffer of its own. */
export function toArrayBuffer(data: Buffer): ArrayBuffer {
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

/** Bytes for ping/pong payloads and close reasons given as strings or bytes. */
export function controlBytes(data: SendData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (typeof data === "string") return Buffer.from(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** One accepted WebSocket connection on a `WebSocketServer`. */
export class ServerConnection extends EventEmitter<ServerConnectionEvents> {
  static readonly CONNECTING = ReadyState.CONNECTING;
  static readonly OPEN = ReadyState.OPEN;
  static readonly CLOSING = ReadyState.CLOSING;
  static readonly CLOSED = ReadyState.CLOSED;
  readonly CONNECTING = ReadyState.CONNECTING;
  readonly OPEN = ReadyState.OPEN;
  readonly CLOSING = ReadyState.CLOSING;
  readonly CLOSED = ReadyState.CLOSED;

  /** Process-unique connection id (for `wss.disconnect(id)` and logs). */
  readonly id: number;
  /** The peer's IP address. */
  readonly remoteAddress: string;
  /** The subprotocol chosen in the handshake ("" for none). */
  readonly protocol: string;
  /** The Sec-WebSocket-Extensions value the server answered with ("" for none). */
  readonly extensions: string;
  /** How binary messages are delivered. */
  binaryType: BinaryType = "nodebuffer";
  private readonly transport: Transport;

  constructor(
    socket: Socket,
    pool: EnginePool,
    handle: SlotHandle,
    protocol: string,
    options: Omit<TransportOptions, "role">,
    extensions = "",
  ) {
    super();
    this.id = nextId++;
    this.remoteAddress = socket.remoteAddress ?? "";
    this.protocol = protocol;
    this.extensions = extensions;
    this.transport = new Transport(
      socket,
      pool,
      handle,
      { ...options, role: Role.Server },
      {
        message: (data, isBinary) => this.emit("message", this.deliver(data, isBinary), isBinary),
        fragment: (data, isBinary, first, last) =>
          this.emit("fragment", this.deliver(data, isBinary), isBinary, first, last),
        ping: (data) => this.emit("ping", data),
        pong: (data) => this.emit("pong", data),
        closing: () => {},
        error: (error) => {
          if (this.listenerCount("error") > 0) this.emit("error", error);
        },
        drain: () => this.emit("drain"),
        end: (code, reason) => this.emit("close", code, Buffer.from(reason)),
      },
    );
  }

  /** CONNECTING, OPEN, CLOSING or CLOSED. */
  get readyState(): number {
    return this.transport.readyState;
  }

  /** Bytes queued and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.transport.bufferedAmount;
  }

  /** The underlying socket. */
  get socket(): Socket {
    return this.transport.socket;
  }

  /** Open: begin reading frames (called by the server once the 101 is written). */
  start(): void {
    this.transport.start(undefined, false);
  }

  /** Feed bytes that arrived with the upgrade request. */
  receive(bytes: Uint8Array): void {
    if (this.transport.readyState !== ReadyState.CLOSED) this.transport.receive(bytes);
  }

  /** Send a message; `callback` runs when it is written (or with an error when it cannot be). */
  send(data: SendData, options?: SendOptions | Callback, callback?: Callback): void {
    if (typeof options === "function") [callback, options] = [options, undefined];
    const binary = options?.binary ?? typeof data !== "string";
    this.transport.send(data, binary, options?.fragmentSize ?? 0, callback);
  }

  /** Send a ping (payload up to 125 bytes). */
  ping(data?: SendData, mask?: boolean | Callback, callback?: Callback): void {
    if (typeof mask === "function") callback = mask;
    this.transport.ping(controlBytes(data), callback);
  }

  /** Send an unsolicited pong (payload up to 125 bytes). */
  pong(data?: SendData, mask?: boolean | Callback, callback?: Callback): void {
    if (typeof mask === "function") callback = mask;
    this.transport.pong(controlBytes(data), callback);
  }

  /** Start the close handshake (TypeError for a code or reason the RFC forbids). */
  close(code?: number, reason: string | Buffer = ""): void {
    this.transport.close(code, typeof reason === "string" ? reason : reason.toString("utf8"));
  }

  /** Destroy the connection now, without a close handshake. */
  terminate(): void {
    this.transport.terminate();
  }

  private deliver(data: Buffer, isBinary: boolean): Buffer | ArrayBuffer {
    return isBinary && this.binaryType === "arraybuffer" ? toArrayBuffer(data) : data;
  }
}
