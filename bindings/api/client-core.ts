// The runtime-neutral client: the WHATWG WebSocket surface, URL parsing, reconnect (bindings/policies/backoff.ts),
// queueing while reconnecting, and lifecycle events like esp_websocket_client's (connecting, open, reconnecting,
// close, finish). Its lifecycle is the state machine of client-lifecycle.ts; each connection attempt (dial, the
// handshake by the engine, the session) is a ClientConnection (client-connection.ts). A host supplies `dial`:
// open a TCP or TLS connection and report its events to the `ClientLink` it is given.
import type { BackoffOptions } from "../policies/backoff.js";
import { Reconnect } from "../policies/reconnect.js";
import { SendQueue } from "../policies/send-queue.js";
import { CloseCode } from "../engine/errors.js";
import { CallError, MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD } from "../engine/abi.js";
import { closeError, controlError, isToken } from "../engine/rules.js";
import { defaults } from "../policies/config.js";
import { CloseEvent } from "./events.js";
import { utf8 } from "../engine/text.js";
import {
  ClientEventBridge,
  type ConnectingDetail,
  type FinishDetail,
  type MessageData,
  type ReconnectingDetail,
} from "./client-events.js";
import { isBlob } from "../protocol/blob-sends.js";
import { joinChunks, type MessageData as WsMessageData } from "./message-data.js";
import { deflateOptions, type PerMessageDeflateOptions } from "../protocol/extensions.js";
import type { DeflateCodec } from "../protocol/permessage-deflate.js";
import type { HeartbeatOptions } from "../policies/heartbeat.js";
import { sharedPool, type EnginePool } from "../engine/pool.js";
import type { Session, SessionSocket } from "../protocol/session.js";
import type { HeaderField } from "../protocol/handshake.js";
import { ReadyState } from "../protocol/ready-state.js";
import {
  byteSize,
  controlBytes,
  toArrayBuffer,
  type ControlData,
  type SendData,
  type WriteCallback,
} from "../protocol/send-data.js";
import { ClientLifecycle } from "./client-lifecycle.js";
import { ClientConnection, type AttemptReports, type AttemptSetup } from "./client-connection.js";
import type { ServerConnection } from "./server-connection.js";

export type { ConnectingDetail, FinishDetail, ReconnectingDetail, MessageData };

/** Reconnect policy: backoff plus what happens to messages sent while reconnecting. */
export interface ReconnectOptions extends BackoffOptions {
  /** "queue" (default): hold sends and deliver them on open; "reject": `send` throws ws's not-open Error. */
  queue?: "queue" | "reject";
}

/** PEM text or DER bytes, or a list of them (TLS options). */
export type TlsMaterial = string | Uint8Array | Array<string | Uint8Array>;

