// The runtime-neutral part of WebSocketServer: options and their defaults, the upgrade decision (path,
// maxClients, the engine's verdict on the head, origin, subprotocol, verifyClient → 101 or refusal bytes),
// the set of clients, broadcast, disconnect and close (1001 to all). Hosts own the listening socket and
// the sockets' events; they call `decide` with a parsed head and `accept` once it says 101.
import { Role } from "../protocol/connection.js";
import { Emitter } from "./emitter.js";
import { CloseCode } from "../engine/errors.js";
import { defaults } from "../policies/config.js";
import {
  acceptResponseView,
  buildRejection,
  parseConnectRequest,
  parseProtocolList,
  parseUpgradeRequest,
  selectSubprotocol,
  splitList,
  type UpgradeRequest,
} from "../protocol/handshake.js";
import {
  acceptDeflateOffer,
  deflateOfferError,
  deflateOptions,
  type PerMessageDeflateOptions,
} from "../protocol/extensions.js";
import { heartbeatOptions, type HeartbeatOptions } from "../policies/heartbeat.js";
import { PerMessageDeflate, type DeflateCodec } from "../protocol/permessage-deflate.js";
import { sharedPool, type EnginePool, type SlotHandle } from "../engine/pool.js";
import {
  InProcessAdapter,
  MessageFramer,
  Publication,
  TopicRegistry,
  topicName,
  type PubSubAdapter,
  type PubSubHub,
} from "../protocol/pubsub.js";
import {
  ServerConnection,
  type ConnectionFace,
  type PublishOptions,
  type TopicHost,
} from "./server-connection.js";
import { isClientClass, serve } from "./client-core.js";
import { sessionLimits, type Session, type SessionOptions, type SessionSocket } from "../protocol/session.js";
import { sendBytes, type SendData } from "../protocol/send-data.js";

/** What `verifyClient` is told about a handshake; `req` is the host's request object. */
export interface VerifyClientInfo<Req> {
  origin: string;
  secure: boolean;
  req: Req;
}

/** A refusal: the HTTP status to answer (default 401), the body (default the status phrase), extra headers. */
export interface Refusal {
  status?: number;
  reason?: string;
  headers?: Record<string, string | number>;
}

/**
 * Accept (true) or refuse a handshake: return the answer (or a Promise of it), or, declaring a second
 * parameter (ws style), call `callback(accept, status?, reason?)`.
 */
export type VerifyClient<Req> = (
  info: VerifyClientInfo<Req>,
  callback: (
    accept: boolean,
    status?: number,
    reason?: string,
    headers?: Record<string, string | number>,
  ) => void,
) => boolean | Refusal | Promise<boolean | Refusal> | void;

/** Server options every host shares; every limit has a safe default (docs/NODE.md). */
export interface ServerCoreOptions<Req> {
  /** Accept only this path (query ignored); other paths get 404. */
  path?: string;
  /** Largest message accepted, bytes (default 16 MiB); past it the peer is closed with 1009. */
  maxPayload?: number;
  /** Most frames per received message, empty ones too (default 131 072; 1008 past it); 0: no limit. */
  maxFragments?: number;
  /** Most open connections (default Infinity); the next handshake gets 503. */
  maxClients?: number;
  /**
   * Subprotocols supported, in no particular order: the client's first one listed here is chosen. Without
   * it (and without `handleProtocols`) the client's first offered one is chosen, as ws does.
   */
  protocols?: string[];
  /** Choose the subprotocol yourself (ws style); false for none. Overrides `protocols`. */
  handleProtocols?: (protocols: Set<string>, req: Req) => string | false;
  verifyClient?: VerifyClient<Req>;
  /** Accepted Origin values, or a predicate; others get 403. Requests without Origin pass. */
  allowedOrigins?: string[] | ((origin: string) => boolean);
  /** Ms a connection may take to send its upgrade request (default 10 000). */
  handshakeTimeout?: number;
  /** Longest request head, bytes (default 16 384); longer gets 431. */
  maxHeaderSize?: number;
  /** Ping silent peers and terminate dead ones (default on: 30 s interval, 10 s timeout). */
  heartbeat?: HeartbeatOptions | boolean;
  /** "message" (default): whole messages; "stream": `fragment` events as chunks arrive. */
  fragments?: "message" | "stream";
  /** bufferedAmount at which `drain` is owed (default 64 KiB). */
  highWaterMark?: number;
  /** Queued bytes beyond which a send fails the connection with 1008 (default 32 MiB). */
  maxBufferedAmount?: number;
  /** Ms to wait for the peer's close reply or FIN before destroying the socket (default 10 000). */
  closeTimeout?: number;
  /**
   * Ms a peer may read nothing while its output is stalled at `highWaterMark` (reading from it paused)
   * before it is failed with 1008 (default 30 000).
   */
  stallTimeout?: number;
  /** The engine pool (default the process-wide one). */
  pool?: EnginePool;
  /** permessage-deflate: off by default (as in ws); `true` or options (docs/DEFLATE.md). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Carries `publish` and `broadcast` to other servers: a shared `InProcessAdapter` for servers of one
   * process, a `RedisAdapter` (wasmsocket/redis) across processes. Default: this server alone.
   */
  adapter?: PubSubAdapter;
  /**
   * What `publish`/`broadcast` do to a connection whose queue is past `maxBufferedAmount`: "close" it
   * with 1008 (default, as `send` does) or "drop" the message for it.
   */
  slowSubscriber?: "close" | "drop";
  /** Keep the `clients` set (default true, as ws); false: `clients` is undefined. */
  clientTracking?: boolean;
  /** Answer pings with pongs automatically (default true, as ws). */
  autoPong?: boolean;
  /**
   * The class of the connections: `ServerConnection` (default) or a subclass of it; or, as in ws, the client
   * class (`WebSocket`) or a subclass of it, constructed `new Class(null, undefined, options)` and serving
   * the connection with the client's API (docs/NODE.md, the server's options). The Node host also takes
   * a ws-shaped class (one with `setSocket`, such as ws's own).
   */
  WebSocket?: unknown;
}

