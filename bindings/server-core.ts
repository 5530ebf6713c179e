// The runtime-neutral part of WebSocketServer: options and their defaults, the upgrade decision (path,
// maxClients, the engine's verdict on the head, origin, subprotocol, verifyClient → 101 or refusal bytes),
// the set of clients, broadcast, disconnect and close (1001 to all). Hosts own the listening socket and
// the sockets' events; they call `decide` with a parsed head and `accept` once it says 101.
import { Role } from "./connection.js";
import { Emitter } from "./emitter.js";
import { CloseCode } from "./errors.js";
import { defaults } from "./config.js";
import {
  buildAcceptResponse,
  buildRejection,
  parseUpgradeRequest,
  selectSubprotocol,
  type UpgradeRequest,
} from "./handshake.js";
import { acceptDeflateOffer, deflateOptions, type PerMessageDeflateOptions } from "./extensions.js";
import { heartbeatOptions, type HeartbeatOptions } from "./heartbeat.js";
import { PerMessageDeflate, type DeflateCodec } from "./permessage-deflate.js";
import { sharedPool, type EnginePool, type SlotHandle } from "./pool.js";
import {
  InProcessAdapter,
  MessageFramer,
  TopicRegistry,
  topicName,
  type PubSubAdapter,
  type PubSubHub,
} from "./pubsub.js";
import { ServerConnection, type PublishOptions, type TopicHost } from "./server-connection.js";
import {
  sendBytes,
  sessionLimits,
  type SendData,
  type SessionOptions,
  type SessionSocket,
} from "./session.js";

/** What `verifyClient` is told about a handshake; `req` is the host's request object. */
export interface VerifyClientInfo<Req> {
  origin: string;
  secure: boolean;
  req: Req;
}

/** A refusal: the HTTP status to answer (default 401) and a reason for logs. */
export interface Refusal {
  status?: number;
  reason?: string;
}

/**
 * Accept (true) or refuse a handshake: return the answer (or a Promise of it), or, declaring a second
 * parameter (ws style), call `callback(accept, status?, reason?)`.
 */
export type VerifyClient<Req> = (
  info: VerifyClientInfo<Req>,
  callback: (accept: boolean, status?: number, reason?: string) => void,
) => boolean | Refusal | Promise<boolean | Refusal> | void;

/** Server options every host shares; every limit has a safe default (docs/NODE.md). */
export interface ServerCoreOptions<Req> {
  /** Accept only this path (query ignored); other paths get 404. */
  path?: string;
  /** Largest message accepted, bytes (default 16 MiB); past it the peer is closed with 1009. */
  maxPayload?: number;
  /** Most open connections (default Infinity); the next handshake gets 503. */
  maxClients?: number;
  /** Subprotocols supported, in no particular order: the client's first one listed here is chosen. */
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
}

/** Options of `broadcast`. */
export interface BroadcastOptions<C> {
  /** Skip this connection (or these). */
  except?: C | C[];
  /** Send only to connections this returns true for. */
  filter?: (ws: C) => boolean;
  /** Send as binary (default: true for bytes, false for strings). */
  binary?: boolean;
}

export type { PublishOptions };

/** Events of a WebSocketServer. */
export interface ServerEvents<Req, C> {
  listening: [];
  connection: [ws: C, req: Req];
  headers: [headers: string[], req: Req];
  close: [];
  error: [error: Error];
}

/** The answer to an upgrade request: accept (101), or refuse with the engine's response bytes. */
export type UpgradeDecision =
  { status: 101; request: UpgradeRequest; protocol: string } | { status: number; response: Uint8Array };

/** What `accept` needs of the host's socket. */
/** A raw socket's bytes before its connection opens (see `takeHead`). */
export class PendingHead {
  bytes: Uint8Array = new Uint8Array(0);
  /** The head was complete and returned: later bytes are frames. */
  taken = false;
}

export interface AcceptedSocket<S> {
  socket: S;
  link: SessionSocket;
  remoteAddress: string;
}

export const DEFAULT_MAX_PAYLOAD = defaults.maxPayload;
export const DEFAULT_MAX_HEADER_SIZE = defaults.maxHeaderSize;

// Refusal bytes are constant per status: built by the engine once.
const rejections = new Map<number, Uint8Array>();

/** The engine's complete refusal response for `status` (cached). */
export function rejectionBytes(pool: EnginePool, status: number): Uint8Array {
  let bytes = rejections.get(status);
  if (!bytes) {
    const handle = pool.acquire();
    bytes = buildRejection(handle.engine, status);
    pool.release(handle);
    rejections.set(status, bytes);
  }
  return bytes;
}

const encoder = new TextEncoder();

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

/** `Name: value` lines from the 'headers' event as a record for the engine's response writer. */
function headerRecord(lines: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) record[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return record;
}

