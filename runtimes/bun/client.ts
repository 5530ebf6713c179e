// The client on Bun: the Node client (ws's API and the WHATWG one) with `Bun.connect` (TCP, or TLS for wss://)
// carrying the bytes; handshake, framing, reconnect and events are bindings/api/client-core.ts's, the same as
// on Node. The options that hand the request to node:http (`agent`, `createConnection`, `lookup`,
// `finishRequest`, `followRedirects`) and `http2`, and listeners of `upgrade` or `unexpected-response`, take
// the Node client's way, on Bun's node:http, node:net and node:http2, so ws's options and events work on Bun as
// they do on Node.
import type { Socket } from "bun";
import type * as http from "node:http";
import type * as net from "node:net";
import {
  wsClassShape,
  type ClientLink,
  type ClientOptions,
  type WebSocketTarget,
} from "../../bindings/api/client-core.js";
import { WebSocket as NodeWebSocket, type NodeClientOptions } from "../node/client.js";
import type { SessionSocket } from "../../bindings/protocol/session.js";
import { allocBuffer, rethrowing, SocketLink } from "./link.js";

/**
 * The attempt's socket while it is being dialed, then whichever carries it: Bun's (`Bun.connect`) or, when the
 * application listens to `upgrade` or `unexpected-response`, the Node client's (node:http). Writes and closes
 * wait for the choice and the connect.
 */
class Dialing implements SessionSocket {
  /** Bun's socket, once `Bun.connect` opened it. */
  link: SocketLink | null = null;
  /** The Node client's socket (node:http's request, then the upgraded socket), when the attempt went that way. */
  node: SessionSocket | null = null;
  /** Closed or terminated before a socket was there: the socket is closed as soon as it comes. */
  dropped = false;
  /** Takes node:http's way (`viaNode`) or `Bun.connect`'s, once: null once chosen. */
  choose: ((viaNode: boolean) => void) | null = null;
  private reported = false;
  private paused = false;
  /** Inside `destroy()`. */
  private destroying = false;
  private readonly client: ClientLink;

  constructor(client: ClientLink) {
    this.client = client;
  }

  /** Connected (and, for TLS, handshaken): the request goes out unless the client gave up already. */
  opened(socket: Socket<Dialing>): void {
    this.link = new SocketLink(socket);
    if (this.dropped) return this.link.destroy();
    if (this.paused) this.link.pauseReading();
    this.client.connected();
  }

  /** A connect or TLS error: reported once, then the close. */
  failed(error: Error): void {
    if (!this.reported) {
      this.reported = true;
      this.client.error(error);
    }
    this.gone();
  }

  /** The socket is closed (or never opened). */
  gone(): void {
    if (this.link) this.link.closed = true;
    else this.dropped = true;
    // Bun runs the close callback inside `terminate()`: reported on a later turn of the event loop, as a Node
    // socket's close is once its handle closed, so what the client does on terminating (the handshake's
    // abort error, the held sends' failed callbacks, all while CLOSING) comes before 'close', as in ws.
    if (this.destroying) setImmediate(() => this.client.closed());
    else this.client.closed();
  }

  private get socket(): SessionSocket | null {
    return this.node ?? this.link;
  }

  write(bytes: Uint8Array, done?: (error?: Error | null) => void): number | boolean {
    const socket = this.socket;
    return socket ? socket.write(bytes, done) : -1;
  }

  /** As Bun's socket, unless the attempt went node:http's way (whose socket buffers what it is given). */
  get writeCopies(): boolean {
    return this.node === null;
  }

  end(): void {
    const socket = this.socket;
    if (socket) socket.end();
    else this.dropped = true;
  }

  destroy(): void {
    const socket = this.socket;
    if (!socket) {
      this.dropped = true;
      return;
    }
    this.destroying = true;
    try {
      socket.destroy();
    } finally {
      this.destroying = false;
    }
  }

  pauseReading(): void {
    this.paused = true;
    this.socket?.pauseReading?.();
  }

  resumeReading(): void {
    this.paused = false;
    this.socket?.resumeReading?.();
  }

  readWithHandshake(bytes: Uint8Array): void {
    this.link?.net?.read(bytes);
  }

  get bufferedAmount(): number {
    return this.node?.bufferedAmount ?? 0;
  }

  get writable(): boolean {
    const socket = this.socket;
    return socket ? socket.writable : !this.dropped;
  }
}

/** A WebSocket client for Bun (ws's API and the WHATWG one), framed by the Wasm engine. */
export class WebSocket extends NodeWebSocket {
  protected static override alloc = allocBuffer;
  /** This attempt's `Bun.connect` socket (set while the core's constructor dials: no initializer). */
  declare private dialing: Dialing | undefined;

  /**
   * ws's `_socket`: on the `Bun.connect` path, once open, a `net.Socket`-shaped view of Bun's socket
   * (runtimes/bun/net-socket.ts: `remoteAddress`, `setNoDelay`, `'data'`, `isPaused`...; typed as ws's).
   */
  override get _socket(): net.Socket | null {
    const link = this.dialing?.link;
    if (!link) return super._socket;
    if (this.readyState === this.CONNECTING) return null;
    link.session ??= this.session;
    return link.netSocket() as unknown as net.Socket;
  }

