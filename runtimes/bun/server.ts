// WebSocketServer on Bun: `Bun.listen` (raw TCP or TLS) owns the sockets; the engine reads the request
// head (bindings/protocol/handshake.ts) and bindings/api/server-core.ts decides every answer, as on Node.
import type { Socket, TCPSocketListener } from "bun";
import type * as http from "node:http";
import type * as net from "node:net";
import {
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_MAX_PAYLOAD,
  PendingHead,
  ServerCore,
  type ServerCoreOptions,
  type UpgradeDecision,
} from "../../bindings/api/server-core.js";
import { defaults } from "../../bindings/policies/config.js";
import type { ServerConnection } from "../../bindings/api/server-connection.js";
import type { SessionSocket } from "../../bindings/protocol/session.js";
import { allocBuffer, rethrowing, SocketLink } from "./link.js";
import type { NetSocket } from "./net-socket.js";
import { incomingMessage } from "../node/request.js";
import { bunDeflateCodec } from "./deflate.js";
import {
  checkModes,
  WebSocketServer as NodeWebSocketServer,
  type ServerOptions as NodeServerOptions,
} from "../node/server.js";

/**
 * The upgrade request, as `verifyClient`, `handleProtocols`, 'headers' and 'connection' get it: an
 * `http.IncomingMessage` as on Node (ws's `req`), filled from the engine's reading of the head (`method`,
 * `url`, `httpVersion`, `rawHeaders` as sent, `headers` by node:http's rules), whose `socket` is the
 * connection's `net.Socket`-shaped view of Bun's socket (runtimes/bun/net-socket.ts; the connection's
 * `_socket`). Also `remoteAddress` and `secure`, as before. Built only when something can read it (as on
 * Node's own port: a 'connection' listener declaring only `ws` gets `undefined`).
 */
export interface UpgradeRequestInfo extends http.IncomingMessage {
  /** The request's method (always set here). */
  method: string;
  /** The request target: path and query (always set here). */
  url: string;
  /** The peer's IP address (`socket.remoteAddress`). */
  remoteAddress: string;
  /** Whether it came over TLS. */
  secure: boolean;
}

/** TLS material for wss:// (PEM text or bytes, as `Bun.listen`'s `tls` takes). */
export interface ServerTlsOptions {
  key: string | Uint8Array | Array<string | Uint8Array>;
  cert: string | Uint8Array | Array<string | Uint8Array>;
  ca?: string | Uint8Array | Array<string | Uint8Array>;
  passphrase?: string;
}

/** Server options (docs/BUN.md): those of Node's server that need no node:http. */
export interface ServerOptions extends ServerCoreOptions<UpgradeRequestInfo> {
  /** Listen on this port (0: any free one). */
  port: number;
  /** Address to listen on (default "0.0.0.0"); `host` is the Node spelling. */
  hostname?: string;
  host?: string;
  /** Listen with TLS (wss://). */
  tls?: ServerTlsOptions;
  /** SO_REUSEPORT: several processes listen on one port and the kernel spreads connections (Linux). */
  reusePort?: boolean;
}

/** A connection on the Bun server: `ws.socket` is Bun's socket, `ws._socket` a `net.Socket`-shaped view of it. */
export type BunServerConnection = ServerConnection<Buffer, Socket<Peer>, NetSocket>;

/** One accepted TCP connection: its handshake, then its WebSocket. */
class Peer extends SocketLink<Peer> {
  ws: BunServerConnection | null = null;
  readonly head = new PendingHead();
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Refused, and handed to a 'wsClientError' listener: what the peer sends next is dropped. */
  handedOver = false;
}

/**
 * A WebSocket server on Bun. With `port` it listens itself (`Bun.listen`); with `server` (a node:http,
 * node:https or node:http2 server) or `noServer` (`handleUpgrade`) the constructor returns the Node host's
 * server instead, which runs on Bun's node:http as on Node, so code written for ws works with one changed
 * import on Bun too. `instanceof WebSocketServer` holds for both.
 */