/** Client options (docs/NODE.md lists the defaults). */
export interface ClientOptions {
  /** Extra request header fields. */
  headers?: Record<string, string>;
  /** The Origin header. */
  origin?: string;
  /** TLS (wss://): trusted CAs, client certificate and key, verification, SNI name. */
  ca?: TlsMaterial;
  cert?: TlsMaterial;
  key?: TlsMaterial;
  rejectUnauthorized?: boolean;
  servername?: string;
  /** Ms for TCP connect + opening handshake (default 10 000). */
  handshakeTimeout?: number;
  /** Longest response head, bytes (default 16 384). */
  maxHeaderSize?: number;
  /** Largest message accepted, bytes (default 16 MiB; 1009 past it). */
  maxPayload?: number;
  /** Most frames per received message, empty ones too (default 131 072; 1008 past it); 0: no limit. */
  maxFragments?: number;
  /** Split every sent message into frames of at most this many bytes (default 0: never). */
  maxFragmentSize?: number;
  /** Ping a silent server and drop a dead one (default off). */
  heartbeat?: HeartbeatOptions | boolean;
  /** Reconnect after a close the application did not ask for (default off). */
  reconnect?: boolean | ReconnectOptions;
  /** Decide per close whether to reconnect (default: always, when `reconnect` is on). */
  shouldReconnect?: (event: CloseEvent) => boolean;
  /** Most messages held while reconnecting (default 1024); beyond, `send` throws a RangeError. */
  maxQueued?: number;
  /**
   * "message" (default): whole messages; "stream": "fragment" events (FragmentEvent) as chunks arrive, so a
   * huge message need not be held (arduinoWebSockets' WStype_FRAGMENT_*), instead of "message" events.
   */
  fragments?: "message" | "stream";
  /** Initial binaryType (default "nodebuffer"). */
  binaryType?: ClientBinaryType;
  /** bufferedAmount at which `drain` is owed (default 64 KiB). */
  highWaterMark?: number;
  /** Queued bytes beyond which a send fails the connection with 1008 (default 32 MiB). */
  maxBufferedAmount?: number;
  /** Ms to wait for the close reply, then for the server's FIN (default 10 000). */
  closeTimeout?: number;
  /** The engine pool (default the process-wide one). */
  pool?: EnginePool;
  /** Offer permessage-deflate (RFC 7692): on by default, as ws; `false`, or options (docs/DEFLATE.md). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Answer pings (default true); false: the "ping" event still fires, answer with `pong()`. */
  autoPong?: boolean;
  /**
   * ws's option: fill the 4-byte `mask` (zeros at first, then what you left) with the masking key of the next
   * frame, called before each frame the client writes (frames the engine answers with while reading, pongs
   * and the close reply, take the last key). Default: a fresh key from the CSPRNG per frame. A constant
   * key (all zeros spares the masking work, as ws) is for peers you trust: RFC 6455 §10.3 wants keys a
   * peer cannot predict.
   */
  generateMask?(mask: Uint8Array): void;
}

/**
 * How binary messages arrive: the host's byte type (Buffer on Node and Bun), an ArrayBuffer, a list of
 * chunks (one chunk per message here) or a Blob: ws's four.
 */
export type ClientBinaryType = "nodebuffer" | "arraybuffer" | "fragments" | "blob";

const BINARY_TYPES: readonly string[] = ["nodebuffer", "arraybuffer", "fragments", "blob"];
const STATE_NAMES = ["CONNECTING", "OPEN", "CLOSING", "CLOSED"];

/** ws's options of `send`. */
export interface ClientSendOptions {
  /** Send as binary (default: true for bytes, false for strings). */
  binary?: boolean;
  /** Compress when permessage-deflate was negotiated (default true; the threshold still applies). */
  compress?: boolean;
  /** Accepted for ws compatibility: a client always masks. */
  mask?: boolean;
  /** false: this is a piece of a message and later sends continue it, the one with `fin` true ending it. */
  fin?: boolean;
}

const ATTRIBUTES = [
  "binaryType",
  "bufferedAmount",
  "extensions",
  "isPaused",
  "protocol",
  "readyState",
  "url",
  "onopen",
  "onerror",
  "onclose",
  "onmessage",
];

/**
 * Give a host's client class ws's shape: the ready states as enumerable constants of the class and its
 * prototype, and the attributes as enumerable accessors of its prototype (as the WebIDL interface has them).
 */
export function wsClassShape(Class: abstract new (...args: never[]) => unknown): void {
  for (const [name, value] of Object.entries(ReadyState))
    for (const target of [Class, Class.prototype])
      Object.defineProperty(target, name, { value, enumerable: true, writable: false, configurable: false });
  for (const name of ATTRIBUTES) {
    let proto: object | null = Class.prototype;
    let descriptor: PropertyDescriptor | undefined;
    while (proto && !(descriptor = Object.getOwnPropertyDescriptor(proto, name)))
      proto = Object.getPrototypeOf(proto);
    if (descriptor)
      Object.defineProperty(Class.prototype, name, { ...descriptor, enumerable: true, configurable: true });
  }
}

