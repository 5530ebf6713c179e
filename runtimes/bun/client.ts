// The client on Bun: the Node client (ws's API and the WHATWG one) with `Bun.connect` (TCP, or TLS for wss://)
// carrying the bytes; handshake, framing, reconnect and events are bindings/api/client-core.ts's, the same as
// on Node. The options that hand the request to node:http (`agent`, `createConnection`, `lookup`,
// `finishRequest`, `followRedirects`) and `http2` take the Node client's way, on Bun's node:http, node:net and
// node:http2, so ws's options work on Bun as they do on Node.
import type { Socket } from "bun";
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

/** A socket being dialed: writes and closes wait for Bun.connect to settle. */
class Dialing implements SessionSocket {
  link: SocketLink | null = null;
  private dropped = false;
  private reported = false;
  private readonly client: ClientLink;

  constructor(client: ClientLink) {
    this.client = client;
  }

  /** Connected (and, for TLS, handshaken): the request goes out unless the client gave up already. */
  opened(socket: Socket<Dialing>): void {
    this.link = new SocketLink(socket);
    if (this.dropped) return this.link.destroy();
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
    this.client.closed();
  }

  write(bytes: Uint8Array): number {
    return this.link ? this.link.write(bytes) : -1;
  }

  end(): void {
    this.link?.end();
  }

  destroy(): void {
    if (this.link) this.link.destroy();
    else this.dropped = true;
  }

  get bufferedAmount(): number {
    return 0;
  }

  get writable(): boolean {
    return this.link ? this.link.writable : !this.dropped;
  }
}

/** A WebSocket client for Bun (ws's API and the WHATWG one), framed by the Wasm engine. */
export class WebSocket extends NodeWebSocket {
  protected static override alloc = allocBuffer;
  /** This attempt's `Bun.connect` socket (set while the core's constructor dials: no initializer). */
  declare private dialing: Dialing | undefined;

  /** ws's `_socket`: on the `Bun.connect` path, Bun's socket once open (`remoteAddress` and the like). */
  override get _socket(): net.Socket | null {
    const socket = super._socket;
    if (socket || !this.dialing?.link || this.readyState === this.CONNECTING) return socket;
    return this.dialing.link.socket as unknown as net.Socket;
  }

  protected override dial(
    target: WebSocketTarget,
    options: ClientOptions,
    client: ClientLink,
  ): SessionSocket {
    const node = options as NodeClientOptions;
    if (
      node.http2 ||
      node.agent ||
      node.createConnection ||
      node.lookup ||
      node.finishRequest ||
      node.followRedirects
    )
      return super.dial(target, options, client);
    return this.dialSocket(target, options, client);
  }

  /** TCP, or TLS for wss://, by Bun.connect. */
  private dialSocket(target: WebSocketTarget, options: ClientOptions, client: ClientLink): SessionSocket {
    const dialing = new Dialing(client);
    this.dialing = dialing;
    const tls = target.secure
      ? {
          ca: options.ca,
          cert: options.cert,
          key: options.key,
          rejectUnauthorized: options.rejectUnauthorized ?? true,
          serverName: options.servername ?? (isIp(target.hostname) ? undefined : target.hostname),
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
        data(_socket, bytes) {
          client.receive(bytes);
        },
        drain() {
          client.drain();
        },
        end() {
          client.end();
        },
        close(socket) {
          socket.data.gone();
        },
        error(socket, error) {
          socket.data.failed(error);
        },
        connectError(socket, error) {
          socket.data.failed(error);
        },
      }),
    }).catch((error: Error) => dialing.failed(error));
    return dialing;
  }
}

function isIp(hostname: string): boolean {
  return /^[\d.]+$/.test(hostname) || hostname.includes(":");
}

wsClassShape(WebSocket);