export class WebSocketServer extends ServerCore<
  UpgradeRequestInfo,
  Buffer,
  Socket<Peer>,
  BunServerConnection
> {
  readonly options!: ServerOptions;
  private listener: TCPSocketListener<Peer> | undefined;
  /** close() stopped the listener. */
  private unlistened = false;
  private readonly handshaking!: Set<Peer>;

  constructor(options: ServerOptions | NodeServerOptions, callback?: () => void) {
    if (checkModes(options as NodeServerOptions).port == null)
      return new NodeWebSocketServer(options as NodeServerOptions, callback) as unknown as WebSocketServer;
    super(options as ServerOptions, allocBuffer, bunDeflateCodec);
    this.handshaking = new Set<Peer>();
    this.options = options as ServerOptions;
    if (callback) this.once("listening", callback);
    this.listen(this.options);
  }

  /** Node's server (`server` or `noServer` given) counts as one too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this === WebSocketServer && value instanceof NodeWebSocketServer) return true;
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  /** The listening address; null once closed (or when listening failed), as ws's. */
  address(): { address: string; port: number; family: string } | null {
    if (!this.listener || this.unlistened) return null;
    const address = this.listener.hostname;
    return { address, port: this.listener.port, family: address.includes(":") ? "IPv6" : "IPv4" };
  }

  protected stopListening(): Promise<void> {
    this.unlistened = true;
    this.listener?.stop(false);
    return Promise.resolve();
  }

  protected dropHandshakes(): void {
    for (const peer of this.handshaking) peer.destroy();
    this.handshaking.clear();
    this.listener?.stop(true);
  }

  private listen(options: ServerOptions): void {
    const given = options.hostname ?? options.host;
    // No address given: every IPv6 and IPv4 address ("::", dual stack), or every IPv4 one where the machine
    // cannot bind IPv6, as Node's `server.listen(port)` (and so ws) does.
    const hostnames = given !== undefined ? [given] : ["::", "0.0.0.0"];
    let failure: unknown;
    for (const hostname of hostnames) {
      try {
        this.listener = this.bind(options, hostname);
        queueMicrotask(() => this.emit("listening"));
        return;
      } catch (error) {
        failure = error;
      }
    }
    queueMicrotask(() => this.emit("error", failure as Error));
  }

  private bind(options: ServerOptions, hostname: string): TCPSocketListener<Peer> {
    const server = this;
    return Bun.listen<Peer>({
      hostname,
      port: options.port,
      tls: options.tls,
      // Bun.listen takes reusePort (checked: two processes bind one port) though its types omit it.
      ...({ reusePort: options.reusePort } as object),
      socket: rethrowing({
        open(socket: Socket<Peer>) {
          server.opened(socket);
        },
        // With this callback Bun calls `open` when a TLS connection is accepted, before its TLS handshake
        // (without it, only after): a peer that never finishes the handshake is cut at handshakeTimeout too.
        handshake(socket: Socket<Peer>, success: boolean) {
          if (!success) socket.data.destroy();
        },
        data(socket, bytes) {
          const peer = socket.data;
          const net = peer.net;
          if (net !== null) net.read(bytes);
          if (peer.ws) peer.ws.session.receive(bytes);
          else if (!peer.handedOver) server.onHead(peer, bytes);
        },
        drain(socket) {
          const peer = socket.data;
          peer.net?.drained();
          peer.ws?.session.onDrain();
        },
        end(socket) {
          const peer = socket.data;
          peer.net?.peerEnded();
          if (peer.ws) peer.ws.session.onEnd();
          else peer.destroy();
        },
        close(socket) {
          server.closed(socket.data);
        },
        error() {
          // ECONNRESET and the like: close follows and reports 1006.
        },
      }),
    });
  }

  private opened(socket: Socket<Peer>): void {
    const peer = new Peer(socket);
    socket.data = peer;
    if (this.closing) return this.refuse(peer, 503);
    this.handshaking.add(peer);
    peer.timer = setTimeout(() => peer.destroy(), this.options.handshakeTimeout ?? defaults.handshakeTimeout);
  }

  private closed(peer: Peer): void {
    peer.closed = true;
    this.handshaking.delete(peer);
    if (peer.timer !== undefined) clearTimeout(peer.timer);
    peer.ws?.session.onClose();
    // After the connection's own handling, as a net.Socket's 'close' reaches ws's listener before the app's.
    peer.net?.socketClosed();
  }

  /** Bytes before the connection is open: the request head, then any frames sent right behind it. */
  private onHead(peer: Peer, bytes: Uint8Array): void {
    const request = this.takeHead(peer.head, bytes);
    if (!request) return;
    const secure = !!this.options.tls;
    // An IncomingMessage (a Readable stream) is built only if something reads it (see `emitConnection`).
    let built: UpgradeRequestInfo | undefined;
    const req = (): UpgradeRequestInfo => {
      if (built) return built;
      built = incomingMessage(peer.netSocket() as unknown as net.Socket, request) as UpgradeRequestInfo;
      built.remoteAddress = peer.socket.remoteAddress;
      built.secure = secure;
      return built;
    };
    this.decide(req, request.path, request, secure, (decision) => this.answer(peer, req, decision), true);
  }

  private answer(peer: Peer, req: () => UpgradeRequestInfo, decision: UpgradeDecision): void {
    if (peer.closed) return;
    if (!("request" in decision)) {
      if (!decision.clientError || this.listenerCount("wsClientError") === 0)
        return this.refuse(peer, decision.status, decision.response);
      // ws's 'wsClientError': the listener answers on the socket (`req.socket`) and ends it.
      this.handshaking.delete(peer);
      clearTimeout(peer.timer);
      peer.handedOver = true;
      this.emit("wsClientError", new Error(decision.message), peer.netSocket(), req());
      return;
    }
    this.handshaking.delete(peer);
    clearTimeout(peer.timer);
    const ws = this.accept(
      decision,
      req,
      {
        socket: peer.socket,
        netSocket: () => peer.netSocket(),
        opened: (session) => (peer.session = session),
        link: peer as SessionSocket,
        remoteAddress: peer.socket.remoteAddress,
      },
      (ws) => this.emitConnection(ws, req),
    );
    if (ws instanceof Uint8Array) return this.refuse(peer, 503, ws);
    peer.ws = ws as unknown as BunServerConnection;
    // Closed from a 'connection' listener (terminate()): Bun ran the close callback before peer.ws was set.
    if (peer.closed) return ws.session.onClose();
    const rest = peer.head.frames();
    peer.head.bytes = new Uint8Array(0);
    // Frames that arrived with the request are fed once the listeners are attached.
    if (rest.length > 0) ws.session.receive(rest);
  }

  /**
   * 'connection'. `req` is built for any listener that may read it: every one declaring a second parameter
   * (or none, `(...args)`); a listener declaring only `ws` cannot see it, and when all are such (or there is
   * none) no IncomingMessage is built for the connection (as Node's own port does).
   */
  private emitConnection(ws: BunServerConnection, req: () => UpgradeRequestInfo): void {
    if (this.listenerCount("connection") === 0) return;
    const needed = this.someListener("connection", (listener) => listener.length !== 1);
    this.emit("connection", ws, needed ? req() : (undefined as unknown as UpgradeRequestInfo));
  }

  /** Answer with the engine's refusal for `status` and close the socket. */
  private refuse(peer: Peer, status: number, response = this.refusal(status)): void {
    this.handshaking.delete(peer);
    if (peer.timer !== undefined) clearTimeout(peer.timer);
    if (peer.closed) return;
    peer.write(response);
    peer.end();
  }
}

export { DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_PAYLOAD };
