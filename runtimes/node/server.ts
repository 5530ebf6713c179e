// WebSocketServer shaped like ws's: own port, attach to an http(s) server, or handleUpgrade for any
// framework. node:http parses the request; the engine decides every handshake answer from the rebuilt head
// (docs/ENGINE.md "Handshake"), so Node, Bun and WAMR refuse and accept the same requests.
import { EventEmitter } from "node:events";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { SecureContextOptions } from "node:tls";
import {
  buildAcceptResponse,
  buildRejection,
  parseUpgradeRequest,
  selectSubprotocol,
  type UpgradeRequest,
} from "../../bindings/handshake.js";
import { heartbeatOptions, type HeartbeatOptions } from "../../bindings/heartbeat.js";
import {
  acceptDeflateOffer,
  deflateOptions,
  type PerMessageDeflateOptions,
} from "../../bindings/extensions.js";
import { PerMessageDeflate } from "../../bindings/permessage-deflate.js";
import { nodeDeflateCodec } from "./deflate.js";
import { sharedPool, type EnginePool, type SlotHandle } from "../../bindings/pool.js";
import { CloseCode } from "../../bindings/errors.js";
import { ServerConnection } from "./server-connection.js";
import type { SendData, TransportOptions } from "./transport.js";

/** What `verifyClient` is told about a handshake. */
export interface VerifyClientInfo {
  origin: string;
  secure: boolean;
  req: http.IncomingMessage;
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
export type VerifyClient = (
  info: VerifyClientInfo,
  callback: (accept: boolean, status?: number, reason?: string) => void,
) => boolean | Refusal | Promise<boolean | Refusal> | void;

/** Server options; every limit has a safe default (docs/NODE.md). */
export interface ServerOptions {
  /** Listen on this port (0: any free one). */
  port?: number;
  host?: string;
  backlog?: number;
  /** TLS key/cert/ca: listen with https (wss://). Only with `port`. */
  tls?: SecureContextOptions;
  /** Attach to an existing http/https server's 'upgrade' event. */
  server?: http.Server | https.Server;
  /** Neither listen nor attach: the application calls `handleUpgrade`. */
  noServer?: boolean;
  /** Accept only this path (query ignored); other paths get 404. */
  path?: string;
  /** Largest message accepted, bytes (default 16 MiB); past it the peer is closed with 1009. */
  maxPayload?: number;
  /** Most open connections (default Infinity); the next handshake gets 503. */
  maxClients?: number;
  /** Subprotocols supported, in no particular order: the client's first one listed here is chosen. */
  protocols?: string[];
  /** Choose the subprotocol yourself (ws style); false for none. Overrides `protocols`. */
  handleProtocols?: (protocols: Set<string>, req: http.IncomingMessage) => string | false;
  verifyClient?: VerifyClient;
  /** Accepted Origin values, or a predicate; others get 403. Requests without Origin pass. */
  allowedOrigins?: string[] | ((origin: string) => boolean);
  /** Ms a connection of our own http server may take to send its upgrade request (default 10 000). */
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
  /**
   * permessage-deflate (RFC 7692): off by default, as in ws; `true` or options to accept clients' offers
   * (docs/DEFLATE.md). maxPayload then bounds the inflated size.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

/** Options of `broadcast`. */
export interface BroadcastOptions {
  /** Skip this connection (or these). */
  except?: ServerConnection | ServerConnection[];
  /** Send only to connections this returns true for. */
  filter?: (ws: ServerConnection) => boolean;
  /** Send as binary (default: true for bytes, false for strings). */
  binary?: boolean;
}

/** Events of a WebSocketServer. */
export interface ServerEvents {
  listening: [];
  connection: [ws: ServerConnection, req: http.IncomingMessage];
  headers: [headers: string[], req: http.IncomingMessage];
  close: [];
  error: [error: Error];
}

type UpgradeCallback = (ws: ServerConnection, req: http.IncomingMessage) => void;

export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;

// Servers attached to one http server, tried in order by path: one 'upgrade' listener per http server.
const attached = new WeakMap<http.Server, WebSocketServer[]>();
// Refusal bytes are constant per status: built by the engine once.
const rejections = new Map<number, Uint8Array>();

function rejectionBytes(pool: EnginePool, status: number): Uint8Array {
  let bytes = rejections.get(status);
  if (!bytes) {
    const handle = pool.acquire();
    bytes = buildRejection(handle.engine, status);
    pool.release(handle);
    rejections.set(status, bytes);
  }
  return bytes;
}

/** The request head as the client sent it, rebuilt from node:http's parse for the engine to judge. */
export function rawRequestHead(req: http.IncomingMessage): Uint8Array {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return Buffer.from(head + "\r\n", "latin1");
}

function pathOf(url: string | undefined): string {
  const target = url ?? "/";
  const query = target.indexOf("?");
  return query === -1 ? target : target.slice(0, query);
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

/** A WebSocket server. */
export class WebSocketServer extends EventEmitter<ServerEvents> {
  /** Open connections. */
  readonly clients = new Set<ServerConnection>();
  readonly options: ServerOptions;
  private readonly pool: EnginePool;
  private readonly byId = new Map<number, ServerConnection>();
  private readonly transportOptions: Omit<TransportOptions, "role">;
  private readonly maxHeaderSize: number;
  private readonly deflate: PerMessageDeflateOptions | null;
  private httpServer: http.Server | undefined;
  private ownsServer = false;
  private pending = 0;
  private closing: Promise<void> | undefined;
  private readonly handshakeTimers = new Map<Duplex, ReturnType<typeof setTimeout>>();

  constructor(options: ServerOptions, callback?: () => void) {
    super();
    const modes = [options.port !== undefined, !!options.server, !!options.noServer].filter(Boolean);
    if (modes.length !== 1)
      throw new TypeError("WebSocketServer: give exactly one of port, server, noServer");
    this.options = options;
    this.pool = options.pool ?? sharedPool();
    this.maxHeaderSize = options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
    this.deflate = deflateOptions(options.perMessageDeflate);
    this.transportOptions = {
      maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      fragments: options.fragments ?? "message",
      heartbeat: heartbeatOptions(options.heartbeat, true),
      highWaterMark: Math.max(options.highWaterMark ?? 64 * 1024, 16 * 1024),
      maxBufferedAmount: options.maxBufferedAmount ?? 32 * 1024 * 1024,
      closeTimeout: options.closeTimeout ?? 10_000,
    };
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
    return this.options.path === undefined || pathOf(req.url) === this.options.path;
  }

  /** Run the handshake on an upgrade request; `callback` gets the open connection. */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, callback: UpgradeCallback): void {
    const timer = this.handshakeTimers.get(socket);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.handshakeTimers.delete(socket);
    }
    socket.on("error", ignoreError);
    if (this.closing) return this.refuse(socket, 503);
    if (!this.shouldHandle(req)) return this.refuse(socket, 404);
    if (this.clients.size + this.pending >= (this.options.maxClients ?? Infinity))
      return this.refuse(socket, 503);
    const handle = this.pool.acquire();
    const request = parseUpgradeRequest(handle.engine, rawRequestHead(req), {
      maxHeaderBytes: this.maxHeaderSize,
    });
    const status = request?.status ?? 431;
    if (!request || status !== 101) return this.refuse(socket, status, handle);
    const origin = request.origin;
    if (origin && !this.originAllowed(origin)) return this.refuse(socket, 403, handle);
    const protocol = this.chooseProtocol(handle, request, req);
    if (!this.options.verifyClient)
      return this.accept(req, socket, head, handle, request, protocol, callback);
    this.pending++;
    this.verify(req, origin, (accept, status) => {
      this.pending--;
      if (!accept) return this.refuse(socket, status ?? 401, handle);
      this.accept(req, socket, head, handle, request, protocol, callback);
    });
  }

