// The runtime-neutral client: the WHATWG WebSocket surface, URL parsing, the handshake by the engine,
// reconnect (bindings/policies/backoff.ts), queueing while reconnecting, heartbeat, and lifecycle events like
// esp_websocket_client's (connecting, open, reconnecting, close, finish). A host supplies `dial`: open a
// TCP or TLS connection and report its events to the `ClientLink` it is given.
import { backoffDelay, type BackoffOptions } from "../policies/backoff.js";
import { Role } from "../protocol/connection.js";
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
import {
  acceptDeflateResponse,
  buildDeflateOffer,
  deflateOptions,
  type PerMessageDeflateOptions,
} from "../protocol/extensions.js";
import { buildUpgradeRequest, parseUpgradeResponse } from "../protocol/handshake.js";
import { PerMessageDeflate, type DeflateCodec } from "../protocol/permessage-deflate.js";
import { heartbeatOptions, type HeartbeatOptions } from "../policies/heartbeat.js";
import { sharedPool, type EnginePool } from "../engine/pool.js";
import {
  ReadyState,
  Session,
  byteSize,
  controlBytes,
  sessionLimits,
  toArrayBuffer,
  type ControlData,
  type SendData,
  type SessionSocket,
  type WriteCallback,
} from "../protocol/session.js";

export type { ConnectingDetail, FinishDetail, ReconnectingDetail, MessageData };