/** process.nextTick where there is one (Node, Bun), else a microtask. */
const nextTick: (task: () => void) => void =
  typeof process !== "undefined" && typeof process.nextTick === "function"
    ? (task) => process.nextTick(task)
    : queueMicrotask;

/** A send held while reconnecting, delivered on the next open with its options and callback. */
interface QueuedSend {
  data: SendData;
  binary: boolean;
  compress: boolean | undefined;
  callback: WriteCallback | undefined;
}

/** The error ws gives for an operation in a state that does not allow it. */
function notOpen(state: number): Error {
  return new Error(`WebSocket is not open: readyState ${state} (${STATE_NAMES[state]})`);
}

/** Where a ws:// or wss:// URL says to connect. */
export interface WebSocketTarget {
  url: string;
  secure: boolean;
  /** Host to connect to (IPv6 without brackets). */
  hostname: string;
  port: number;
  /** Host header value (brackets and a non-default port kept). */
  host: string;
  /** Path and query. */
  path: string;
  /** "user:password" from the URL's userinfo (decoded), for Basic authorization. */
  auth?: string;
  /** `ws+unix:/path/to.sock:/request/path`: the Unix domain socket to connect to (ws's IPC URLs). */
  socketPath?: string;
}

/** What a host reports about the connection it dialed. */
export interface ClientLink {
  /** Where the host may read straight into engine memory (then `receiveInPlace`). */
  readonly readBuffer: Uint8Array;
  /** The upgrade request (request line and header fields), built by the engine once per connection. */
  upgradeRequest(): Uint8Array;
  /**
   * The header fields of an extended CONNECT opening the WebSocket on an HTTP/2 stream (RFC 8441), built
   * by the engine; `headers`, when given, in place of the options' (a host adding credentials).
   */
  connectRequest(headers?: Record<string, string>): HeaderField[];
  /** A host that sent the extended CONNECT reports the response's `:status` and header fields. */
  connectResponse(status: number, headers: HeaderField[]): void;
  /** TCP (and TLS) is up: the upgrade request goes out. */
  connected(): void;
  /** A host that sent the request itself (node:http) reports the 101 it got, for the "upgrade" event. */
  upgrade(response: unknown): void;
  /**
   * A host that sent the request itself handed a response other than 101 to the application
   * ('unexpected-response'): the attempt is the application's to end, and the handshake timer stops.
   */
  handedOver(): void;
  receive(bytes: Uint8Array): void;
  receiveInPlace(length: number): void;
  /** The socket can take more bytes. */
  drain(): void;
  /** The server half-closed. */
  end(): void;
  /** The socket is closed (after an error too). */
  closed(): void;
  /** A socket error (connect refused, TLS, reset); `closed` follows. */
  error(error: Error): void;
}

const encoder = new TextEncoder();

/** Parse a WebSocket URL as the WHATWG constructor does (SyntaxError DOMException when invalid). */
export function parseWebSocketUrl(input: string | URL): WebSocketTarget {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new DOMException(`Invalid URL: ${String(input)}`, "SyntaxError");
  }
  if (url.protocol === "ws+unix:") return unixTarget(url);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:")
    throw new DOMException(
      `The URL's protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"`,
      "SyntaxError",
    );
  if (url.hash) throw new DOMException("The URL contains a fragment identifier", "SyntaxError");
  const secure = url.protocol === "wss:";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return {
    url: url.href,
    secure,
    hostname,
    port: url.port ? Number(url.port) : secure ? 443 : 80,
    host: url.host,
    path: (url.pathname || "/") + url.search,
    auth:
      url.username || url.password
        ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
        : undefined,
  };
}

/** A `ws+unix:` URL, as ws reads it: the socket's path, then after a colon the request path. */
function unixTarget(url: URL): WebSocketTarget {
  if (!url.pathname) throw new DOMException("The URL's pathname is empty", "SyntaxError");
  const [socketPath, path] = (url.pathname + url.search).split(":");
  return {
    url: url.href,
    secure: false,
    hostname: "localhost",
    port: 0,
    host: "localhost",
    path: path || "/",
    socketPath: decodeURIComponent(socketPath),
  };
}

