// WebSocketServer on Bun: `Bun.listen` (raw TCP or TLS) owns the sockets; the engine reads the request
// head (bindings/protocol/handshake.ts) and bindings/api/server-core.ts decides every answer, as on Node.
import type { Socket, TCPSocketListener } from "bun";
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
import { bunDeflateCodec } from "./deflate.js";
import {
  checkModes,
  WebSocketServer as NodeWebSocketServer,
  type ServerOptions as NodeServerOptions,
} from "../node/server.js";

/** The upgrade request as the engine read it: what `verifyClient`, `handleProtocols` and "connection" get. */
export interface UpgradeRequestInfo {
  method: string;
  /** Request target: path and query. */
  url: string;
  /** Header fields by lower-case name, repeated ones joined with ", ". */
  headers: Record<string, string>;
  remoteAddress: string;
  /** Whether it came over TLS. */
  secure: boolean;
  /**
   * The connection's socket as a `net.Socket`-shaped view (`req.socket.remoteAddress`, `remotePort`...; the
   * same object as the connection's `_socket`: runtimes/bun/net-socket.ts).
   */
  readonly socket: NetSocket;
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
          else server.onHead(peer, bytes);
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
    peer.net?.socketClosed();
    this.handshaking.delete(peer);
    if (peer.timer !== undefined) clearTimeout(peer.timer);
    peer.ws?.session.onClose();
  }

  /** Bytes before the connection is open: the request head, then any frames sent right behind it. */
  private onHead(peer: Peer, bytes: Uint8Array): void {
    const request = this.takeHead(peer.head, bytes);
    if (!request) return;
    const socket = peer.socket;
    const req: UpgradeRequestInfo = {
      method: request.method,
      url: request.path,
      headers: request.headers,
      remoteAddress: socket.remoteAddress,
      secure: !!this.options.tls,
      get socket() {
        return peer.netSocket();
      },
    };
    this.decide(req, request.path, request, req.secure, (decision) => this.answer(peer, req, decision), true);
  }

  private answer(peer: Peer, req: UpgradeRequestInfo, decision: UpgradeDecision): void {
    if (peer.closed) return;
    if (!("request" in decision)) return this.refuse(peer, decision.status, decision.response);
    this.handshaking.delete(peer);
    clearTimeout(peer.timer);
    const ws = this.accept(decision, req, {
      socket: peer.socket,
      netSocket: () => peer.netSocket(),
      opened: (session) => (peer.session = session),
      link: peer as SessionSocket,
      remoteAddress: req.remoteAddress,
    });
    if (ws instanceof Uint8Array) return this.refuse(peer, 503, ws);
    peer.ws = ws as unknown as BunServerConnection;
    // Closed from a 'connection' listener (terminate()): Bun ran the close callback before peer.ws was set.
    if (peer.closed) return ws.session.onClose();
    const rest = peer.head.frames();
    peer.head.bytes = new Uint8Array(0);
    // Frames that arrived with the request are fed once the listeners are attached.
    if (rest.length > 0) ws.session.receive(rest);
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
