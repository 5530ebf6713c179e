// WebSocketServer shaped like ws's: own port, attach to an http(s) server, or handleUpgrade for any
// framework. On its own port it listens with node:net (node:tls for wss) and the engine reads the request
// head off the socket, as on Bun, with no HTTP parser or server in between; attached and noServer, node:http
// parses the request and the engine judges the head rebuilt from it. Either way the engine decides every
// handshake answer (docs/ENGINE.md "Handshake") and bindings/api/server-core.ts everything else.
import * as http from "node:http";
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
import { allocBuffer, bindSession, rawHead, SocketLink } from "./link.js";

/** A connection on the Node server: `ws.socket` is the net.Socket (or TLS socket). */
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

/** Server options; every limit has a safe default (docs/NODE.md). */
export interface ServerOptions extends ServerCoreOptions<http.IncomingMessage> {
  /** Listen on this port (0: any free one). */
  port?: number;
  host?: string;
  backlog?: number;
  /** TLS key/cert/ca (node:tls options): listen for wss://. Only with `port`. */
  tls?: SecureContextOptions;
  /** Attach to an existing http/https server's 'upgrade' event. */
  server?: http.Server | https.Server;
  /** Neither listen nor attach: the application calls `handleUpgrade`. */
  noServer?: boolean;
}

type UpgradeCallback = (ws: ServerConnection, req: http.IncomingMessage) => void;

/** A ws-shaped connection class (ws's own WebSocket or a subclass): the server hands it the socket. */
interface ForeignWebSocket {
  _protocol?: string;
  setSocket(socket: Duplex, head: Buffer, options: Record<string, unknown>): void;
  once(event: "close", listener: () => void): unknown;
}
type ForeignWebSocketClass = new (
  address: null,
  protocols: undefined,
  options: ServerOptions,
) => ForeignWebSocket;

function isForeignClass(value: unknown): value is ForeignWebSocketClass {
  return (
    typeof value === "function" &&
    !(value.prototype instanceof CoreServerConnection) &&
    typeof (value.prototype as { setSocket?: unknown }).setSocket === "function"
  );
}

const MODES_ERROR = 'One and only one of the "port", "server", or "noServer" options must be specified';