function protocolList(protocols: string | string[] | null | undefined): string[] {
  const invalid = () => new DOMException("An invalid or duplicated subprotocol was specified", "SyntaxError");
  if (protocols === null) throw invalid();
  const list = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : [...protocols];
  for (const protocol of list) if (typeof protocol !== "string" || !isToken(protocol)) throw invalid();
  if (new Set(list).size !== list.length) throw invalid();
  return list;
}

/** What a client object drives: a connection attempt's session (or a served server connection's). */
type Attempt = Pick<ClientConnection, "session" | "errorEmitted">;

/** An accepted server connection, as a client object serving it sees it. */
type Served = ServerConnection<Uint8Array, unknown>;

/** A client class (ours, or a subclass) as a server constructs it, ws's way: `new Class(null, undefined, options)`. */
export type ClientClass = new (url: null, protocols: undefined, options: object) => WebSocketCore;

/** The server connection the client constructor now running is to serve (set by `serve` around it). */
let serving: Served | null = null;

/** Whether `value` is a client class (ours or a subclass): the server's `WebSocket` option may be one. */
export function isClientClass(value: unknown): value is ClientClass {
  return typeof value === "function" && value.prototype instanceof WebSocketCore;
}

/**
 * An instance of `Class` serving the accepted connection `conn` (ws's `WebSocket` server option, where one
 * class is both ends): constructed as ws constructs it, `new Class(null, undefined, options)`, it is open at
 * once, hears the session's events and drives the session with the client's methods; the server-side logic
 * stays `conn`'s. A TypeError when `Class`'s constructor did not hand `null` on to ours.
 */
export function serve(Class: ClientClass, conn: Served, options: object): WebSocketCore {
  serving = conn;
  let client: WebSocketCore;
  try {
    client = new Class(null, undefined, options);
  } finally {
    serving = null;
  }
  if (conn.face !== client)
    throw new TypeError(
      "the WebSocket option's class must pass its constructor's arguments (null for a server's connection) to super()",
    );
  return client;
}

/**
 * A WebSocket client framed by the Wasm engine, with ws's client API (an EventEmitter: `on("message",
 * (data, isBinary) => …)`) and the WHATWG one (`addEventListener`, `onmessage`) over the same events;
 * `dial` is the host's.
 */
export abstract class WebSocketCore extends ClientEventBridge {
  // The ready states, on the class and its prototype as ws defines them (see `wsClassShape`).
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  /** The resolved URL ("" for a connection a server accepted). */
  get url(): string {
    return this.setup?.target.url ?? "";
  }
  /** The extensions the server accepted (its Sec-WebSocket-Extensions value, "" for none). */
  get extensions(): string {
    return this.negotiatedExtensions;
  }
  private binary: ClientBinaryType;
  private paused = false;
  /** Bytes sent after the connection closed: counted, as ws does, and never sent. */
  private droppedBytes = 0;
  private readonly options: ClientOptions;
  private readonly alloc: (size: number) => Uint8Array;
  private readonly reconnect: Reconnect<CloseEvent>;
  /** Sends held while reconnecting (`reconnect.queue` "queue"), null when they are refused. */
  private readonly queue: SendQueue<QueuedSend> | null;
  private negotiatedExtensions = "";
  private readonly lifecycle = new ClientLifecycle();
  /** What every connection attempt is made from (null when serving a server's connection). */
  private readonly setup: AttemptSetup | null;
  private readonly reports: AttemptReports;
  /** The current attempt (null between a close and the next attempt). */
  private connection: Attempt | null = null;
  /** The server connection this object serves (the server's `WebSocket` option), else null. */
  protected served: Served | null = null;
  private chosenProtocol = "";
  /** A refused handshake's error, not yet emitted (`refused`). */
  private pendingError: Error | null = null;