/** Options of `broadcast`. */
export interface BroadcastOptions<C> {
  /** Skip this connection (or these). */
  except?: C | C[];
  /** Send only to connections this returns true for. */
  filter?: (ws: C) => boolean;
  /** Send as binary (default: true for bytes, false for strings). */
  binary?: boolean;
  /** As `publish`'s: false sends it uncompressed to connections with permessage-deflate (default true). */
  compress?: boolean;
}

export type { PublishOptions };

/** Events of a WebSocketServer. */
export interface ServerEvents<Req, C> {
  listening: [];
  connection: [ws: C, req: Req];
  headers: [headers: string[], req: Req];
  /** A request that broke a handshake rule, when listened to: answer it on `socket` yourself (ws). */
  wsClientError: [error: Error, socket: unknown, req: Req];
  close: [];
  error: [error: Error];
}

/**
 * The answer to an upgrade request (or an HTTP/2 extended CONNECT): accept (101; 200 on HTTP/2), or refuse
 * with the engine's response bytes (HTTP/1.1) or the status, body and header fields (HTTP/2).
 */
export type UpgradeDecision =
  | { status: 101 | 200; request: UpgradeRequest; protocol: string }
  | {
      status: number;
      response: Uint8Array;
      /** What was wrong ("" for the status phrase): the response's body. */
      message: string;
      /** Extra header fields of the refusal. */
      headers?: Record<string, string | number>;
      /** The request broke a handshake rule: a 'wsClientError' listener may answer it instead. */
      clientError: boolean;
    };

/** The headers ws adds to its refusal for a rule (status and body are the error table's `@ws` tags). */
const VERSIONS = { "Sec-WebSocket-Version": "13, 8" };
const wsRefusalHeaders: Record<string, Record<string, string>> = {
  MethodNotGet: { Allow: "GET" },
  VersionMissing: VERSIONS,
  VersionRepeated: VERSIONS,
  VersionUnsupported: VERSIONS,
};

/**
 * The header fields of an HTTP/2 refusal for a rule: the version a server speaks there (RFC 8441 builds on
 * RFC 6455's 13 only) and the method it allows.
 */
const VERSION_13 = { "sec-websocket-version": "13" };
const http2RefusalHeaders: Record<string, Record<string, string>> = {
  MethodNotConnect: { allow: "CONNECT" },
  VersionMissing: VERSION_13,
  VersionRepeated: VERSION_13,
  VersionUnsupported: VERSION_13,
};

/** node:http's rule for an upgrade: an Upgrade header and the `upgrade` token in Connection. */
function asksUpgrade(request: UpgradeRequest): boolean {
  if (request.headers["upgrade"] === undefined) return false;
  const connection = request.headers["connection"];
  // What browsers and clients send: one token, no list to split.
  if (connection !== undefined && connection.length === 7 && connection.toLowerCase() === "upgrade")
    return true;
  return splitList(connection).some((token) => token.toLowerCase() === "upgrade");
}

