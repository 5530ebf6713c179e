// WebSocketServer shaped like ws's: own port, attach to an http(s) server, or handleUpgrade for any
// framework. On its own port it listens with node:net (node:tls for wss) and the engine reads the request
// head off the socket, as on Bun, with no HTTP parser or server in between; attached and noServer, node:http
// parses the request and the engine judges the head rebuilt from it. Either way the engine decides every
// handshake answer (docs/ENGINE.md "Handshake") and bindings/server-core.ts everything else.
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
  type BroadcastOptions as CoreBroadcastOptions,
  type ServerCoreOptions,
  type ServerEvents as CoreServerEvents,
  type UpgradeDecision,
  type VerifyClient as CoreVerifyClient,
  type VerifyClientInfo as CoreVerifyClientInfo,
} from "../../bindings/server-core.js";
import { defaults } from "../../bindings/config.js";
import type { UpgradeRequest } from "../../bindings/handshake.js";
import { ServerConnection as CoreServerConnection } from "../../bindings/server-connection.js";
import { nodeDeflateCodec } from "./deflate.js";
import { allocBuffer, bindSession, SocketLink } from "./link.js";

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
export type { Refusal } from "../../bindings/server-core.js";

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

// Servers attached to one http server, tried in order by path: one 'upgrade' listener per http server.
const attached = new WeakMap<http.Server, WebSocketServer[]>();

/** The request head as the client sent it, rebuilt from node:http's parse for the engine to judge. */
export function rawRequestHead(req: http.IncomingMessage): Uint8Array {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return Buffer.from(head + "\r\n", "latin1");
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
    super(options, allocBuffer, nodeDeflateCodec);
    const modes = [options.port !== undefined, !!options.server, !!options.noServer].filter(Boolean);
    if (modes.length !== 1)
      throw new TypeError("WebSocketServer: give exactly one of port, server, noServer");
    this.options = options;
    if (options.port !== undefined) this.listen(options, callback);
    else if (options.server) this.attach(options.server);
  }

  /** The listening address (own or attached server). */
  address(): AddressInfo | string | null {
    if (!this.httpServer) throw new Error("WebSocketServer is in noServer mode");
    return this.httpServer.address();
  }

  /** Whether this server takes `req` (its path matches). */
  shouldHandle(req: http.IncomingMessage): boolean {
    return this.handlesPath(req.url ?? "/");
  }

  /** Run the handshake on an upgrade request; `callback` gets the open connection. */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, callback: UpgradeCallback): void {
    this.stopWatching(socket);
    socket.on("error", ignoreError);
    const request = this.parseHead(rawRequestHead(req));
    if (!request) return this.refuse(socket, 431);
    this.decide(req, req.url ?? "/", request, "encrypted" in req.socket, (decision) =>
      this.answer(req, socket, head, decision, callback),
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
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    decision: UpgradeDecision,
    callback: UpgradeCallback,
  ): void {
    if (!("request" in decision)) return this.refuse(socket, decision.status, decision.response);
    if (!socket.readable || !socket.writable || socket.destroyed) {
      socket.destroy();
      return;
    }
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
      const req = incomingMessage(socket, request);
      let decided = false;
      this.decide(req, request.path, request, !!this.options.tls, (decision) => {
        decided = true;
        socket.off("data", onData);
        this.stopWatching(socket);
        if (socket.isPaused()) socket.resume();
        const rest = Buffer.from(pending.bytes.buffer, pending.bytes.byteOffset + request.headEnd);
        this.answer(req, socket, rest, decision, (ws) => this.emit("connection", ws, req));
      });
      // An async verifyClient: hold further bytes in the socket (its own backpressure) until it answers.
      if (!decided) socket.pause();
    };
    socket.on("data", onData);
  }

  private attach(server: http.Server): void {
    this.httpServer = server;
    let servers = attached.get(server);
    if (!servers) {
      const list: WebSocketServer[] = [];
      servers = list;
      attached.set(server, list);
      server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
        const wss = list.find((candidate) => candidate.shouldHandle(req));
        if (wss) wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
        else if (list.length > 0) list[0].refuse(socket, 404);
        else socket.destroy();
      });
    }
    servers.push(this);
    server.on("listening", this.onListening);
    server.on("error", this.onServerError);
  }

  private detach(): void {
    const server = this.httpServer;
    if (!server || this.ownsServer) return;
    const servers = attached.get(server as http.Server);
    if (servers) servers.splice(servers.indexOf(this), 1);
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
    socket.once("close", this.onHandshakeClose);
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

  /** Answer with the engine's refusal for `status` and close the socket. */
  private refuse(socket: Duplex, status: number, response = this.refusal(status)): void {
    if (!socket.writable || socket.destroyed) {
      socket.destroy();
      return;
    }
    socket.once("finish", () => socket.destroy());
    socket.end(response);
  }
}

function ignoreError(): void {}

export { DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_PAYLOAD };