/** The server without its listening socket: `Req` is the host's request object, `B` its byte type. */
export abstract class ServerCore<Req, B extends Uint8Array, S> extends Emitter<
  ServerEvents<Req, ServerConnection<B, S>>
> {
  /** Open connections. */
  readonly clients = new Set<ServerConnection<B, S>>();
  protected readonly pool: EnginePool;
  protected readonly maxHeaderSize: number;
  /** Every connection's session settings (one object, shared). */
  protected readonly sessionOptions: SessionOptions;
  protected closing: Promise<void> | undefined;
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
      fragments: options.fragments ?? "message",
      heartbeat: heartbeatOptions(options.heartbeat, defaults.serverHeartbeat),
      ...sessionLimits(options),
    };
    this.adapter = options.adapter ?? new InProcessAdapter();
    this.hub = {
      deliver: (topic, payload, binary) =>
        topic === null ? this.deliverAll(payload, binary) : this.deliverTopic(topic, payload, binary),
    };
    this.registry = new TopicRegistry(this.adapter, this.hub);
    this.topicHost = { registry: this.registry, publish: (t, d, o) => this.publish(t, d, o) };
    this.framer = new MessageFramer(this.pool, alloc);
    this.dropSlow = options.slowSubscriber === "drop";
    this.adapter.attach(this.hub);
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
    const handle = this.pool.acquire();
    try {
      return parseUpgradeRequest(handle.engine, head, { maxHeaderBytes: this.maxHeaderSize });
    } finally {
      this.pool.release(handle);
    }
  }

  /**
   * For hosts that read the request head off a raw socket: keep `chunk` in `pending`; once the head is
   * complete return its request (once: null before and after). Bytes past the head stay in `pending.bytes`
   * (frames sent right behind the request, fed once the connection opens).
   */
  takeHead(pending: PendingHead, chunk: Uint8Array): UpgradeRequest | null {
    // Copied: a runtime may reuse the buffer it passed.
    const bytes = new Uint8Array(pending.bytes.length + chunk.length);
    bytes.set(pending.bytes);
    bytes.set(chunk, pending.bytes.length);
    pending.bytes = bytes;
    if (pending.taken) return null;
    const request = this.parseHead(bytes);
    if (request) pending.taken = true;
    return request;
  }

  /** The refusal response for `status`. */
  refusal(status: number): Uint8Array {
    return rejectionBytes(this.pool, status);
  }

  /**
   * Decide an upgrade: 503 while closing or full, 404 off `path`, the engine's status for a broken head,
   * 403 for a refused origin, then `verifyClient`. `done` may run later (an async verifyClient).
   */
  decide(
    req: Req,
    target: string,
    request: UpgradeRequest,
    secure: boolean,
    done: (decision: UpgradeDecision) => void,
  ): void {
    const refuse = (status: number) => done({ status, response: this.refusal(status) });
    if (this.closing) return refuse(503);
    // A head the engine could not read as a request line has no path to route by.
    if (request.status !== 101 && request.path === "") return refuse(request.status);
    if (!this.handlesPath(target)) return refuse(404);
    if (this.clients.size + this.pending >= (this.core.maxClients ?? defaults.maxClients)) return refuse(503);
    if (request.status !== 101) return refuse(request.status);
    const origin = request.origin;
    if (origin && !this.originAllowed(origin)) return refuse(403);
    const protocol = this.chooseProtocol(request, req);
    if (!this.core.verifyClient) return done({ status: 101, request, protocol });
    this.pending++;
    this.verify(req, origin, secure, (accept, status) => {
      this.pending--;
      if (!accept) return refuse(status ?? defaults.refusalStatus);
      done({ status: 101, request, protocol });
    });
  }

  /**
   * Open a connection the decision accepted: the 101 response is queued ahead of any frame, and `callback`
   * (default: emit "connection") may send at once. Returns the 503 refusal instead when closing.
   */
  accept(
    decision: { request: UpgradeRequest; protocol: string },
    req: Req,
    host: AcceptedSocket<S>,
    callback?: (ws: ServerConnection<B, S>, req: Req) => void,
  ): ServerConnection<B, S> | Uint8Array {
    if (this.closing) return this.refusal(503);
    const handle: SlotHandle = this.pool.acquire();
    const accepted = this.deflate && acceptDeflateOffer(decision.request.extensions, this.deflate);
    const lines: string[] = accepted ? [`Sec-WebSocket-Extensions: ${accepted.response}`] : [];
    this.emit("headers", lines, req);
    const response = buildAcceptResponse(
      handle.engine,
      decision.request.key,
      decision.protocol,
      headerRecord(lines),
    );
    const ws = new ServerConnection<B, S>({
      socket: host.socket,
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
    ws.session.writeRaw(response);
    this.clients.add(ws);
    this.byId.set(ws.id, ws);
    ws.once("close", () => {
      this.clients.delete(ws);
      this.byId.delete(ws.id);
    });
    ws.session.start();
    if (callback) callback(ws, req);
    else this.emit("connection", ws, req);
    return ws;
  }

  /**
   * Send one message to every open connection (or those `options` select), framed once. Without a
   * `filter` (a function cannot travel) it also reaches the connections of every server sharing the adapter.
   */
  broadcast(data: SendData, options: BroadcastOptions<ServerConnection<B, S>> = {}): void {
    const binary = options.binary ?? typeof data !== "string";
    const payload = payloadOf(data);
    this.deliverAll(payload, binary, options.except, options.filter);
    if (!options.filter) this.adapter.publish(this.hub, null, payload, binary);
  }

  /**
   * Send a message to every subscriber of `topic`, framed once, here and on every server sharing the
   * adapter; returns how many connections of this server it was queued for.
   */
  publish(topic: string, data: SendData, options: PublishOptions<ServerConnection<B, S>> = {}): number {
    topicName(topic);
    const binary = options.binary ?? typeof data !== "string";
    const payload = payloadOf(data);
    const count = this.deliverTopic(topic, payload, binary, options.except);
    this.adapter.publish(this.hub, topic, payload, binary);
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
    except?: ServerConnection<B, S> | ServerConnection<B, S>[],
  ): number {
    const members = this.registry.members(topic);
    if (!members) return 0;
    const frame = this.framer.frame(payload, binary);
    let count = 0;
    for (const ws of members) {
      if (except && (Array.isArray(except) ? except.includes(ws) : except === ws)) continue;
      if (ws.session.sendFrame(frame, this.dropSlow)) count++;
    }
    return count;
  }

  private deliverAll(
    payload: Uint8Array,
    binary: boolean,
    except?: ServerConnection<B, S> | ServerConnection<B, S>[],
    filter?: (ws: ServerConnection<B, S>) => boolean,
  ): void {
    if (this.clients.size === 0) return;
    const frame = this.framer.frame(payload, binary);
    for (const ws of this.clients) {
      if (except && (Array.isArray(except) ? except.includes(ws) : except === ws)) continue;
      if (filter && !filter(ws)) continue;
      ws.session.sendFrame(frame, this.dropSlow);
    }
  }

  /** Close one connection by object or id (default 1000). */
  disconnect(target: ServerConnection<B, S> | number, code: number = CloseCode.Normal, reason = ""): boolean {
    const ws = typeof target === "number" ? this.byId.get(target) : target;
    if (!ws || !this.clients.has(ws)) return false;
    ws.close(code, reason);
    return true;
  }

  /** Send 1001 to every connection, stop accepting, and resolve once every socket is gone. */
  close(callback?: (error?: Error) => void): Promise<void> {
    this.closing ??= this.shutdown();
    if (callback) this.closing.then(() => callback(), callback);
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const gone = [...this.clients].map(
      (ws) => new Promise<void>((resolve) => ws.once("close", () => resolve())),
    );
    for (const ws of this.clients) {
      if (ws.readyState === ServerConnection.OPEN) ws.close(CloseCode.GoingAway, "server shutting down");
      else if (ws.readyState === ServerConnection.CONNECTING) ws.terminate();
    }
    const stopped = this.stopListening();
    await Promise.all(gone);
    this.dropHandshakes();
    await stopped;
    this.adapter.detach(this.hub);
    this.framer.release();
    this.emit("close");
  }

  private originAllowed(origin: string): boolean {
    const allowed = this.core.allowedOrigins;
    if (!allowed) return true;
    return typeof allowed === "function" ? allowed(origin) : allowed.includes(origin);
  }

  private chooseProtocol(request: UpgradeRequest, req: Req): string {
    if (request.protocols.length === 0) return "";
    if (this.core.handleProtocols) {
      const chosen = this.core.handleProtocols(new Set(request.protocols), req);
      return chosen === false ? "" : chosen;
    }
    if (!this.core.protocols) return "";
    const handle = this.pool.acquire();
    const chosen = selectSubprotocol(handle.engine, request.protocols, this.core.protocols);
    this.pool.release(handle);
    return chosen ?? "";
  }

  private verify(
    req: Req,
    origin: string,
    secure: boolean,
    done: (accept: boolean, status?: number) => void,
  ): void {
    const verifyClient = this.core.verifyClient!;
    const info: VerifyClientInfo<Req> = { origin, secure, req };
    const settle = (result: boolean | Refusal) =>
      result === true
        ? done(true)
        : done(false, result === false ? defaults.refusalStatus : (result.status ?? defaults.refusalStatus));
    const fail = () => done(false, 500);
    try {
      if (verifyClient.length >= 2) {
        verifyClient(info, (accept, status) => done(accept, status));
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
