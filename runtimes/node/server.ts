// WebSocketServer shaped like ws's: own port, attach to an http(s) server, or handleUpgrade for any
// framework. On its own port it listens with node:net (node:tls for wss) and the engine reads the request
// head off the socket, as on Bun, with no HTTP parser or server in between; attached and noServer, node:http
// parses the request and the engine judges the head rebuilt from it. Either way the engine decides every
// handshake answer (docs/ENGINE.md "Handshake") and bindings/api/server-core.ts everything else.
import * as http from "node:http";
import type * as http2 from "node:http2";
import type * as https from "node:https";
import * as net from "node:net";
import type { AddressInfo, Socket } from "node:net";
import * as tls from "node:tls";
import type { Duplex } from "node:stream";
import type { SecureContextOptions } from "node:tls";
import {
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_MAX_PAYLOAD,
  PendingHead,
  ServerCore,
  requestOf,
  type BroadcastOptions as CoreBroadcastOptions,
  type ServerCoreOptions,
  type RequestSource,
  type ServerEvents as CoreServerEvents,
  type UpgradeDecision,
  type VerifyClient as CoreVerifyClient,
  type VerifyClientInfo as CoreVerifyClientInfo,
} from "../../bindings/api/server-core.js";
import { defaults } from "../../bindings/policies/config.js";
import type { UpgradeRequest } from "../../bindings/protocol/handshake.js";
import { ServerConnection as CoreServerConnection } from "../../bindings/api/server-connection.js";
import { nodeDeflateCodec } from "./deflate.js";
import {
  allocBuffer,
  bindSession,
  Http2StreamLink,
  ignoreError,
  rawHead,
  readHeadInPlace,
  readsInPlace,
  resetStream,
  SocketLink,
} from "./link.js";
import { incomingMessage } from "./request.js";
import {
  advertiseConnectProtocol,
  attachStreams,
  detachStreams,
  isHttp2Server,
  rawHeadersOf,
  refuseStream,
  responseFields,
  streamSocket,
  type Http2Server,
  type StreamHeaders,
} from "./h2.js";

/**
 * A connection on the Node server: `ws.socket` is the net.Socket (or TLS socket); on an HTTP/2 stream, the
 * stream with its session socket's address fields (docs/NODE.md "HTTP/2").
 */
export type ServerConnection = CoreServerConnection<Buffer, Socket>;
export const ServerConnection = CoreServerConnection;
/** What `verifyClient` is told about a handshake. */
export type VerifyClientInfo = CoreVerifyClientInfo<http.IncomingMessage>;
/** Accept or refuse a handshake (docs/NODE.md). */
export type VerifyClient = CoreVerifyClient<http.IncomingMessage>;
/** Options of `broadcast`. */
export type BroadcastOptions = CoreBroadcastOptions<ServerConnection>;
/** Events of a WebSocketServer. */
export type ServerEvents = CoreServerEvents<http.IncomingMessage, ServerConnection>;
export type { Refusal } from "../../bindings/api/server-core.js";

/**
 * Server options; every limit has a safe default (docs/NODE.md). `C` is what a connection is handed out as:
 * an instance of the `WebSocket` option (default `ServerConnection`), as @types/ws infers it.
 */
export interface ServerOptions<C = ServerConnection> extends ServerCoreOptions<http.IncomingMessage> {
  /** Listen on this port (0: any free one). */
  port?: number;
  host?: string;
  backlog?: number;
  /** TLS key/cert/ca (node:tls options): listen for wss://. Only with `port`. */
  tls?: SecureContextOptions;
  /**
   * Attach to an existing server: an http/https server's 'upgrade' event; a node:http2 server's extended
   * CONNECT streams (RFC 8441; SETTINGS_ENABLE_CONNECT_PROTOCOL is turned on) and, with `allowHTTP1`,
   * its HTTP/1.1 upgrades.
   */
  server?: http.Server | https.Server | Http2Server;
  /** Neither listen nor attach: the application calls `handleUpgrade` (and `handleStream` for HTTP/2). */
  noServer?: boolean;
  /**
   * The class of the connections: the client class `WebSocket` or a subclass (as in ws), `ServerConnection`
   * or a subclass, or ws's own class (docs/NODE.md "Switching from ws").
   */
  WebSocket?: abstract new (...args: never[]) => C;
}