/** ws's rule: exactly one of port, server, noServer. */
function checkModes(options: ServerOptions | undefined): ServerOptions {
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

/**
 * The request object of a connection on our own port: a real `http.IncomingMessage` (what `ws` hands out),
 * filled from the engine's reading of the head. `headers` is computed by Node from `rawHeaders` when first
 * read, with node:http's rules for repeated fields.
 */
function incomingMessage(socket: Socket, request: UpgradeRequest): http.IncomingMessage {
  const req = new http.IncomingMessage(socket);
  req.method = request.method;
  req.url = request.path;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = "1.1";
  const lines = req as unknown as { _addHeaderLines?: (raw: string[], n: number) => void };
  if (typeof lines._addHeaderLines === "function")
    lines._addHeaderLines(request.rawHeaders, request.rawHeaders.length);
  else {
    req.rawHeaders = request.rawHeaders;
    req.headers = request.headers;
  }
  req.complete = true;
  (req as unknown as { upgrade: boolean }).upgrade = true;
  return req;
}

/** A WebSocket server. */
export class WebSocketServer extends ServerCore<http.IncomingMessage, Buffer, Socket> {
  readonly options: ServerOptions;
  /** The server listening on our own port, or the attached one. */
  private httpServer: net.Server | undefined;
  private ownsServer = false;
  private readonly handshakeTimers = new Map<Duplex, ReturnType<typeof setTimeout>>();

  constructor(options: ServerOptions, callback?: () => void) {
    super(checkModes(options), allocBuffer, nodeDeflateCodec);
    this.options = options;
    if (options.port != null) this.listen(options, callback);
    else if (options.server) this.attach(options.server);
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
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, callback: UpgradeCallback): void {
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

  protected stopListening(): Promise<void> {
    this.detach();
    const server = this.httpServer;
    if (!server || !this.ownsServer) return Promise.resolve();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  }

  protected dropHandshakes(): void {
    if (!this.httpServer || !this.ownsServer) return;
    for (const [socket, timer] of this.handshakeTimers) {
      clearTimeout(timer);
      socket.destroy();
    }
  }

  private answer(
    req: RequestSource<http.IncomingMessage>,
    socket: Duplex,
    head: Buffer,
    decision: UpgradeDecision,
    callback: (ws: ServerConnection) => void,
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
    socket.off("error", ignoreError);
    // Frames that arrived with the request are fed once the caller has attached its listeners.
    bindSession(tcp, ws.session, head);
  }

  /** The `WebSocket` option is a ws-shaped class: answer 101 and hand it the socket, as ws does. */
  private handOver(
    decision: { request: UpgradeRequest; protocol: string },
    req: RequestSource<http.IncomingMessage>,
    socket: Duplex,
    head: Buffer,
    callback: (ws: ServerConnection) => void,
  ): void {
    if (this.closing) return this.refuse(socket, 503);
    const ws = new (this.options.WebSocket as ForeignWebSocketClass)(null, undefined, this.options);
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
    callback(ws as unknown as ServerConnection);
  }

  private listen(options: ServerOptions, callback?: () => void): void {
    const server = options.tls ? tls.createServer(options.tls) : net.createServer();
    this.httpServer = server;
    this.ownsServer = true;
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
    socket.on("error", ignoreError);
    this.watchHandshake(socket);
    const pending = new PendingHead();
    const onData = (chunk: Buffer): void => {
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
          socket.off("data", onData);
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
    };
    socket.on("data", onData);
  }

  /**
   * 'connection' on our own port. `req` is built for any listener that may read it: every one declaring a
   * second parameter (or none, `(...args)`); a listener declaring only `ws` cannot see it, and when all are
   * such (or there is none) no IncomingMessage is built for the connection.
   */
  private emitConnection(ws: ServerConnection, req: () => http.IncomingMessage): void {
    const listeners = this.listeners("connection");
    if (listeners.length === 0) return;
    let needed = false;
    for (const listener of listeners) if (listener.length !== 1) needed = true;
    this.emit("connection", ws, needed ? req() : (undefined as unknown as http.IncomingMessage));
  }

  /**
   * Join the servers attached to `server`: one 'upgrade' listener per http server dispatches by path (a
   * path none takes gets 400, as in ws), and the last server to close removes it.
   */
  private attach(server: http.Server): void {
    this.httpServer = server;
    let servers = attached.get(server);
    if (!servers) {
      const list: WebSocketServer[] = [];
      servers = list;
      attached.set(server, list);
      server.on("upgrade", onAttachedUpgrade);
    }
    servers.push(this);
    server.on("listening", this.onListening);
    server.on("error", this.onServerError);
  }

  private detach(): void {
    const server = this.httpServer;
    if (!server || this.ownsServer) return;
    const servers = attached.get(server as http.Server);
    const at = servers ? servers.indexOf(this) : -1;
    if (servers && at >= 0) servers.splice(at, 1);
    if (servers && servers.length === 0) {
      attached.delete(server as http.Server);
      server.off("upgrade", onAttachedUpgrade);
    }
    server.off("listening", this.onListening);
    server.off("error", this.onServerError);
  }

  private readonly onListening = (): void => {
    this.emit("listening");
  };

  private readonly onServerError = (error: Error): void => {
    this.emit("error", error);
  };

  /** Our own server: a connection that has not upgraded within handshakeTimeout is cut. */
  private watchHandshake(socket: Socket): void {
    if (this.handshakeTimers.has(socket)) return;
    const timer = setTimeout(() => {
      this.handshakeTimers.delete(socket);
      socket.destroy();
    }, this.options.handshakeTimeout ?? defaults.handshakeTimeout);
    this.handshakeTimers.set(socket, timer);
    // `on`, not `once` (a wrapper per socket): stopWatching removes it either way.
    socket.on("close", this.onHandshakeClose);
  }

  /** A socket closed during its handshake (`this` is the socket): one listener shared by every socket. */
  private readonly onHandshakeClose = ((server: WebSocketServer) =>
    function (this: Duplex): void {
      server.stopWatching(this);
    })(this);

  /** The handshake is over: drop its timer and the close listener (which would keep them alive). */
  private stopWatching(socket: Duplex): void {
    const timer = this.handshakeTimers.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.handshakeTimers.delete(socket);
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

function ignoreError(): void {}

/**
 * After a refusal is written: read and drop what the peer still sends until its FIN (or `ms`), then close.
 * Closing with its bytes unread would make the kernel reset the connection, and the reset can reach a peer
 * still sending (a 16 MiB head) before it read our answer.
 */
function linger(socket: Duplex, ms: number): void {
  if (socket.destroyed) return;
  socket.removeAllListeners("data");
  socket.on("data", ignoreError);
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
