// The runtime-neutral client: the WHATWG WebSocket surface, URL parsing, the handshake by the engine,
// reconnect (bindings/backoff.ts), queueing while reconnecting, heartbeat, and lifecycle events like
// esp_websocket_client's (connecting, open, reconnecting, close, finish). A host supplies `dial`: open a
// TCP or TLS connection and report its events to the `ClientLink` it is given.
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { Role } from "./connection.js";
import { CloseCode } from "./errors.js";
import { CloseEvent, ErrorEvent, FragmentEvent } from "./events.js";
import { isBlob } from "./blob-sends.js";
import { utf8, utf8Decoder } from "./text.js";
import {
  acceptDeflateResponse,
  buildDeflateOffer,
  deflateOptions,
  type PerMessageDeflateOptions,
} from "./extensions.js";
import { buildUpgradeRequest, parseUpgradeResponse } from "./handshake.js";
import { PerMessageDeflate, type DeflateCodec } from "./permessage-deflate.js";
import { heartbeatOptions, type HeartbeatOptions } from "./heartbeat.js";
import { sharedPool, type EnginePool } from "./pool.js";
import {
  ReadyState,
  Session,
  controlBytes,
  sessionLimits,
  toArrayBuffer,
  type ControlData,
  type SendData,
  type SessionSocket,
} from "./session.js";

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

/** How binary messages arrive in `MessageEvent.data`: the host's byte type or an ArrayBuffer. */
export type ClientBinaryType = "nodebuffer" | "arraybuffer";

/** Detail of "connecting": 0 for the first connection, then the retry number. */
export interface ConnectingDetail {
  attempt: number;
}
/** Detail of "reconnecting": the retry about to be made (1-based) and the ms until it starts. */
export interface ReconnectingDetail {
  attempt: number;
  delay: number;
}
/** Detail of "finish": why the client makes no more connections. */
export interface FinishDetail {
  reason: "closed" | "retries" | "no-reconnect";
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
}

/** What a host reports about the connection it dialed. */
export interface ClientLink {
  /** Where the host may read straight into engine memory (then `receiveInPlace`). */
  readonly readBuffer: Uint8Array;
  /** TCP (and TLS) is up: the upgrade request goes out. */
  connected(): void;
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

type Listener = ((event: Event) => unknown) | null;

const encoder = new TextEncoder();
const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parse a WebSocket URL as the WHATWG constructor does (SyntaxError DOMException when invalid). */
export function parseWebSocketUrl(input: string | URL): WebSocketTarget {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new DOMException(`invalid URL: ${String(input)}`, "SyntaxError");
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:")
    throw new DOMException(`URL scheme must be ws: or wss:, not ${url.protocol}`, "SyntaxError");
  if (url.hash) throw new DOMException("a WebSocket URL cannot have a fragment", "SyntaxError");
  const secure = url.protocol === "wss:";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return {
    url: url.href,
    secure,
    hostname,
    port: url.port ? Number(url.port) : secure ? 443 : 80,
    host: url.host,
    path: (url.pathname || "/") + url.search,
  };
}

function protocolList(protocols: string | string[] | undefined): string[] {
  const list = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : [...protocols];
  for (const protocol of list)
    if (!TOKEN.test(protocol))
      throw new DOMException(`invalid subprotocol ${JSON.stringify(protocol)}`, "SyntaxError");
  if (new Set(list).size !== list.length) throw new DOMException("duplicate subprotocol", "SyntaxError");
  return list;
}

/** A WHATWG WebSocket client framed by the Wasm engine; `dial` is the host's. */
export abstract class WebSocketCore extends EventTarget {
  static readonly CONNECTING = ReadyState.CONNECTING;
  static readonly OPEN = ReadyState.OPEN;
  static readonly CLOSING = ReadyState.CLOSING;
  static readonly CLOSED = ReadyState.CLOSED;
  readonly CONNECTING = ReadyState.CONNECTING;
  readonly OPEN = ReadyState.OPEN;
  readonly CLOSING = ReadyState.CLOSING;
  readonly CLOSED = ReadyState.CLOSED;

  /** The resolved URL. */
  readonly url: string;
  /** The extensions the server accepted (its Sec-WebSocket-Extensions value, "" for none). */
  get extensions(): string {
    return this.negotiatedExtensions;
  }
  /** How binary messages are delivered. */
  binaryType: ClientBinaryType;
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
  private handlers = new Map<string, { handler: Listener; listener: (event: Event) => void }>();