type UpgradeCallback<C> = (ws: C, req: http.IncomingMessage) => void;

/** How a ws-shaped class of the `WebSocket` option could run on a stream: it cannot (it needs a socket). */
const FOREIGN_ON_STREAM = "the WebSocket option's class cannot run on an HTTP/2 stream";

/** A ws-shaped connection class (ws's own WebSocket or a subclass): the server hands it the socket. */
interface ForeignWebSocket {
  _protocol?: string;
  setSocket(socket: Duplex, head: Buffer, options: Record<string, unknown>): void;
  once(event: "close", listener: () => void): unknown;
}
type ForeignWebSocketClass = new (address: null, protocols: undefined, options: object) => ForeignWebSocket;

function isForeignClass(value: unknown): value is ForeignWebSocketClass {
  return (
    typeof value === "function" &&
    !(value.prototype instanceof CoreServerConnection) &&
    typeof (value.prototype as { setSocket?: unknown }).setSocket === "function"
  );
}

const MODES_ERROR = 'One and only one of the "port", "server", or "noServer" options must be specified';

/** ws's rule: exactly one of port, server, noServer. */
export function checkModes<C>(options: ServerOptions<C> | undefined): ServerOptions<C> {
  const modes = [options?.port != null, !!options?.server, !!options?.noServer].filter(Boolean);
  if (modes.length !== 1) throw new TypeError(MODES_ERROR);
  return options!;
}

// Sockets handleUpgrade has seen: a second call for one is a misconfiguration (ws throws too). Those of our
// own port carry a mark instead: a WeakSet entry is an ephemeron the GC must visit, one per handshake.
const upgraded = new WeakSet<Duplex>();
const kUpgraded = Symbol("wasmsocket.upgraded");

function wasUpgraded(socket: Duplex): boolean {
  return upgraded.has(socket) || kUpgraded in socket;
}

// Servers attached to one http server, tried in order by path: one 'upgrade' listener per http server.
const attached = new WeakMap<http.Server, WebSocketServer[]>();

/** The request head as the client sent it, rebuilt from node:http's parse for the engine to judge. */
export function rawRequestHead(req: http.IncomingMessage): Uint8Array {
  return rawHead(`${req.method} ${req.url} HTTP/${req.httpVersion}`, req.rawHeaders, req.headers);
}

function destroySocket(_error: Error, socket: Duplex): void {
  socket.destroy();
}

/** A TCP connection's peer as `address|port`: the same for a TLS socket and the TCP socket under it. */
function peerKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/** A WebSocket server; `C`: its connections' class (the `WebSocket` option's, default `ServerConnection`). */
export class WebSocketServer<C = ServerConnection> extends ServerCore<
  http.IncomingMessage,
  Buffer,
  Socket,
  C