  /** `url` null: serve the connection `serve` was given (otherwise the WHATWG SyntaxError for "null"). */
  protected constructor(
    url: string | URL | null,
    protocols: string | string[] | ClientOptions | undefined,
    options: ClientOptions | undefined,
    alloc: (size: number) => Uint8Array,
    codec?: DeflateCodec,
  ) {
    super();
    // Taken by the first constructor given null (another client made meanwhile, with a URL, leaves it).
    const served = url === null ? serving : null;
    if (served) serving = null;
    if (
      protocols !== undefined &&
      protocols !== null &&
      typeof protocols === "object" &&
      !Array.isArray(protocols)
    ) {
      options = protocols as ClientOptions;
      protocols = undefined;
    }
    options ??= {};
    this.options = options;
    this.alloc = alloc;
    this.binary = options.binaryType ?? "nodebuffer";
    this.reports = this.attemptReports();
    if (served) {
      this.reconnect = new Reconnect(false);
      this.queue = null;
      this.setup = null;
      this.adopt(served);
      return;
    }
    const target = parseWebSocketUrl(url as string | URL);
    const offered = protocolList(protocols);
    // Offered by default where the host has a codec, as ws's client offers it.
    const deflate = deflateOptions(
      options.perMessageDeflate ?? (codec ? defaults.clientPerMessageDeflate : false),
    );
    if (deflate && !codec) throw new TypeError("perMessageDeflate: this host has no deflate codec");
    const reconnect = options.reconnect;
    this.reconnect = new Reconnect(reconnect, options.shouldReconnect);
    const queues = reconnect && (reconnect === true || reconnect.queue !== "reject");
    this.queue = queues ? new SendQueue(options.maxQueued ?? defaults.maxQueued) : null;
    this.setup = {
      target,
      options,
      protocols: offered,
      deflate,
      codec: codec ?? null,
      pool: options.pool ?? sharedPool(),
      alloc,
    };
    this.connect();
  }

  /** Serve a connection a server accepted: open at once, never dialed, never reconnected. */
  private adopt(conn: Served): void {
    this.served = conn;
    this.connection = { session: conn.session, errorEmitted: false };
    this.chosenProtocol = conn.protocol;
    this.negotiatedExtensions = conn.extensions;
    this.lifecycle.apply("serve");
    conn.serveThrough(this, this.reports);
  }

  /** What each attempt reports: lifecycle events are applied, session events passed on as ws's events. */
  private attemptReports(): AttemptReports {
    return {
      socketOpen: () => void this.lifecycle.apply("socketOpen"),
      upgrade: (response) => this.emit("upgrade", response),
      accepted: (protocol, extensions) => this.accepted(protocol, extensions),
      refused: (error, destroyed) => this.refused(error, destroyed),
      message: (data, isBinary) => {
        this.lifecycle.apply("frame");
        this.emit("message", isBinary ? this.binaryData(data) : data, isBinary);
      },
      fragment: (data, isBinary, first, last) => {
        this.lifecycle.apply("frame");
        this.emit("fragment", isBinary ? (this.binaryData(data) as Uint8Array) : data, isBinary, first, last);
      },
      ping: (data) => {
        this.lifecycle.apply("frame");
        this.emit("ping", data);
      },
      pong: (data) => {
        this.lifecycle.apply("frame");
        this.emit("pong", data);
      },
      closing: () => void this.lifecycle.apply("closeFrame"),
      error: (error) => this.emitError(error),
      drain: () => this.emit("drain"),
      end: (code, reason, wasClean) => this.ended(code, reason, wasClean),
    };
  }

  /** @internal The current attempt's session. */
  protected get session(): Session | null {
    return this.connection?.session ?? null;
  }

  /**
   * Open a TCP (or, for `target.secure`, TLS) connection and report its events to `link`, never
   * synchronously from inside this call.
   */
  protected abstract dial(target: WebSocketTarget, options: ClientOptions, link: ClientLink): SessionSocket;

  /** CONNECTING, OPEN, CLOSING or CLOSED (CONNECTING again while reconnecting). */
  get readyState(): number {
    return this.lifecycle.readyState;
  }