  protected constructor(
    url: string | URL,
    protocols: string | string[] | undefined,
    options: ClientOptions,
    alloc: (size: number) => Uint8Array,
    codec?: DeflateCodec,
  ) {
    super();
    this.target = parseWebSocketUrl(url);
    this.url = this.target.url;
    this.protocols = protocolList(protocols);
    this.options = options;
    this.alloc = alloc;
    this.pool = options.pool ?? sharedPool();
    this.binaryType = options.binaryType ?? "nodebuffer";
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
    for (const item of this.queue)
      queued +=
        typeof item.data === "string"
          ? encoder.encode(item.data).length
          : isBlob(item.data)
            ? item.data.size
            : item.data.byteLength;
    return (this.session?.bufferedAmount ?? 0) + queued;
  }

  get onopen(): Listener {
    return this.handlers.get("open")?.handler ?? null;
  }
  set onopen(handler: Listener) {
    this.setHandler("open", handler);
  }
  get onmessage(): Listener {
    return this.handlers.get("message")?.handler ?? null;
  }
  set onmessage(handler: Listener) {
    this.setHandler("message", handler);
  }
  get onerror(): Listener {
    return this.handlers.get("error")?.handler ?? null;
  }
  set onerror(handler: Listener) {
    this.setHandler("error", handler);
  }
  get onclose(): Listener {
    return this.handlers.get("close")?.handler ?? null;
  }
  set onclose(handler: Listener) {
    this.setHandler("close", handler);
  }

  /**
   * Send text (string) or binary (bytes, or a Blob: read first, and later sends wait for it) data;
   * fragmented at `maxFragmentSize`.
   */
  send(data: SendData): void {
    const binary = typeof data !== "string";
    if (this.state === ReadyState.CONNECTING) {
      const policy = this.reconnectPolicy;
      if (!policy || policy.queue === "reject")
        throw new DOMException("WebSocket is not open (CONNECTING)", "InvalidStateError");
      if (this.queue.length >= (this.options.maxQueued ?? 1024))
        throw new RangeError(
          `more than maxQueued (${this.options.maxQueued ?? 1024}) messages while reconnecting`,
        );
      // A copy: Buffer.slice would be a view of bytes the caller may reuse before the reconnect.
      const held = !binary || isBlob(data) ? data : new Uint8Array(controlBytes(data));
      this.queue.push({ data: held, binary });
      return;
    }
    if (this.state !== ReadyState.OPEN || !this.session) return;
    this.session.send(data, binary, this.options.maxFragmentSize ?? 0);
  }

  /** Send a ping (up to 125 bytes); the "pong" event reports the reply. */
  ping(data?: ControlData): void {
    if (this.state === ReadyState.OPEN) this.session?.ping(controlBytes(data));
  }