  /**
   * ws's `_req`: node:http's request while the handshake is under way. Read before the attempt chose its way
   * (right after the constructor), it makes the attempt take node:http's, as ws's request exists then.
   */
  override get _req(): http.ClientRequest | null {
    const dialing = this.dialing;
    if (dialing?.choose && !dialing.dropped) dialing.choose(true);
    return super._req;
  }

  /**
   * `Bun.connect`, unless an option or a listener needs node:http: ws's request options (`agent`,
   * `createConnection`, `lookup`, `finishRequest`, `followRedirects`), `http2`, credentials (`auth`, the URL's
   * userinfo), `protocolVersion` 8 and the socket options the `Bun.connect` path does not pass on
   * (`NODE_ONLY`), or a listener of `upgrade` or `unexpected-response`, which get node:http's
   * `IncomingMessage` (and `ClientRequest`) as with ws. The listeners are looked for in a microtask, so those
   * added right after the constructor count; `Bun.connect` would not have connected sooner.
   */
  protected override dial(
    target: WebSocketTarget,
    options: ClientOptions,
    client: ClientLink,
  ): SessionSocket {
    const node = options as NodeClientOptions;
    if (
      NODE_ONLY.some((name) => (node as Record<string, unknown>)[name] !== undefined) ||
      node.http2 ||
      node.agent ||
      node.createConnection ||
      node.lookup ||
      node.finishRequest ||
      node.followRedirects ||
      node.auth ||
      target.auth ||
      node.protocolVersion === 8
    )
      return super.dial(target, options, client);
    const dialing = new Dialing(client);
    this.dialing = dialing;
    dialing.choose = (viaNode) => {
      dialing.choose = null;
      // Closed or terminated before anything was dialed: nothing to wait for.
      if (dialing.dropped) return client.closed();
      if (viaNode) {
        this.dialing = undefined;
        dialing.node = super.dial(target, options, client);
        super.dialed(dialing.node);
      } else {
        this.forgetRequest();
        this.dialSocket(target, options, dialing, client);
      }
    };
    queueMicrotask(() =>
      dialing.choose?.(this.listenerCount("upgrade") > 0 || this.listenerCount("unexpected-response") > 0),
    );
    return dialing;
  }

  /** TCP, or TLS for wss://, by Bun.connect. */
  private dialSocket(
    target: WebSocketTarget,
    options: ClientOptions,
    dialing: Dialing,
    client: ClientLink,
  ): void {
    const tls = target.secure
      ? {
          ca: options.ca,
          cert: options.cert,
          key: options.key,
          rejectUnauthorized: options.rejectUnauthorized ?? true,
          // RFC 6066 §3: no SNI for an IP address. Bun sends the hostname, an IP too, when given no serverName,
          // and none for ""; the certificate is checked against the host either way.
          serverName: options.servername ?? (isIp(target.hostname) ? "" : target.hostname),
        }
      : undefined;
    Bun.connect<Dialing>({
      ...((target.socketPath
        ? { unix: target.socketPath }
        : { hostname: target.hostname, port: target.port }) as {
        hostname: string;
        port: number;
      }),
      tls,
      data: dialing,
      socket: rethrowing({
        open(socket) {
          if (!tls) socket.data.opened(socket);
        },
        handshake(socket, success, authorizationError) {
          // Bun reports an unverified certificate as a failed handshake even with rejectUnauthorized false.
          if (success || (authorizationError && !tls!.rejectUnauthorized)) return socket.data.opened(socket);
          socket.data.failed(authorizationError ?? new Error("TLS handshake failed"));
          socket.terminate();
        },
        data(socket, bytes) {
          // Shown to `_socket`'s 'data' listeners: a read with the 101 shows only its frames (readWithHandshake).
          const net = socket.data.link?.net;
          if (net) net.read(bytes);
          client.receive(bytes);
        },
        drain(socket) {
          socket.data.link?.net?.drained();
          client.drain();
        },
        end(socket) {
          socket.data.link?.net?.peerEnded();
          client.end();
        },
        close(socket) {
          socket.data.gone();
          socket.data.link?.net?.socketClosed();
        },
        error(socket, error) {
          socket.data.failed(error);
        },
        connectError(socket, error) {
          socket.data.failed(error);
        },
      }),
    }).catch((error: Error) => dialing.failed(error));
  }
}

/**
 * `net.connect` and `tls.connect` options that ws passes on and the `Bun.connect` path does not: given, the
 * attempt goes by node:http (and Bun's node:net / node:tls), which honours them, rather than dropping them.
 */
const NODE_ONLY = [
  "family",
  "hints",
  "localAddress",
  "localPort",
  "pfx",
  "passphrase",
  "ciphers",
  "minVersion",
  "maxVersion",
  "secureOptions",
  "secureProtocol",
  "secureContext",
  "checkServerIdentity",
  "ecdhCurve",
  "sigalgs",
  "crl",
  "ALPNProtocols",
  "session",
];

function isIp(hostname: string): boolean {
  return /^[\d.]+$/.test(hostname) || hostname.includes(":");
}

wsClassShape(WebSocket);