  /** The subprotocol the server chose ("" for none). */
  get protocol(): string {
    return this.chosenProtocol;
  }

  /**
   * Bytes queued and not yet handed to the kernel (this tick's sends are handed to the socket first), plus
   * queued messages while reconnecting.
   */
  get bufferedAmount(): number {
    return (this.session?.bufferedAmountNow ?? 0) + (this.queue?.bytes ?? 0) + this.droppedBytes;
  }

  /** How binary messages are delivered: "nodebuffer" (default), "arraybuffer", "fragments" or "blob". */
  get binaryType(): ClientBinaryType {
    return this.binary;
  }
  set binaryType(type: ClientBinaryType) {
    if (BINARY_TYPES.includes(type)) this.binary = type;
  }

  /** Reading is paused (`pause()`). */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Stop reading from the socket (TCP backpressure to the server) until `resume()`. */
  pause(): void {
    const state = this.lifecycle.readyState;
    if (state === ReadyState.CONNECTING || state === ReadyState.CLOSED) return;
    this.paused = true;
    this.session?.pause();
  }

  /** Read from the socket again after `pause()`. */
  resume(): void {
    const state = this.lifecycle.readyState;
    if (state === ReadyState.CONNECTING || state === ReadyState.CLOSED) return;
    this.paused = false;
    this.session?.resume();
  }

  /**
   * Send text (string) or binary (bytes, or a Blob: read first, and later sends wait for it) data,
   * fragmented at `maxFragmentSize`; `callback` runs once the bytes are written (or with the error).
   */
  send(
    message?: WsMessageData | number,
    options?: ClientSendOptions | WriteCallback,
    callback?: WriteCallback,
  ): void {
    if (typeof options === "function") {
      callback = options;
      options = undefined;
    }
    // ws: a number is sent as its text; no data is an empty binary message; a list of chunks is one message.
    const data = typeof message === "number" ? String(message) : joinChunks(message ?? new Uint8Array(0));
    const binary = options?.binary ?? typeof data !== "string";
    const state = this.lifecycle.readyState;
    if (state === ReadyState.CONNECTING) {
      if (!this.queue) throw notOpen(state);
      // A copy: Buffer.slice would be a view of bytes the caller may reuse before the reconnect.
      const held = typeof data === "string" || isBlob(data) ? data : new Uint8Array(controlBytes(data));
      return this.queue.push({ data: held, binary, compress: options?.compress, callback }, byteSize(held));
    }
    if (state !== ReadyState.OPEN || !this.session) return this.sendAfterClose(data, callback);
    const fragmentSize = this.options.maxFragmentSize ?? defaults.maxFragmentSize;
    this.session.send(data, binary, fragmentSize, callback, options?.compress, options?.fin);
  }

  /** Send a ping (up to 125 bytes); the "pong" event reports the reply. ws's `mask` argument is ignored. */
  ping(
    data?: ControlData | number | WriteCallback,
    mask?: boolean | WriteCallback,
    callback?: WriteCallback,
  ): void {
    this.control("ping", data, mask, callback);
  }

  /** Send an unsolicited pong (up to 125 bytes). */
  pong(
    data?: ControlData | number | WriteCallback,
    mask?: boolean | WriteCallback,
    callback?: WriteCallback,
  ): void {
    this.control("pong", data, mask, callback);
  }

  private control(
    kind: "ping" | "pong",
    data: ControlData | Blob | number | WriteCallback | undefined,
    mask: boolean | WriteCallback | undefined,
    callback: WriteCallback | undefined,
  ): void {
    if (this.lifecycle.readyState === ReadyState.CONNECTING) throw notOpen(ReadyState.CONNECTING);
    if (typeof data === "function") {
      callback = data;
      data = undefined;
    } else if (typeof mask === "function") callback = mask;
    if (typeof data === "number") data = String(data);
    // Once closing, only counted (as ws does), whatever the data.
    if (this.lifecycle.readyState !== ReadyState.OPEN || !this.session)
      return this.sendAfterClose(data, callback);
    if (isBlob(data)) throw new TypeError(`${kind}() takes a string, an ArrayBuffer or an ArrayBufferView`);
    const bytes = controlBytes(data);
    if (controlError(bytes.length) !== 0)
      throw new RangeError(`The data size must not be greater than ${MAX_CONTROL_PAYLOAD} bytes`);
    if (kind === "ping") this.session.ping(bytes, callback);
    else this.session.pong(bytes, callback);
  }