  /** Close with an optional code (1000 or 3000-4999) and reason (at most 123 UTF-8 bytes); ends reconnecting. */
  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== CloseCode.Normal && !(code >= 3000 && code <= 4999))
      throw new DOMException(`close code must be 1000 or 3000-4999, got ${code}`, "InvalidAccessError");
    if (reason !== undefined && encoder.encode(reason).length > 123)
      throw new DOMException("close reason must be at most 123 UTF-8 bytes", "SyntaxError");
    this.closeRequested = true;
    this.queue = [];
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.state = ReadyState.CLOSED;
      return this.finish("closed");
    }
    if (this.state === ReadyState.CLOSING || this.state === ReadyState.CLOSED) return;
    this.state = ReadyState.CLOSING;
    if (!this.session || this.session.readyState === ReadyState.CONNECTING) {
      this.session?.terminate();
      return;
    }
    this.session.close(code ?? (reason ? CloseCode.Normal : undefined), reason ?? "");
  }

  /** Destroy the connection now, without a close handshake (no reconnect follows). */
  terminate(): void {
    this.closeRequested = true;
    if (this.retryTimer !== undefined) return this.close();
    this.session?.terminate();
  }

  private setHandler(type: string, handler: Listener): void {
    let entry = this.handlers.get(type);
    if (!entry) {
      const created = { handler, listener: (event: Event) => created.handler?.call(this, event) };
      entry = created;
      this.handlers.set(type, entry);
      this.addEventListener(type, entry.listener);
    }
    entry.handler = typeof handler === "function" ? handler : null;
  }

  private connect(): void {
    this.state = ReadyState.CONNECTING;
    this.negotiatedExtensions = "";
    const attempt = this.attempt;
    queueMicrotask(() => this.dispatchEvent(new CustomEvent("connecting", { detail: { attempt } })));
    const { target, options } = this;
    const handle = this.pool.acquire();
    let handshaking = true;
    let reported = false;
    const handshakeError = (error: Error): void => {
      reported = true;
      this.dispatchEvent(new ErrorEvent("error", { error, message: error.message }));
    };
    // fragments: "stream": text chunks are decoded as they come (a chunk may end inside a character).
    let textChunks: TextDecoder | null = null;
    let head = new Uint8Array(0);
    const onResponse = (chunk: Uint8Array): void => {
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      head = joined;
      const response = parseUpgradeResponse(handle.engine, handle.slot, head, this.protocols, {
        maxHeaderBytes: options.maxHeaderSize ?? 16 * 1024,
        extensionsOffered: this.deflate !== null,
      });
      if (!response) return;
      clearTimeout(timer);
      handshaking = false;
      if (!response.ok)
        return this.failHandshake(session, new Error(`handshake failed: ${response.message}`));
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
      connected: () => {
        const request = buildUpgradeRequest(handle.engine, handle.slot, {
          host: target.host,
          path: target.path,
          protocols: this.protocols,
          headers: {
            ...(this.deflate ? { "Sec-WebSocket-Extensions": buildDeflateOffer(this.deflate) } : {}),
            ...(options.origin ? { Origin: options.origin } : {}),
            ...options.headers,
          },
        });
        session.writeRaw(request);
      },
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
        heartbeat: heartbeatOptions(options.heartbeat, false),
        ...sessionLimits(options),
      },
      {
        message: (data, isBinary) => {
          const value = !isBinary
            ? utf8.decode(data)
            : this.binaryType === "arraybuffer"
              ? toArrayBuffer(data)
              : data;
          this.dispatchEvent(new MessageEvent("message", { data: value, origin: this.target.url }));
        },
        fragment: (data, isBinary, first, last) => {
          if (first) textChunks = isBinary ? null : utf8Decoder();
          const value = !isBinary
            ? textChunks!.decode(data, { stream: !last })
            : this.binaryType === "arraybuffer"
              ? toArrayBuffer(data)
              : data;
          this.dispatchEvent(new FragmentEvent("fragment", { data: value, binary: isBinary, first, last }));
        },
        ping: (data) => this.dispatchEvent(new MessageEvent("ping", { data })),
        pong: (data) => this.dispatchEvent(new MessageEvent("pong", { data })),
        closing: () => {
          this.state = ReadyState.CLOSING;
        },
        error: (error) => this.dispatchEvent(new ErrorEvent("error", { error, message: error.message })),
        drain: () => this.dispatchEvent(new Event("drain")),
        end: (code, reason, wasClean) => this.disconnected(code, reason, wasClean),
      },
      this.alloc,
    );
    this.session = session;
    const timer = setTimeout(() => {
      reported = true;
      this.failHandshake(session, new Error("opening handshake timed out"));
    }, options.handshakeTimeout ?? 10_000);
  }

  private failHandshake(session: Session, error: Error): void {
    if (session.readyState !== ReadyState.CONNECTING) return;
    this.dispatchEvent(new ErrorEvent("error", { error, message: error.message }));
    session.terminate();
  }

  private opened(): void {
    this.attempt = 0;
    if (this.closeRequested) return this.session?.close(CloseCode.Normal, "");
    this.state = ReadyState.OPEN;
    this.dispatchEvent(new Event("open"));
    const queued = this.queue;
    this.queue = [];
    for (const item of queued) this.session?.send(item.data, item.binary, this.options.maxFragmentSize ?? 0);
  }

  private disconnected(code: number, reason: string, wasClean: boolean): void {
    this.session = null;
    this.state = ReadyState.CLOSED;
    const event = new CloseEvent("close", { code, reason, wasClean });
    this.dispatchEvent(event);
    const policy = this.reconnectPolicy;
    if (this.closeRequested || !policy) return this.finish(this.closeRequested ? "closed" : "no-reconnect");
    if (this.options.shouldReconnect && !this.options.shouldReconnect(event))
      return this.finish("no-reconnect");
    const delay = backoffDelay(this.attempt, policy);
    if (delay < 0) return this.finish("retries");
    this.attempt++;
    this.state = ReadyState.CONNECTING;
    this.dispatchEvent(new CustomEvent("reconnecting", { detail: { attempt: this.attempt, delay } }));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }

  private finish(reason: FinishDetail["reason"]): void {
    if (this.finished) return;
    this.finished = true;
    this.queue = [];
    this.dispatchEvent(new CustomEvent("finish", { detail: { reason } }));
  }
}