/** Reconnect policy: backoff plus what happens to messages sent while reconnecting. */
export interface ReconnectOptions extends BackoffOptions {
  /** "queue" (default): hold sends and deliver them on open; "reject": throw InvalidStateError. */
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
  /** Offer permessage-deflate (RFC 7692): off by default; `true` or options (docs/DEFLATE.md). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
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

// ws's words for a refused opening handshake, by the engine's rule names (the same checks, one message each).
const HANDSHAKE_MESSAGES: Record<string, string> = {
  UpgradeMissing: "Invalid Upgrade header",
  ConnectionMissing: "Invalid Connection header",
  AcceptMissing: "Missing Sec-WebSocket-Accept header",
  AcceptMismatch: "Invalid Sec-WebSocket-Accept header",
  ProtocolNotOffered: "Server sent an invalid subprotocol",
  ProtocolMissing: "Server sent no subprotocol",
  ExtensionNotOffered: "Server sent a Sec-WebSocket-Extensions header but no extension was requested",
};

/** The error message of a refused handshake: ws's, where ws has one. */
function handshakeMessage(response: { status: number; reason: string; message: string }): string {
  if (response.status > 0) return `Unexpected server response: ${response.status}`;
  return HANDSHAKE_MESSAGES[response.reason] ?? `handshake failed: ${response.message}`;
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
  /** TCP (and TLS) is up: the upgrade request goes out. */
  connected(): void;
  /** A host that sent the request itself (node:http) reports the 101 it got, for the "upgrade" event. */
  upgrade(response: unknown): void;
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
const DEFAULT_MAX_PAYLOAD = defaults.maxPayload;

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

  /** The resolved URL. */
  get url(): string {
    return this.target.url;
  }
  /** The extensions the server accepted (its Sec-WebSocket-Extensions value, "" for none). */
  get extensions(): string {
    return this.negotiatedExtensions;
  }
  private binary: ClientBinaryType;
  private paused = false;
  /** Bytes sent after the connection closed: counted, as ws does, and never sent. */
  private droppedBytes = 0;
  private readonly target: WebSocketTarget;
  private readonly protocols: string[];
  private readonly options: ClientOptions;
  private readonly pool: EnginePool;
  private readonly alloc: (size: number) => Uint8Array;
  private readonly reconnectPolicy: ReconnectOptions | null;
  private readonly deflate: PerMessageDeflateOptions | null;
  private readonly codec: DeflateCodec | null;
  private negotiatedExtensions = "";
  private session: Session | null = null;
  private state: number = ReadyState.CONNECTING;
  private chosenProtocol = "";
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private closeRequested = false;
  private finished = false;
  private queue: Array<{ data: SendData; binary: boolean }> = [];

  protected constructor(
    url: string | URL,
    protocols: string | string[] | ClientOptions | undefined,
    options: ClientOptions | undefined,
    alloc: (size: number) => Uint8Array,
    codec?: DeflateCodec,
  ) {
    super();
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
    this.target = parseWebSocketUrl(url);
    this.protocols = protocolList(protocols);
    this.options = options;
    this.alloc = alloc;
    this.pool = options.pool ?? sharedPool();
    this.binary = options.binaryType ?? "nodebuffer";
    this.deflate = deflateOptions(options.perMessageDeflate);
    this.codec = codec ?? null;
    if (this.deflate && !this.codec) throw new TypeError("perMessageDeflate: this host has no deflate codec");
    const reconnect = options.reconnect;
    this.reconnectPolicy = reconnect ? (reconnect === true ? {} : reconnect) : null;
    this.connect();
  }

  /**
   * Open a TCP (or, for `target.secure`, TLS) connection and report its events to `link`, never
   * synchronously from inside this call.
   */
  protected abstract dial(target: WebSocketTarget, options: ClientOptions, link: ClientLink): SessionSocket;

  /** CONNECTING, OPEN, CLOSING or CLOSED (CONNECTING again while reconnecting). */
  get readyState(): number {
    return this.state;
  }

  /** The subprotocol the server chose ("" for none). */
  get protocol(): string {
    return this.chosenProtocol;
  }

  /** Bytes queued and not yet handed to the kernel (plus queued messages while reconnecting). */
  get bufferedAmount(): number {
    let queued = 0;
    for (const item of this.queue) queued += byteSize(item.data);
    return (this.session?.bufferedAmount ?? 0) + queued + this.droppedBytes;
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
    if (this.state === ReadyState.CONNECTING || this.state === ReadyState.CLOSED) return;
    this.paused = true;
    this.session?.pause();
  }

  /** Read from the socket again after `pause()`. */
  resume(): void {
    if (this.state === ReadyState.CONNECTING || this.state === ReadyState.CLOSED) return;
    this.paused = false;
    this.session?.resume();
  }

  /**
   * Send text (string) or binary (bytes, or a Blob: read first, and later sends wait for it) data,
   * fragmented at `maxFragmentSize`; `callback` runs once the bytes are written (or with the error).
   */
  send(data: SendData | number, options?: ClientSendOptions | WriteCallback, callback?: WriteCallback): void {
    if (typeof options === "function") {
      callback = options;
      options = undefined;
    }
    if (typeof data === "number") data = String(data);
    const binary = options?.binary ?? typeof data !== "string";
    if (this.state === ReadyState.CONNECTING) {
      const policy = this.reconnectPolicy;
      if (!policy || policy.queue === "reject") throw notOpen(this.state);
      if (this.queue.length >= (this.options.maxQueued ?? defaults.maxQueued))
        throw new RangeError(
          `more than maxQueued (${this.options.maxQueued ?? defaults.maxQueued}) messages while reconnecting`,
        );
      // A copy: Buffer.slice would be a view of bytes the caller may reuse before the reconnect.
      const held = typeof data === "string" || isBlob(data) ? data : new Uint8Array(controlBytes(data));
      this.queue.push({ data: held, binary });
      return;
    }
    if (this.state !== ReadyState.OPEN || !this.session) return this.sendAfterClose(data, callback);
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
    data: ControlData | number | WriteCallback | undefined,
    mask: boolean | WriteCallback | undefined,
    callback: WriteCallback | undefined,
  ): void {
    if (this.state === ReadyState.CONNECTING) throw notOpen(this.state);
    if (typeof data === "function") {
      callback = data;
      data = undefined;
    } else if (typeof mask === "function") callback = mask;
    if (typeof data === "number") data = String(data);
    const bytes = controlBytes(data);
    if (controlError(bytes.length) !== 0)
      throw new RangeError(`The data size must not be greater than ${MAX_CONTROL_PAYLOAD} bytes`);
    if (this.state !== ReadyState.OPEN || !this.session) return this.sendAfterClose(bytes, callback);
    if (kind === "ping") this.session.ping(bytes, callback);
    else this.session.pong(bytes, callback);
  }

  /** As ws: data sent once closing or closed counts in bufferedAmount, and its callback gets an error. */
  private sendAfterClose(data: SendData | undefined, callback?: WriteCallback): void {
    if (data !== undefined) this.droppedBytes += byteSize(data);
    if (callback) {
      const error = notOpen(this.state);
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
    this.closeRequested = true;
    this.queue = [];
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.state = ReadyState.CLOSED;
      return this.finish("closed");
    }
    if (this.state === ReadyState.CLOSING || this.state === ReadyState.CLOSED) return;
    if (!this.session || this.session.readyState === ReadyState.CONNECTING) {
      this.state = ReadyState.CLOSING;
      this.emit("error", new Error("WebSocket was closed before the connection was established"));
      this.session?.terminate();
      return;
    }
    this.state = ReadyState.CLOSING;
    this.session.close(code ?? (reasonText ? CloseCode.Normal : undefined), reasonText ?? "");
  }

  /** Destroy the connection now, without a close handshake (no reconnect follows). */
  terminate(): void {
    this.closeRequested = true;
    if (this.retryTimer !== undefined) return this.close();
    this.session?.terminate();
  }

  private connect(): void {
    this.state = ReadyState.CONNECTING;
    this.negotiatedExtensions = "";
    const attempt = this.attempt;
    queueMicrotask(() => this.emit("connecting", { attempt }));
    const { target, options } = this;
    const handle = this.pool.acquire();
    let handshaking = true;
    let reported = false;
    const handshakeError = (error: Error): void => {
      reported = true;
      this.emit("error", error);
    };
    let head = new Uint8Array(0);
    let request: Uint8Array | undefined;
    const onResponse = (chunk: Uint8Array): void => {
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      head = joined;
      const response = parseUpgradeResponse(handle.engine, handle.slot, head, this.protocols, {
        maxHeaderBytes: options.maxHeaderSize ?? defaults.maxHeaderSize,
        extensionsOffered: this.deflate !== null,
      });
      if (!response) return;
      clearTimeout(timer);
      handshaking = false;
      if (!response.ok) return this.failHandshake(session, new Error(handshakeMessage(response)));
      if (this.deflate) {
        let negotiated;
        try {
          negotiated = acceptDeflateResponse(response.extensions, this.deflate);
        } catch (error) {
          return this.failHandshake(session, error as Error);
        }
        if (negotiated) {
          const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
          session.wire.useDeflate(
            new PerMessageDeflate(negotiated.session, this.codec!, { ...this.deflate, maxPayload }),
          );
          this.negotiatedExtensions = response.extensions;
        }
      }
      this.chosenProtocol = response.protocol;
      session.start();
      this.opened();
      // Frames that came in the same read as the 101 follow the open event.
      const early = head.subarray(response.headEnd);
      if (early.length > 0) session.receive(early);
    };
    const link: ClientLink = {
      get readBuffer() {
        return session.readBuffer;
      },
      upgradeRequest: () =>
        (request ??= buildUpgradeRequest(handle.engine, handle.slot, {
          host: target.host,
          path: target.path,
          protocols: this.protocols,
          headers: {
            ...(this.deflate ? { "Sec-WebSocket-Extensions": buildDeflateOffer(this.deflate) } : {}),
            ...(options.origin ? { Origin: options.origin } : {}),
            ...options.headers,
          },
        })),
      connected: () => session.writeRaw(link.upgradeRequest()),
      upgrade: (response) => this.emit("upgrade", response),
      receive: (bytes) => (handshaking ? onResponse(bytes) : session.receive(bytes)),
      receiveInPlace: (length) =>
        handshaking ? onResponse(session.readBuffer.subarray(0, length)) : session.receiveInPlace(length),
      drain: () => session.onDrain(),
      end: () => session.onEnd(),
      closed: () => {
        clearTimeout(timer);
        // The server hung up before its 101 was complete: that fails the connection too (WHATWG), once.
        if (handshaking && !reported && !this.closeRequested)
          handshakeError(new Error("connection closed before the opening handshake completed"));
        session.onClose();
      },
      error: (error) => {
        if (handshaking) handshakeError(error);
      },
    };
    const socket = this.dial(target, options, link);
    const session: Session = new Session(
      socket,
      this.pool,
      handle,
      {
        role: Role.Client,
        maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        fragments: options.fragments ?? "message",
        heartbeat: heartbeatOptions(options.heartbeat, defaults.clientHeartbeat),
        ...sessionLimits(options),
      },
      {
        message: (data, isBinary) => this.emit("message", isBinary ? this.binaryData(data) : data, isBinary),
        fragment: (data, isBinary, first, last) =>
          this.emit(
            "fragment",
            isBinary ? (this.binaryData(data) as Uint8Array) : data,
            isBinary,
            first,
            last,
          ),
        ping: (data) => this.emit("ping", data),
        pong: (data) => this.emit("pong", data),
        closing: () => {
          this.state = ReadyState.CLOSING;
        },
        error: (error) => this.emit("error", error),
        drain: () => this.emit("drain"),
        end: (code, reason, wasClean) => this.disconnected(code, reason, wasClean),
      },
      this.alloc,
    );
    this.session = session;
    const timer = setTimeout(() => {
      reported = true;
      this.failHandshake(session, new Error("Opening handshake has timed out"));
    }, options.handshakeTimeout ?? defaults.handshakeTimeout);
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

  private failHandshake(session: Session, error: Error): void {
    if (session.readyState !== ReadyState.CONNECTING) return;
    this.emit("error", error);
    session.terminate();
  }

  private opened(): void {
    this.attempt = 0;
    if (this.closeRequested) return this.session?.close(CloseCode.Normal, "");
    this.state = ReadyState.OPEN;
    if (this.paused) this.session?.pause();
    this.emit("open");
    const queued = this.queue;
    this.queue = [];
    for (const item of queued)
      this.session?.send(item.data, item.binary, this.options.maxFragmentSize ?? defaults.maxFragmentSize);
  }

  private disconnected(code: number, reason: string, wasClean: boolean): void {
    this.session = null;
    this.state = ReadyState.CLOSED;
    this.wasClean = wasClean;
    const reasonBytes = encoder.encode(reason);
    const reasonData = this.alloc(reasonBytes.length);
    reasonData.set(reasonBytes);
    this.emit("close", code, reasonData);
    const event = new CloseEvent("close", { code, reason, wasClean });
    const policy = this.reconnectPolicy;
    if (this.closeRequested || !policy) return this.finish(this.closeRequested ? "closed" : "no-reconnect");
    if (this.options.shouldReconnect && !this.options.shouldReconnect(event))
      return this.finish("no-reconnect");
    const delay = backoffDelay(this.attempt, policy);
    if (delay < 0) return this.finish("retries");
    this.attempt++;
    this.state = ReadyState.CONNECTING;
    this.emit("reconnecting", { attempt: this.attempt, delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }

  private finish(reason: FinishDetail["reason"]): void {
    if (this.finished) return;
    this.finished = true;
    this.queue = [];
    this.emit("finish", { reason });
  }
}