  /** As ws: data sent once closing or closed counts in bufferedAmount, and its callback gets an error. */
  private sendAfterClose(data: SendData | undefined, callback?: WriteCallback): void {
    if (data !== undefined) this.droppedBytes += byteSize(data);
    if (callback) {
      const error = notOpen(this.lifecycle.readyState);
      queueMicrotask(() => callback(error));
    }
  }

  /** Close with an optional code (RFC 6455 §7.4, ws's rule) and reason (at most 123 UTF-8 bytes); ends reconnecting. */
  close(code?: number, reason?: string | Uint8Array): void {
    const reasonText = typeof reason === "string" || reason === undefined ? reason : utf8.decode(reason);
    // The engine judges code and reason (a reason alone goes out with 1000, below), as its writer will.
    const error =
      code !== undefined && typeof code !== "number"
        ? CallError.InvalidCloseCode
        : closeError(code ?? (reasonText ? CloseCode.Normal : undefined), reasonText ?? "");
    if (error === CallError.InvalidCloseCode)
      throw new TypeError("First argument must be a valid error code number");
    if (error !== 0) throw new RangeError(`The message must not be greater than ${MAX_CLOSE_REASON} bytes`);
    const { state } = this.lifecycle;
    this.lifecycle.apply("userClose");
    this.dropQueued();
    switch (state) {
      case "waiting":
        return this.stopWaiting();
      case "connecting": {
        // As ws: the handshake aborted, its socket destroyed before the error is emitted.
        const connection = this.connection;
        connection?.session.terminate();
        return this.emitError(
          new Error("WebSocket was closed before the connection was established"),
          connection,
        );
      }
      case "open":
        return this.session!.close(code ?? (reasonText ? CloseCode.Normal : undefined), reasonText ?? "");
    }
  }

  /**
   * Destroy the connection now, without a close handshake (no reconnect follows); CLOSING until the socket
   * has closed. While connecting, as `close()`: the handshake is aborted with ws's error.
   */
  terminate(): void {
    const state = this.lifecycle.state;
    if (state === "connecting") return this.close();
    this.lifecycle.apply("userTerminate");
    if (state === "waiting") {
      this.dropQueued();
      return this.stopWaiting();
    }
    this.session?.terminateAfterSends();
  }

  /**
   * Drop the sends held while reconnecting (the client closed or finished): each callback gets an error, a
   * microtask later as for a send after close, since none of their bytes was written.
   */
  private dropQueued(): void {
    const callbacks = (this.queue?.take() ?? []).flatMap((item) => (item.callback ? [item.callback] : []));
    if (callbacks.length === 0) return;
    const error = new Error("WebSocket closed before a message held while reconnecting was sent");
    queueMicrotask(() => {
      for (const callback of callbacks) callback(error);
    });
  }

  /** Closed or terminated while waiting to reconnect: the retry is cancelled and the client finishes. */
  private stopWaiting(): void {
    this.reconnect.cancel();
    this.finish("closed");
  }

  /** Called once the attempt's session exists, right after `dial`: a host may start its request here. */
  protected dialed(_socket: SessionSocket): void {}

  /** A host followed a redirect: `url`, and later reconnects, are the new location's. */
  protected moved(target: WebSocketTarget): void {
    this.setup!.target = target;
  }