/**
 * The host's request object, or a function building it (once: the host memoizes it), so that a host whose
 * request object costs something to build builds it only when a listener, `verifyClient` or
 * `handleProtocols` reads it.
 */
export type RequestSource<Req> = Req | (() => Req);

/** The request object of `source`, built now if it is lazy. */
export function requestOf<Req>(source: RequestSource<Req>): Req {
  return typeof source === "function" ? (source as () => Req)() : source;
}

/** What `accept` needs of the host's socket. */
/** A raw socket's bytes before its connection opens (see `takeHead`). */
const NO_BYTES = new Uint8Array(0);

export class PendingHead {
  /** Bytes kept: the head so far, then (once taken) from `framesAt` on the frames that followed it. */
  bytes: Uint8Array = NO_BYTES;
  /** The head was complete and returned: later bytes are frames. */
  taken = false;
  /** Where in `bytes` the frames after the head start. */
  framesAt = 0;

  /** The bytes that came after the head (frames sent right behind the request). */
  frames(): Uint8Array {
    return this.bytes.subarray(this.framesAt);
  }
}

export interface AcceptedSocket<S> {
  socket: S;
  /** ws's `_socket` when it is not `socket` (ServerConnectionInit). */
  netSocket?: () => unknown;
  /** The connection's session exists: called before the application is handed the connection. */
  opened?: (session: Session) => void;
  link: SessionSocket;
  remoteAddress: string;
  /**
   * An HTTP/2 stream (RFC 8441): answer with these header fields (`:status` 200 and the negotiated
   * subprotocol and extensions) before any frame, instead of writing a 101 on the link.
   */
  respond?: (headers: Record<string, string | number>) => void;
}

export const DEFAULT_MAX_PAYLOAD = defaults.maxPayload;
export const DEFAULT_MAX_HEADER_SIZE = defaults.maxHeaderSize;

// Refusal bytes are constant per status: built by the engine once.
const rejections = new Map<number, Uint8Array>();

/** The engine's complete refusal response for `status` (cached). */
export function rejectionBytes(pool: EnginePool, status: number): Uint8Array {
  let bytes = rejections.get(status);
  if (!bytes) {
    bytes = buildRejection(pool.handshakeEngine(), status);
    rejections.set(status, bytes);
  }
  return bytes;
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/**
 * A refusal in ws's shape (its abortHandshake): the engine's status line, `Connection: close`, extra
 * `headers` (those with CR or LF are dropped), and `message` as the body (default: the status phrase).
 */
export function refusalResponse(
  pool: EnginePool,
  status: number,
  message = "",
  headers?: Record<string, string | number>,
): Uint8Array {
  const plain = !message && !headers;
  const cached = plain ? plainRefusals.get(status) : undefined;
  if (cached) return cached;
  const line = statusLine(pool, status);
  const body = encoder.encode(message || line.slice(line.indexOf(" ", 9) + 1));
  let head = `${line}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n`;
  head += `Content-Length: ${body.length}\r\n`;
  for (const [name, value] of Object.entries(headers ?? {}))
    if (!/[\r\n]/.test(`${name}${value}`)) head += `${name}: ${value}\r\n`;
  const headBytes = encoder.encode(head + "\r\n");
  const bytes = new Uint8Array(headBytes.length + body.length);
  bytes.set(headBytes);
  bytes.set(body, headBytes.length);
  if (plain) plainRefusals.set(status, bytes);
  return bytes;
}

/** The engine's status line for `status` ("HTTP/1.1 404 Not Found"). */
function statusLine(pool: EnginePool, status: number): string {
  const engineBytes = rejectionBytes(pool, status);
  return latin1.decode(engineBytes.subarray(0, engineBytes.indexOf(13)));
}

/** The body of a refusal: `message`, or the engine's status line without its HTTP version ("404 Not Found"). */
export function refusalBody(pool: EnginePool, status: number, message = ""): string {
  return message || statusLine(pool, status).slice(9);
}

// Refusals without a message or headers are constant per status (a flood of them builds nothing).
const plainRefusals = new Map<number, Uint8Array>();

/** Rules about the head's syntax: answered as the engine says, before anything else is judged. */
const HEAD_RULES = new Set([
  "HeadTooLarge",
  "TooManyHeaders",
  "BareLineFeed",
  "BadRequestLine",
  "HttpVersion",
  "BadHeaderLine",
  "ObsoleteLineFolding",
]);

/** Whether `value` is a constructor of connections (our class or a subclass of it). */
function isConnectionClass(value: unknown): value is typeof ServerConnection {
  return (
    value === ServerConnection || (typeof value === "function" && value.prototype instanceof ServerConnection)
  );
}

/** What the application holds for connection `except` (or each of them). */
function facesOf<B extends Uint8Array, S>(
  except: ServerConnection<B, S> | ServerConnection<B, S>[] | undefined,
): ConnectionFace | ConnectionFace[] | undefined {
  if (!except) return undefined;
  return Array.isArray(except) ? except.map((ws) => ws.face) : except.face;
}

/** Whether `face` is `except` or among it (broadcast's and publish's `except`). */
function excepted(except: unknown, face: unknown): boolean {
  return Array.isArray(except) ? except.includes(face) : except === face;
}

/** A message's bytes: text encoded once, bytes as they are. */
function payloadOf(data: SendData): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : (sendBytes(data) as Uint8Array);
}