  /** Send one message to every open connection (or those `options` select). */
  broadcast(data: SendData, options: BroadcastOptions = {}): void {
    const binary = options.binary ?? typeof data !== "string";
    // Encode text once, not once per client.
    const payload = typeof data === "string" ? Buffer.from(data) : data;
    const except = options.except;
    for (const ws of this.clients) {
      if (ws.readyState !== ServerConnection.OPEN) continue;
      if (except && (Array.isArray(except) ? except.includes(ws) : except === ws)) continue;
      if (options.filter && !options.filter(ws)) continue;
      ws.send(payload, { binary });
    }
  }

  /** Close one connection by object or id (default 1000). */
  disconnect(target: ServerConnection | number, code: number = CloseCode.Normal, reason = ""): boolean {
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
    this.detach();
    const server = this.httpServer;
    const stopped =
      server && this.ownsServer
        ? new Promise<void>((resolve) => server.close(() => resolve()))
        : Promise.resolve();
    if (server && this.ownsServer) server.closeIdleConnections();
    await Promise.all(gone);
    if (server && this.ownsServer) {
      for (const [socket, timer] of this.handshakeTimers) {
        clearTimeout(timer);
        socket.destroy();
      }
      server.closeAllConnections();
    }
    await stopped;
    this.emit("close");
  }