  /** The 'error' event, once per connection attempt (the first cause, as ws's). */
  private emitError(error: Error, connection: Attempt | null = this.connection): void {
    if (connection) {
      if (connection.errorEmitted) return;
      connection.errorEmitted = true;
    }
    this.emit("error", error);
  }

  /** Start a connection attempt (the first, or a retry when the reconnect timer fires). */
  private connect(): void {
    const setup = this.setup!;
    this.lifecycle.apply("dial");
    this.negotiatedExtensions = "";
    const attempt = this.reconnect.attempt;
    queueMicrotask(() => this.emit("connecting", { attempt }));
    const connection = new ClientConnection(setup, this.reports, (link) =>
      this.dial(setup.target, this.options, link),
    );
    this.connection = connection;
    this.dialed(connection.socket);
  }

  /** Binary message bytes as `binaryType` asks. */
  private binaryData(data: Uint8Array): MessageData {
    switch (this.binary) {
      case "arraybuffer":
        return toArrayBuffer(data);
      case "fragments":
        return [data];
      case "blob":
        return new Blob([data as Uint8Array<ArrayBuffer>]);
      default:
        return data;
    }
  }

  /** The 101 was accepted: open, unless the application asked to stop meanwhile (then close at once). */
  private accepted(protocol: string, extensions: string): void {
    this.chosenProtocol = protocol;
    this.negotiatedExtensions = extensions;
    this.reconnect.opened();
    this.lifecycle.apply("accepted");
    const session = this.session!;
    if (this.lifecycle.stopRequested) {
      this.lifecycle.apply("userClose");
      return session.close(CloseCode.Normal, "");
    }
    if (this.paused) session.pause();
    this.emit("open");
    if (!this.queue) return;
    const fragmentSize = this.options.maxFragmentSize ?? defaults.maxFragmentSize;
    for (const item of this.queue.take())
      this.session?.send(item.data, item.binary, fragmentSize, item.callback, item.compress);
  }

  /**
   * The opening handshake failed: the application hears of it, unless it stopped the client itself. The
   * lifecycle is "failing" (CLOSING) at once. When the attempt destroyed its socket (a refused or invalid
   * 101, the timeout), the error comes a tick later as ws's does (code run right after the 'upgrade' event
   * sees the CLOSING connection first), and always before 'close'; an error listener that throws then
   * leaves no connection behind.
   */
  private refused(error: Error, destroyed: boolean): void {
    const reported = this.lifecycle.state === "connecting" && !this.lifecycle.stopRequested;
    this.lifecycle.apply("refused");
    if (!reported) return;
    if (!destroyed) return this.emitError(error);
    this.pendingError = error;
    nextTick(() => this.flushError());
  }

  /** Emit a deferred handshake error: a tick later, or before 'close' if the socket closed sooner (Bun). */
  private flushError(): void {
    const error = this.pendingError;
    if (!error) return;
    this.pendingError = null;
    this.emitError(error);
  }

  /** A connection ended: report it, then reconnect or finish as the policy says. */
  private ended(code: number, reason: string, wasClean: boolean): void {
    this.flushError();
    this.connection = null;
    this.lifecycle.apply("socketClosed");
    this.wasClean = wasClean;
    const reasonBytes = encoder.encode(reason);
    const reasonData = this.alloc(reasonBytes.length);
    reasonData.set(reasonBytes);
    this.emit("close", code, reasonData);
    const event = new CloseEvent("close", { code, reason, wasClean });
    const decision = this.reconnect.decide(event, this.lifecycle.stopRequested);
    if (!decision.retry) return this.finish(decision.reason);
    this.lifecycle.apply("retry");
    // Set before the event: a "reconnecting" listener that closes the client cancels it.
    this.reconnect.schedule(decision.delay, () => this.connect());
    this.emit("reconnecting", { attempt: decision.attempt, delay: decision.delay });
  }

  /** No more connections (the lifecycle is in "closed"). */
  private finish(reason: FinishDetail["reason"]): void {
    this.lifecycle.apply("finish");
    this.dropQueued();
    this.emit("finish", { reason });
  }
}