/** The path of a request target, without the query. */
export function pathOf(target: string | undefined): string {
  const url = target ?? "/";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/**
 * The server without its listening socket: `Req` is the host's request object, `B` its byte type, `S` its
 * socket; `C` what the application is given for a connection (an instance of the `WebSocket` option).
 */
export abstract class ServerCore<Req, B extends Uint8Array, S, C = ServerConnection<B, S>> extends Emitter<
  ServerEvents<Req, C>
> {
  protected readonly pool: EnginePool;
  protected readonly maxHeaderSize: number;
  /** Every connection's session settings (one object, shared). */
  protected readonly sessionOptions: SessionOptions;
  protected closing: Promise<void> | undefined;
  /** Open connections (kept whatever `clientTracking` says: close and broadcast need them). */
  protected readonly connections = new Set<ServerConnection<B, S>>();
  private stopped = false;
  private readonly core: ServerCoreOptions<Req>;
  private readonly alloc: (size: number) => Uint8Array;
  private readonly byId = new Map<number, ServerConnection<B, S>>();
  private readonly deflate: PerMessageDeflateOptions | null;
  private readonly codec: DeflateCodec | null;
  private pending = 0;
  private readonly adapter: PubSubAdapter;
  private readonly hub: PubSubHub;
  private readonly registry: TopicRegistry<ServerConnection<B, S>>;
  private readonly topicHost: TopicHost<ServerConnection<B, S>>;
  private readonly framer: MessageFramer;
  private readonly dropSlow: boolean;
  /** With a client class as the `WebSocket` option: the client objects serving the open connections. */
  private readonly faces: Set<ConnectionFace> | null;

  /** `codec`: the runtime's zlib, needed for `perMessageDeflate`. */
  protected constructor(options: ServerCoreOptions<Req>, alloc: (size: number) => B, codec?: DeflateCodec) {
    super();
    this.core = options;
    this.deflate = deflateOptions(options.perMessageDeflate);
    this.codec = codec ?? null;
    if (this.deflate && !this.codec) throw new TypeError("perMessageDeflate: this host has no deflate codec");
    this.alloc = alloc;
    this.pool = options.pool ?? sharedPool();
    this.maxHeaderSize = options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
    this.sessionOptions = {
      role: Role.Server,
      maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      maxFragments: options.maxFragments ?? defaults.maxFragments,
      fragments: options.fragments ?? "message",
      heartbeat: heartbeatOptions(options.heartbeat, defaults.serverHeartbeat),
      autoPong: options.autoPong ?? true,
      ...sessionLimits(options),
    };
    this.adapter = options.adapter ?? new InProcessAdapter();
    this.hub = {
      deliver: (topic, payload, binary, compress) =>
        topic === null
          ? this.deliverAll(payload, binary, compress)
          : this.deliverTopic(topic, payload, binary, compress),
    };
    this.registry = new TopicRegistry(this.adapter, this.hub);
    // A connection publishes "to every other subscriber": `except` is the connection, named as the app knows it.
    this.topicHost = {
      registry: this.registry,
      publish: (topic, data, options) =>
        this.publish(topic, data, {
          binary: options?.binary,
          compress: options?.compress,
          except: facesOf(options?.except) as C,
        }),
    };
    this.framer = new MessageFramer(this.pool, alloc);
    this.dropSlow = options.slowSubscriber === "drop";
    this.faces = isClientClass(options.WebSocket) ? new Set() : null;
    this.adapter.attach(this.hub);
  }

  /**
   * Open connections (the objects the application was given: with a client class as the `WebSocket`
   * option, its instances); undefined with `clientTracking: false` (as in ws).
   */
  get clients(): Set<C> {
    if (this.core.clientTracking === false) return undefined as unknown as Set<C>;
    return (this.faces ?? this.connections) as Set<unknown> as Set<C>;
  }

  /** Stop taking connections; resolves once the listener is closed (after the clients are gone). */
  protected abstract stopListening(): Promise<void>;

  /** Every client is gone: drop sockets still in their handshake. */
  protected abstract dropHandshakes(): void;

  /** Whether a request for `target` (path and query) is this server's (its path matches). */
  handlesPath(target: string): boolean {
    return this.core.path === undefined || pathOf(target) === this.core.path;
  }

  /** The engine's reading of a request head (null while incomplete), limited to `maxHeaderSize`. */
  parseHead(head: Uint8Array): UpgradeRequest | null {
    return parseUpgradeRequest(this.pool.handshakeEngine(), head, { maxHeaderBytes: this.maxHeaderSize });
  }

  /**
   * The engine's reading of an HTTP/2 request that may open a WebSocket (RFC 8441): `rawHeaders` is its
   * header list, names and values alternating, pseudo-headers first (node:http2's `rawHeaders`).
   */
  parseConnect(rawHeaders: readonly string[]): UpgradeRequest {
    return parseConnectRequest(this.pool.handshakeEngine(), rawHeaders, {
      maxHeaderBytes: this.maxHeaderSize,
    });
  }

  /** The body of a refusal with `status`: `message`, or the status and its phrase ("404 Not Found"). */
  refusalText(status: number, message = ""): string {
    return refusalBody(this.pool, status, message);
  }

  /**
   * For hosts that read the request head off a raw socket: keep `chunk` in `pending`; once the head is
   * complete return its request (once: null before and after). Bytes past the head stay in `pending.bytes`
   * (frames sent right behind the request, fed once the connection opens).
   */
  takeHead(pending: PendingHead, chunk: Uint8Array): UpgradeRequest | null {
    if (!pending.taken && pending.bytes.length === 0) {
      // The whole head in one read (the usual case): parsed where it is, and only kept (copied: a runtime
      // may reuse the buffer it passed) when incomplete or followed by frames.
      const request = this.parseHead(chunk);
      if (!request) pending.bytes = new Uint8Array(chunk);
      else {
        pending.taken = true;
        if (request.headEnd < chunk.length) pending.bytes = new Uint8Array(chunk.subarray(request.headEnd));
      }
      return request;
    }
    // Copied: a runtime may reuse the buffer it passed.
    const bytes = new Uint8Array(pending.bytes.length + chunk.length);
    bytes.set(pending.bytes);
    bytes.set(chunk, pending.bytes.length);
    pending.bytes = bytes;
    if (pending.taken) return null;
    const request = this.parseHead(bytes);
    if (request) {
      pending.taken = true;
      pending.framesAt = request.headEnd;
    }
    return request;
  }

  /** The refusal response for `status`: `message` as its body (default the status phrase), extra headers. */
  refusal(status: number, message = "", headers?: Record<string, string | number>): Uint8Array {
    return refusalResponse(this.pool, status, message, headers);
  }

  /**
   * Decide an upgrade in ws's order and with its answers: 503 while closing; on our own port (`plainHttp`)
   * 426 for a request that asks no upgrade; the engine's verdict on the head (ws's status and message for
   * the rules ws checks too, the engine's for its stricter ones; on HTTP/2, where ws has no rules, the
   * engine's); 400 off `path`, for an invalid subprotocol list or permessage-deflate offer; 503 when full;
   * 403 for a refused origin; then `verifyClient`. `done` may run later (an async verifyClient).
   */
  decide(
    req: RequestSource<Req>,
    target: string,
    request: UpgradeRequest,
    secure: boolean,
    done: (decision: UpgradeDecision) => void,
    plainHttp = false,
  ): void {
    const refused = this.refusedHead(request, target, plainHttp);
    if (refused) return done(refused);
    // hybi-08 (version 8, which ws accepts too) named the header Sec-WebSocket-Origin.
    const origin = request.version === 8 ? (request.headers["sec-websocket-origin"] ?? "") : request.origin;
    if (origin && !this.originAllowed(origin)) return done(this.refused(403));
    if (!this.core.verifyClient) return done(this.accepting(request, req));
    this.pending++;
    this.verify(req, origin, secure, (accept, status, message, headers) => {
      this.pending--;
      if (!accept) return done(this.refused(status || defaults.refusalStatus, message, headers));
      done(this.accepting(request, req));
    });
  }

  /** The refusal of `request` on the rules judged before its origin (null: none applies). */
  private refusedHead(request: UpgradeRequest, target: string, plainHttp: boolean): UpgradeDecision | null {
    if (this.closing) return this.refused(503);
    const http2 = request.httpVersion === 20;
    if (http2 && request.status !== 200)
      return this.refused(request.status, request.message, http2RefusalHeaders[request.reason], true);
    if (request.status !== 101 && HEAD_RULES.has(request.reason))
      return this.refused(request.status, request.message, undefined, true);
    if (plainHttp && !asksUpgrade(request)) return this.refused(426);
    if (!http2 && request.status !== 101) {
      // ws's status, words and headers for the rules ws checks too; the engine's for its stricter ones.
      if (!request.wsMessage) return this.refused(request.status, request.message, undefined, true);
      return this.refused(request.wsStatus, request.wsMessage, wsRefusalHeaders[request.reason], true);
    }
    if (!this.handlesPath(target)) return this.refused(400);
    const offered = request.headers["sec-websocket-protocol"];
    if (offered !== undefined && !parseProtocolList(offered))
      return this.refused(400, "Invalid Sec-WebSocket-Protocol header", undefined, true);
    if (this.deflate && request.extensions && deflateOfferError(request.extensions))
      return this.refused(400, "Invalid or unacceptable Sec-WebSocket-Extensions header", undefined, true);
    if (this.connections.size + this.pending >= (this.core.maxClients ?? defaults.maxClients))
      return this.refused(503);
    return null;
  }

  /** A refusing decision (methods, not closures made for every request `decide` judges). */
  private refused(
    status: number,
    message = "",
    headers?: Record<string, string | number>,
    clientError = false,
  ): UpgradeDecision {
    return { status, response: this.refusal(status, message, headers), message, headers, clientError };
  }

  /** The accepting decision: 101 (200 on HTTP/2) with the chosen subprotocol. */
  private accepting(request: UpgradeRequest, req: RequestSource<Req>): UpgradeDecision {
    return {
      status: request.httpVersion === 20 ? 200 : 101,
      request,
      protocol: this.chooseProtocol(request, req),
    };
  }

  /**
   * Open a connection the decision accepted: the 101 response is queued ahead of any frame (on HTTP/2 the
   * 200 goes to `host.respond` before anything else), and `callback` (default: emit "connection") may send at once. Returns
   * the 503 refusal instead when closing.
   */
  accept(
    decision: { request: UpgradeRequest; protocol: string },
    req: RequestSource<Req>,
    host: AcceptedSocket<S>,
    callback?: (ws: C, req: RequestSource<Req>) => void,
  ): ServerConnection<B, S> | Uint8Array {
    if (this.closing) return this.refusal(503);
    const accepted = this.deflate && acceptDeflateOffer(decision.request.extensions, this.deflate);
    const extensions = accepted ? accepted.response : "";
    const response = host.respond ? null : this.acceptResponse(decision, extensions, req, true);
    // HTTP/2: answered before a slot is taken, so a response the stream refuses to send leaks nothing.
    if (host.respond) host.respond(this.connectResponse(decision.protocol, extensions, req));
    const handle: SlotHandle = this.pool.acquire();
    const Connection = isConnectionClass(this.core.WebSocket) ? this.core.WebSocket : ServerConnection;
    const ws = new Connection<B, S>({
      socket: host.socket,
      netSocket: host.netSocket,
      link: host.link,
      remoteAddress: host.remoteAddress,
      protocol: decision.protocol,
      extensions: accepted ? accepted.response : "",
      pool: this.pool,
      handle,
      options: accepted
        ? {
            ...this.sessionOptions,
            deflate: new PerMessageDeflate(accepted.session, this.codec!, {
              ...this.deflate,
              maxPayload: this.sessionOptions.maxPayload,
            }),
          }
        : this.sessionOptions,
      alloc: this.alloc,
      topics: this.topicHost as TopicHost<ServerConnection<never, unknown>>,
    });
    host.opened?.(ws.session);
    if (response) ws.session.writeRaw(response);
    this.connections.add(ws);
    this.byId.set(ws.id, ws);
    ws.once("close", this.forget);
    ws.session.start();
    const face = (this.faces ? this.serveFace(ws) : ws) as C;
    if (callback) callback(face, req);
    else this.emit("connection", face, requestOf(req));
    return ws;
  }

  /**
   * The `WebSocket` option's client class serving `ws`. A throwing constructor ends the connection and the
   * throw goes on to the caller, as in ws.
   */
  private serveFace(ws: ServerConnection<B, S>): ConnectionFace {
    try {
      this.faces!.add(serve(this.core.WebSocket as Parameters<typeof serve>[0], ws, this.core));
    } catch (error) {
      // No host has tied the socket's close to the session yet (that follows `accept`): released here.
      ws.terminate();
      ws.session.onClose();
      throw error;
    }
    return ws.face;
  }

  /**
   * Drop a closed connection from the server's sets: the "close" listener of every connection, one function
   * per server called with `this` the connection (the emitter's), not a closure per connection.
   */
  private readonly forget = ((core: ServerCore<Req, B, S, C>) =>
    function (this: ServerConnection<B, S>): void {
      core.connections.delete(this);
      core.byId.delete(this.id);
      core.faces?.delete(this.face);
    })(this);

  /** Count a connection of a ws-shaped class (the Node host's `WebSocket` option) as a client. */
  protected track(ws: ServerConnection<B, S>): void {
    this.connections.add(ws);
    ws.once("close", () => this.connections.delete(ws));
  }

  /**
   * The 101 response: the engine's, or, when 'headers' is listened to, its lines as the listener left them
   * (ws: the status line and every header, for the application to inspect and extend). `borrowed`: the
   * engine's may be returned as a view of its memory, valid until the next handshake call.
   */
  protected acceptResponse(
    decision: { request: UpgradeRequest; protocol: string },
    extensions: string,
    req: RequestSource<Req>,
    borrowed = false,
  ): Uint8Array {
    const extra = extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : "";
    const engine = this.pool.handshakeEngine();
    const view = acceptResponseView(engine, decision.request.key, decision.protocol, extra);
    if (this.listenerCount("headers") === 0) return borrowed ? view : view.slice();
    const lines = latin1.decode(view).split("\r\n").slice(0, -2);
    this.emit("headers", lines, requestOf(req));
    return encoder.encode(lines.join("\r\n") + "\r\n\r\n");
  }

  /**
   * The header fields accepting an HTTP/2 extended CONNECT (RFC 8441 §5: 200, no Sec-WebSocket-Accept).
   * When 'headers' is listened to, it gets them as lines ("HTTP/2 200", then `name: value`), as ws gives
   * its 101's lines, and the fields are read back from what the listener left after the first line.
   */
  protected connectResponse(
    protocol: string,
    extensions: string,
    req: RequestSource<Req>,
  ): Record<string, string | number> {
    const fields: Record<string, string | number> = { ":status": 200 };
    if (protocol) fields["sec-websocket-protocol"] = protocol;
    if (extensions) fields["sec-websocket-extensions"] = extensions;
    if (this.listenerCount("headers") === 0) return fields;
    const lines = [
      "HTTP/2 200",
      ...Object.entries(fields)
        .slice(1)
        .map(([name, value]) => `${name}: ${value}`),
    ];
    this.emit("headers", lines, requestOf(req));
    const answered: Record<string, string | number> = { ":status": 200 };
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":", 1);
      if (colon > 0) answered[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return answered;
  }

  /**
   * Send one message to every open connection (or those `options` select), framed once. Without a
   * `filter` (a function cannot travel) it also reaches the connections of every server sharing the adapter.
   */
  broadcast(data: SendData, options: BroadcastOptions<C> = {}): void {
    const binary = options.binary ?? typeof data !== "string";
    const payload = payloadOf(data);
    const compress = options.compress ?? true;
    this.deliverAll(payload, binary, compress, options.except, options.filter);
    if (!options.filter) this.adapter.publish(this.hub, null, payload, binary, compress);
  }

  /**
   * Send a message to every subscriber of `topic`, framed once, here and on every server sharing the
   * adapter; returns how many connections of this server it was queued for.
   */
  publish(topic: string, data: SendData, options: PublishOptions<C> = {}): number {
    topicName(topic);
    const binary = options.binary ?? typeof data !== "string";
    const payload = payloadOf(data);
    const compress = options.compress ?? true;
    const count = this.deliverTopic(topic, payload, binary, compress, options.except);
    this.adapter.publish(this.hub, topic, payload, binary, compress);
    return count;
  }

  /** How many connections of this server are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.registry.count(topic);
  }

  private deliverTopic(
    topic: string,
    payload: Uint8Array,
    binary: boolean,
    compress: boolean,
    except?: C | C[],
  ): number {
    const members = this.registry.members(topic);
    if (!members) return 0;
    const publication = new Publication(this.framer, payload, binary, compress);
    let count = 0;
    for (const ws of members) {
      if (except && excepted(except, ws.face)) continue;
      const frame = publication.frameFor(ws.session.wire.perMessageDeflate);
      if (ws.session.sendFrame(frame, this.dropSlow)) count++;
    }
    publication.end();
    return count;
  }

  private deliverAll(
    payload: Uint8Array,
    binary: boolean,
    compress: boolean,
    except?: C | C[],
    filter?: (ws: C) => boolean,
  ): void {
    if (this.connections.size === 0) return;
    const publication = new Publication(this.framer, payload, binary, compress);
    for (const ws of this.connections) {
      // What the application holds for `ws` (a ws-shaped class's object of the Node host is its own).
      const face = (ws.face ?? ws) as C;
      if (except && excepted(except, face)) continue;
      if (filter && !filter(face)) continue;
      if (ws.session)
        ws.session.sendFrame(publication.frameFor(ws.session.wire.perMessageDeflate), this.dropSlow);
      else ws.send(payload, { binary, compress }); // a ws-shaped class of the `WebSocket` option
    }
    publication.end();
  }

  /** Close one connection by object or id (default 1000). */
  disconnect(target: C | number, code: number = CloseCode.Normal, reason = ""): boolean {
    const ws = typeof target === "number" ? this.byId.get(target)?.face : (target as ConnectionFace);
    if (!ws || !(this.faces ?? (this.connections as Set<ConnectionFace>)).has(ws)) return false;
    ws.close(code, reason);
    return true;
  }

  /**
   * Send 1001 to every connection, stop accepting, and resolve once every socket is gone. `callback` runs
   * outside the Promise (a throw in it is an uncaught exception, as in ws); on a server already closed it
   * gets ws's "The server is not running" error and 'close' is emitted again.
   */
  close(callback?: (error?: Error) => void): Promise<void> {
    if (this.stopped) {
      if (callback) this.once("close", () => callback(new Error("The server is not running")));
      queueMicrotask(() => this.emit("close"));
      return this.closing!;
    }
    this.closing ??= this.shutdown();
    if (callback)
      this.closing.then(
        () => queueMicrotask(() => callback()),
        (error: Error) => queueMicrotask(() => callback(error)),
      );
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const gone = [...this.connections].map(
      (ws) => new Promise<void>((resolve) => ws.once("close", () => resolve())),
    );
    for (const connection of this.connections) {
      const ws = connection.face ?? connection;
      if (ws.readyState === ServerConnection.OPEN) ws.close(CloseCode.GoingAway, "server shutting down");
      else if (ws.readyState === ServerConnection.CONNECTING) ws.terminate();
    }
    const stopped = this.stopListening();
    await Promise.all(gone);
    this.dropHandshakes();
    await stopped;
    this.adapter.detach(this.hub);
    this.framer.release();
    this.stopped = true;
    // A throw in a 'close' listener is the application's: uncaught, not a rejection of `closing`.
    queueMicrotask(() => this.emit("close"));
  }

  private originAllowed(origin: string): boolean {
    const allowed = this.core.allowedOrigins;
    if (!allowed) return true;
    return typeof allowed === "function" ? allowed(origin) : allowed.includes(origin);
  }

  private chooseProtocol(request: UpgradeRequest, req: RequestSource<Req>): string {
    if (request.protocols.length === 0) return "";
    if (this.core.handleProtocols) {
      const chosen = this.core.handleProtocols(new Set(request.protocols), requestOf(req));
      return chosen || "";
    }
    if (!this.core.protocols) return request.protocols[0];
    return selectSubprotocol(this.pool.handshakeEngine(), request.protocols, this.core.protocols) ?? "";
  }

  private verify(
    req: RequestSource<Req>,
    origin: string,
    secure: boolean,
    done: (
      accept: boolean,
      status?: number,
      message?: string,
      headers?: Record<string, string | number>,
    ) => void,
  ): void {
    const verifyClient = this.core.verifyClient!;
    const info: VerifyClientInfo<Req> = { origin, secure, req: requestOf(req) };
    const settle = (result: boolean | Refusal) =>
      result === true
        ? done(true)
        : done(
            false,
            result ? (result.status ?? defaults.refusalStatus) : defaults.refusalStatus,
            result ? result.reason : undefined,
            result ? result.headers : undefined,
          );
    const fail = () => done(false, 500);
    try {
      if (verifyClient.length >= 2) {
        verifyClient(info, done);
        return;
      }
      const result = verifyClient(info, () => {});
      if (result instanceof Promise) result.then(settle, fail);
      else settle(result ?? false);
    } catch {
      fail();
    }
  }
}