> {
  readonly options: ServerOptions<C>;
  /** The server listening on our own port, or the attached one. */
  private httpServer: net.Server | undefined;
  private ownsServer = false;
  /**
   * Our own port's sockets still in their handshake, with the time (`performance.now()`) each is cut at and
   * the head so far, in the order they came: one timer per server (`handshakeTimer`, due at the first deadline) instead of a
   * Timeout per connection.
   */
  private readonly handshakes = new Map<Duplex, OwnHandshake>();
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the handshake timer fires. */
  private handshakeTimerAt = 0;
  /**
   * A deadline came earlier than one before it (handshakeTimeout was lowered): the deadlines are no longer
   * in the map's order, and a sweep reads them all until the map empties.
   */
  private deadlinesUnordered = false;
  private lastDeadline = 0;
  /**
   * wss on our own port: TCP connections still in their TLS handshake, by peer address and port (the TLS
   * socket that node:tls makes of one has the same), so `close()` can end them: node:tls never hands them to
   * us, and the server's close would wait for them.
   */
  private readonly tlsHandshakes = new Map<string, Socket>();

  constructor(options: ServerOptions<C>, callback?: () => void) {
    super(checkModes(options), allocBuffer, nodeDeflateCodec);
    this.options = options;
    if (options.port != null) this.listen(options, callback);
    else if (options.server) this.attach(options.server as http.Server);
  }

  /** ws's name for the server listening on our port (a net.Server or tls.Server) or the attached one. */
  get _server(): net.Server | undefined {
    return this.httpServer;
  }

  /** The listening address (own or attached server). */
  address(): AddressInfo | string | null {
    if (this.options.noServer) throw new Error('The server is operating in "noServer" mode');
    if (!this.httpServer) return null;
    return this.httpServer.address();
  }

  /** Whether this server takes `req` (its path matches). */
  shouldHandle(req: http.IncomingMessage): boolean {
    return this.handlesPath(req.url ?? "/");
  }

  /**
   * Run the handshake on an upgrade request over any Duplex (a net.Socket gets zero-copy reads); `callback`
   * gets the open connection. Throws when called twice for one socket.
   */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, callback: UpgradeCallback<C>): void {
    if (wasUpgraded(socket))
      throw new Error(
        "server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration",
      );
    upgraded.add(socket);
    this.stopWatching(socket);
    socket.on("error", ignoreError);
    const request = this.parseHead(rawRequestHead(req));
    if (!request) return this.refuse(socket, 431);
    const secure = !!(req.socket as { encrypted?: boolean } | undefined)?.encrypted;
    this.decide(req, req.url ?? "/", request, secure, (decision) =>
      this.answer(req, socket, head, decision, (ws) => callback(ws, req)),
    );
  }

  /**
   * Run the handshake of a WebSocket on an HTTP/2 stream (RFC 8441): `stream` and `headers` as node:http2's
   * 'stream' event gives them (`rawHeaders`, its fourth argument, keeps the fields' order). Any stream may
   * be given: one that is not a valid extended CONNECT is refused with its status (405, 501, 400, 426).
   * `callback` gets the open connection (default: 'connection' is emitted). The server the stream came from
   * must advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (`settings: { enableConnectProtocol: true }`).
   */
  handleStream(
    stream: http2.ServerHttp2Stream,
    headers: StreamHeaders,
    callback?: UpgradeCallback<C>,
    rawHeaders?: string[],
  ): void {
    if (upgraded.has(stream))
      throw new Error("server.handleStream() was called more than once with the same stream");
    upgraded.add(stream);
    stream.on("error", ignoreError);
    const request = this.parseConnect(rawHeaders ?? rawHeadersOf(headers));
    const socket = stream.session?.socket as Socket | undefined;
    let built: http.IncomingMessage | undefined;
    const req = (): http.IncomingMessage => (built ??= incomingMessage(socket as Socket, request));
    const secure = !!(socket as { encrypted?: boolean } | undefined)?.encrypted;
    // An undecided stream (an async verifyClient that does not answer) is reset after handshakeTimeout, as
    // our own port cuts a connection that has not upgraded by then.
    const timer = setTimeout(() => {
      stream.off("close", stop);
      resetStream(stream);
    }, this.options.handshakeTimeout ?? defaults.handshakeTimeout);
    // The stream's session keeps the process alive, not this timer.
    timer.unref?.();
    const stop = () => clearTimeout(timer);
    stream.once("close", stop);
    this.decide(req, request.path, request, secure, (decision) => {
      stop();
      stream.off("close", stop);
      if (!("request" in decision)) {
        refuseStream(
          stream,
          decision.status,
          this.refusalText(decision.status, decision.message),
          decision.headers,
        );
        // After the answer (a stream takes no HTTP/1.1 text a listener may write): told, not asked.
        if (decision.clientError && this.listenerCount("wsClientError") > 0)
          this.emit("wsClientError", new Error(decision.message), streamSocket(stream), requestOf(req));
        return;
      }
      if (isForeignClass(this.options.WebSocket)) return refuseStream(stream, 501, FOREIGN_ON_STREAM);
      this.acceptStream(stream, socket, decision, req, callback);
    });
  }

  /** Open the connection an accepted stream carries (unless the peer reset it while verifyClient ran). */
  private acceptStream(
    stream: http2.ServerHttp2Stream,
    socket: Socket | undefined,
    decision: { request: UpgradeRequest; protocol: string },
    req: () => http.IncomingMessage,
    callback: UpgradeCallback<C> | undefined,
  ): void {
    if (stream.destroyed || stream.closed || stream.headersSent || !stream.session || stream.session.closed)
      return;
    const ws = this.accept(
      decision,
      req,
      {
        socket: streamSocket(stream),
        link: new Http2StreamLink(stream),
        remoteAddress: socket?.remoteAddress ?? "",
        respond: (fields) => stream.respond(responseFields(fields)),
      },
      (ws) => (callback ? callback(ws, req()) : this.emitConnection(ws, req)),
    );
    if (ws instanceof Uint8Array) return refuseStream(stream, 503, this.refusalText(503));
    bindSession(stream, ws.session);
  }

  protected stopListening(): Promise<void> {
    this.detach();
    const server = this.httpServer;
    if (!server || !this.ownsServer) return Promise.resolve();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  }

  protected dropHandshakes(): void {
    if (!this.httpServer || !this.ownsServer) return;
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    const sockets = [...this.handshakes.keys()];
    this.handshakes.clear();
    for (const socket of sockets) socket.destroy();
    // Still in their TLS handshake: the server's close would wait for them (up to the TLS handshake timeout).
    for (const socket of this.tlsHandshakes.values()) socket.destroy();
    this.tlsHandshakes.clear();
  }

  /** wss: a TCP connection in its TLS handshake, until it is secure or closes (`this` bound). */
  private readonly onTlsConnection = (socket: Socket): void => {
    const key = peerKey(socket);
    this.tlsHandshakes.set(key, socket);
    socket.once("close", () => {
      if (this.tlsHandshakes.get(key) === socket) this.tlsHandshakes.delete(key);
    });
  };

  private answer(
    req: RequestSource<http.IncomingMessage>,
    socket: Duplex,
    head: Buffer,
    decision: UpgradeDecision,
    callback: (ws: C) => void,
  ): void {
    if (!("request" in decision)) {
      if (!decision.clientError || this.listenerCount("wsClientError") === 0)
        return this.refuse(socket, decision.status, decision.response);
      this.emit("wsClientError", new Error(decision.message), socket, requestOf(req));
      return;
    }
    if (!socket.readable || !socket.writable || socket.destroyed) {
      socket.destroy();
      return;
    }
    if (isForeignClass(this.options.WebSocket)) return this.handOver(decision, req, socket, head, callback);
    const tcp = socket as Socket;
    const ws = this.accept(
      decision,
      req,
      { socket: tcp, link: new SocketLink(tcp), remoteAddress: tcp.remoteAddress ?? "" },
      callback,
    );
    if (ws instanceof Uint8Array) return this.refuse(socket, 503, ws);
    // Frames that arrived with the request are fed once the caller has attached its listeners.
    bindSession(tcp, ws.session, head);
  }

  /** The `WebSocket` option is a ws-shaped class: answer 101 and hand it the socket, as ws does. */
  private handOver(
    decision: { request: UpgradeRequest; protocol: string },
    req: RequestSource<http.IncomingMessage>,
    socket: Duplex,
    head: Buffer,
    callback: (ws: C) => void,
  ): void {
    if (this.closing) return this.refuse(socket, 503);
    const ws = new (this.options.WebSocket as unknown as ForeignWebSocketClass)(
      null,
      undefined,
      this.options,
    );
    // permessage-deflate is not offered to a foreign class: its codec is not ours to set up.
    const response = this.acceptResponse(decision, "", req);
    if (decision.protocol) ws._protocol = decision.protocol;
    socket.write(response);
    socket.off("error", ignoreError);
    ws.setSocket(socket, head, {
      allowSynchronousEvents: true,
      maxPayload: this.sessionOptions.maxPayload,
      skipUTF8Validation: false,
    });
    this.track(ws as unknown as ServerConnection);
    callback(ws as unknown as C);
  }

  private listen(options: ServerOptions<C>, callback?: () => void): void {
    // wss: the TLS handshake gets handshakeTimeout too (node:tls's own default is 120 s), so a connection
    // that never sends its ClientHello is cut as one that never sends its request is.
    const handshakeTimeout = options.handshakeTimeout ?? defaults.handshakeTimeout;
    const server = options.tls ? tls.createServer({ handshakeTimeout, ...options.tls }) : net.createServer();
    this.httpServer = server;
    this.ownsServer = true;
    if (options.tls) {
      server.on("connection", this.onTlsConnection);
      // node:tls reports a failed or timed-out TLS handshake here and leaves the socket open: cut it.
      server.on("tlsClientError", destroySocket);
    }
    // The socket to read is the TLS one for wss (TLS handshake failures never reach us: node:tls drops them).
    server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => this.onSocket(socket));
    server.on("listening", () => this.emit("listening"));
    server.on("error", (error) => this.emit("error", error));
    if (callback) this.once("listening", callback);
    server.listen(options.port, options.host, options.backlog);
  }

  /**
   * A connection to our own port: the engine reads the request head as it arrives (431 past maxHeaderSize,
   * its status for anything not an upgrade, 426 for plain HTTP), then the upgrade is decided as for
   * node:http's; frames sent right behind the head are fed once the connection is open.
   */
  private onSocket(socket: Socket): void {
    if (this.tlsHandshakes.size > 0) this.tlsHandshakes.delete(peerKey(socket));
    socket.on("error", ignoreError);
    const handshake = this.watchHandshake(socket);
    // A ws-shaped class (the WebSocket option) is handed the socket and reads it by 'data' events.
    // Read in place, the stream is not flowing (no 'data' listener): reads go on all the same, and a peer's
    // FIN is still 'end' (Node reads the end out at EOF), then our FIN.
    if (!isForeignClass(this.options.WebSocket) && readHeadInPlace(socket, this.onHeadRead)) return;
    const onData = (chunk: Buffer): void => this.headBytes(socket, handshake, chunk);
    handshake.onData = onData;
    socket.on("data", onData);
  }

  /**
   * A read of a socket in its handshake, read in place (`this` is the socket): one function per server. An
   * application listening to the socket's 'data' gets a copy of each read (it has the socket in a lazily
   * built request or in 'wsClientError'); once the handshake is over (refused), what comes is dropped.
   */
  private readonly onHeadRead = ((server: WebSocketServer<C>) =>
    function (this: Socket, length: number, buffer: Uint8Array): boolean {
      if (this.listenerCount("data") > 0) this.emit("data", Buffer.from(buffer.subarray(0, length)));
      const handshake = server.handshakes.get(this);
      if (handshake !== undefined) server.headBytes(this, handshake, buffer.subarray(0, length));
      return true;
    })(this);

  /**
   * Bytes of a socket in its handshake: the engine reads the head as it comes, then the upgrade is decided;
   * bytes after the head are kept (copied) for the connection.
   */
  private headBytes(socket: Socket, handshake: OwnHandshake, chunk: Uint8Array): void {
    const pending = handshake.pending;
    const request = this.takeHead(pending, chunk);
    if (!request) return;
    // The IncomingMessage (a Readable stream) is built only if something reads it (see `emitConnection`).
    let built: http.IncomingMessage | undefined;
    const req = (): http.IncomingMessage => (built ??= incomingMessage(socket, request));
    let decided = false;
    (socket as unknown as Record<symbol, boolean>)[kUpgraded] = true;
    this.decide(
      req,
      request.path,
      request,
      !!this.options.tls,
      (decision) => {
        decided = true;
        if (handshake.onData) socket.off("data", handshake.onData);
        this.stopWatching(socket);
        if (socket.isPaused()) socket.resume();
        const frames = pending.frames();
        const rest = Buffer.from(frames.buffer, frames.byteOffset, frames.length);
        this.answer(req, socket, rest, decision, (ws) => this.emitConnection(ws, req));
      },
      true,
    );
    // An async verifyClient: hold further bytes in the socket (its own backpressure) until it answers.
    if (!decided) socket.pause();
  }

  /**
   * 'connection' on our own port. `req` is built for any listener that may read it: every one declaring a
   * second parameter (or none, `(...args)`); a listener declaring only `ws` cannot see it, and when all are
   * such (or there is none) no IncomingMessage is built for the connection.
   */
  private emitConnection(ws: C, req: () => http.IncomingMessage): void {
    if (this.listenerCount("connection") === 0) return;
    const needed = this.someListener("connection", readsRequest);
    this.emit("connection", ws, needed ? req() : (undefined as unknown as http.IncomingMessage));
  }

  /**
   * Join the servers attached to `server`: one 'upgrade' listener per http server dispatches by path (a
   * path none takes gets 400, as in ws), and the last server to close removes it.
   */
  private attach(server: http.Server): void {
    this.httpServer = server;
    if (isHttp2Server(server)) {
      advertiseConnectProtocol(server);
      attachStreams(server, this.dispatched);
    }
    let servers = attached.get(server);
    if (!servers) {
      const list: WebSocketServer[] = [];
      servers = list;
      attached.set(server, list);
      server.on("upgrade", onAttachedUpgrade);
    }
    servers.push(this.dispatched);
    server.on("listening", this.onListening);
    server.on("error", this.onServerError);
  }

  private detach(): void {
    const server = this.httpServer;
    if (!server || this.ownsServer) return;
    const servers = attached.get(server as http.Server);
    const at = servers ? servers.indexOf(this.dispatched) : -1;
    if (servers && at >= 0) servers.splice(at, 1);
    if (servers && servers.length === 0) {
      attached.delete(server as http.Server);
      server.off("upgrade", onAttachedUpgrade);
    }
    server.off("listening", this.onListening);
    server.off("error", this.onServerError);
    if (isHttp2Server(server)) detachStreams(server, this.dispatched);
  }

  /**
   * This server as the dispatch of an attached server's upgrades and streams holds it: whatever its
   * connections' class, that code only hands it requests (`handleUpgrade`, `handleStream`) and reads its path.
   */
  private get dispatched(): WebSocketServer {
    return this as unknown as WebSocketServer;
  }

  private readonly onListening = (): void => {
    this.emit("listening");
  };

  private readonly onServerError = (error: Error): void => {
    this.emit("error", error);
  };

  /** Our own server: a connection that has not upgraded within handshakeTimeout is cut. */
  private watchHandshake(socket: Socket): OwnHandshake {
    const deadline = performance.now() + (this.options.handshakeTimeout ?? defaults.handshakeTimeout);
    if (deadline < this.lastDeadline) this.deadlinesUnordered = true;
    this.lastDeadline = deadline;
    const handshake: OwnHandshake = { deadline, pending: new PendingHead(), onData: null };
    this.handshakes.set(socket, handshake);
    // `on`, not `once` (a wrapper per socket): stopWatching removes it either way.
    socket.on("close", this.onHandshakeClose);
    if (this.handshakeTimer === undefined || deadline < this.handshakeTimerAt)
      this.armHandshakeTimer(deadline);
    return handshake;
  }

  /**
   * The timer fires at `deadline`. Unref'd: a socket in its handshake keeps the process alive by itself, and
   * once none is left the timer has nothing to cut.
   */
  private armHandshakeTimer(deadline: number): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimerAt = deadline;
    this.handshakeTimer = setTimeout(
      this.sweepHandshakes,
      Math.max(0, Math.ceil(deadline - performance.now())),
    );
    this.handshakeTimer.unref?.();
  }

  /** Cut the sockets past their deadline; the timer goes again for the next one, if any. */
  private readonly sweepHandshakes = (): void => {
    this.handshakeTimer = undefined;
    const deadlines = this.handshakes;
    const now = performance.now();
    const late: Duplex[] = [];
    let next = Infinity;
    for (const [socket, { deadline }] of deadlines) {
      if (deadline > now) {
        next = Math.min(next, deadline);
        // In order, the first one not due is the next deadline.
        if (!this.deadlinesUnordered) break;
      } else late.push(socket);
    }
    for (const socket of late) {
      deadlines.delete(socket);
      socket.destroy();
    }
    if (deadlines.size === 0) this.deadlinesUnordered = false;
    if (next !== Infinity) this.armHandshakeTimer(next);
  };

  /** A socket closed during its handshake (`this` is the socket): one listener shared by every socket. */
  private readonly onHandshakeClose = ((server: WebSocketServer<C>) =>
    function (this: Duplex): void {
      server.stopWatching(this);
    })(this);

  /** The handshake is over: drop its deadline and the close listener (which would keep them alive). */
  private stopWatching(socket: Duplex): void {
    if (!this.handshakes.delete(socket)) return;
    socket.off("close", this.onHandshakeClose);
  }

  /** @internal Answer with the refusal for `status` and close the socket. */
  refuse(socket: Duplex, status: number, response = this.refusal(status)): void {
    if (!socket.writable || socket.destroyed) {
      socket.destroy();
      return;
    }
    socket.once("finish", () => linger(socket, this.options.closeTimeout ?? defaults.closeTimeout));
    socket.end(response);
  }
}