  private listen(options: ServerOptions, callback?: () => void): void {
    const serverOptions = { maxHeaderSize: Math.max(this.maxHeaderSize, 1024) };
    const server = options.tls
      ? https.createServer({ ...options.tls, ...serverOptions })
      : http.createServer(serverOptions);
    this.httpServer = server;
    this.ownsServer = true;
    server.on("request", (req, res) => this.onPlainRequest(req, res));
    server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
      this.refuse(socket, error.code === "HPE_HEADER_OVERFLOW" ? 431 : 400);
    });
    // The upgrade's socket is the TLS one for https, the TCP one for http.
    server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) =>
      this.watchHandshake(socket),
    );
    server.on("upgrade", (req, socket, head) =>
      this.handleUpgrade(req, socket, head, (ws) => this.emit("connection", ws, req)),
    );
    server.on("listening", () => this.emit("listening"));
    server.on("error", (error) => this.emit("error", error));
    if (callback) this.once("listening", callback);
    server.listen(options.port, options.host, options.backlog);
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
    const servers = attached.get(server);
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
    }, this.options.handshakeTimeout ?? 10_000);
    this.handshakeTimers.set(socket, timer);
    socket.once("close", () => {
      clearTimeout(timer);
      this.handshakeTimers.delete(socket);
    });
  }

  /** A plain HTTP request to our own server: answered with the engine's refusal for it. */
  private onPlainRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const handle = this.pool.acquire();
    const request = parseUpgradeRequest(handle.engine, rawRequestHead(req), {
      maxHeaderBytes: this.maxHeaderSize,
    });
    this.pool.release(handle);
    const status = request && request.status !== 101 ? request.status : 426;
    res.socket?.end(rejectionBytes(this.pool, status));
  }

  private originAllowed(origin: string): boolean {
    const allowed = this.options.allowedOrigins;
    if (!allowed) return true;
    return typeof allowed === "function" ? allowed(origin) : allowed.includes(origin);
  }

  private chooseProtocol(handle: SlotHandle, request: UpgradeRequest, req: http.IncomingMessage): string {
    if (request.protocols.length === 0) return "";
    if (this.options.handleProtocols) {
      const chosen = this.options.handleProtocols(new Set(request.protocols), req);
      return chosen === false ? "" : chosen;
    }
    if (!this.options.protocols) return "";
    return selectSubprotocol(handle.engine, request.protocols, this.options.protocols) ?? "";
  }

  private verify(
    req: http.IncomingMessage,
    origin: string,
    done: (accept: boolean, status?: number) => void,
  ): void {
    const verifyClient = this.options.verifyClient!;
    const info: VerifyClientInfo = { origin, secure: "encrypted" in req.socket, req };
    const settle = (result: boolean | Refusal) =>
      result === true ? done(true) : done(false, result === false ? 401 : (result.status ?? 401));
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

  private accept(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    handle: SlotHandle,
    request: UpgradeRequest,
    protocol: string,
    callback: UpgradeCallback,
  ): void {
    if (!socket.readable || !socket.writable || socket.destroyed) {
      this.pool.release(handle);
      socket.destroy();
      return;
    }
    if (this.closing) return this.refuse(socket, 503, handle);
    const accepted = this.deflate && acceptDeflateOffer(request.extensions, this.deflate);
    const lines: string[] = accepted ? [`Sec-WebSocket-Extensions: ${accepted.response}`] : [];
    this.emit("headers", lines, req);
    const response = buildAcceptResponse(handle.engine, request.key, protocol, headerRecord(lines));
    socket.off("error", ignoreError);
    socket.write(response);
    const options = accepted
      ? {
          ...this.transportOptions,
          deflate: new PerMessageDeflate(accepted.session, nodeDeflateCodec, {
            ...this.deflate,
            maxPayload: this.transportOptions.maxPayload,
          }),
        }
      : this.transportOptions;
    const ws = new ServerConnection(
      socket as Socket,
      this.pool,
      handle,
      protocol,
      options,
      accepted ? accepted.response : "",
    );
    this.clients.add(ws);
    this.byId.set(ws.id, ws);
    ws.once("close", () => {
      this.clients.delete(ws);
      this.byId.delete(ws.id);
    });
    ws.start();
    callback(ws, req);
    // Frames that arrived with the request are fed once the caller has attached its listeners.
    if (head.length > 0) ws.receive(head);
  }

  /** Answer with the engine's refusal for `status` and close the socket. */
  private refuse(socket: Duplex, status: number, handle?: SlotHandle): void {
    if (handle) this.pool.release(handle);
    if (!socket.writable || socket.destroyed) {
      socket.destroy();
      return;
    }
    socket.once("finish", () => socket.destroy());
    socket.end(rejectionBytes(this.pool, status));
  }
}

function ignoreError(): void {}