/** A socket of our own port in its handshake. */
interface OwnHandshake {
  /** When it is cut (`performance.now()`). */
  deadline: number;
  /** The head so far, then the frames after it. */
  pending: PendingHead;
  /** Its 'data' listener, when it is not read in place (TLS, a ws-shaped `WebSocket` class). */
  onData: ((chunk: Buffer) => void) | null;
}

/** A 'connection' listener that may read its second argument (it declares one, or none: `(...args)`). */
function readsRequest(listener: (...args: never[]) => void): boolean {
  return listener.length !== 1;
}

/**
 * After a refusal is written: read and drop what the peer still sends until its FIN (or `ms`), then close.
 * Closing with its bytes unread would make the kernel reset the connection, and the reset can reach a peer
 * still sending (a 16 MiB head) before it read our answer.
 */
function linger(socket: Duplex, ms: number): void {
  if (socket.destroyed) return;
  socket.removeAllListeners("data");
  // Read in place, what comes is dropped by the socket's read callback (with no 'data' listener, no copy).
  if (!readsInPlace(socket)) socket.on("data", ignoreError);
  const timer = setTimeout(() => socket.destroy(), ms);
  socket.once("close", () => clearTimeout(timer));
  socket.once("end", () => socket.destroy());
  socket.resume();
}

/** An attached http server's 'upgrade' (`this`): the first of its WebSocketServers whose path matches. */
function onAttachedUpgrade(this: http.Server, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  const list = attached.get(this) ?? [];
  const wss = list.find((candidate) => candidate.shouldHandle(req));
  if (wss) wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  else if (list.length > 0) list[0].refuse(socket, 400);
  else socket.destroy();
}

export { DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_PAYLOAD };
