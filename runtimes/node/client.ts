// The WHATWG client on Node: net/tls carry the bytes; handshake, framing, reconnect and events are
// bindings/client-core.ts's, the same as on Bun. Over ws:// the kernel reads straight into engine memory.
import * as net from "node:net";
import * as tls from "node:tls";
import {
  WebSocketCore,
  type ClientLink,
  type ClientOptions,
  type WebSocketTarget,
} from "../../bindings/client-core.js";
import type { SessionSocket } from "../../bindings/session.js";
import { nodeDeflateCodec } from "./deflate.js";
import { allocBuffer, SocketLink } from "./link.js";

/** A WHATWG WebSocket client for Node, framed by the Wasm engine. */
export class WebSocket extends WebSocketCore {
  constructor(url: string | URL, protocols?: string | string[], options: ClientOptions = {}) {
    super(url, protocols, options, allocBuffer, nodeDeflateCodec);
  }

  protected dial(target: WebSocketTarget, options: ClientOptions, link: ClientLink): SessionSocket {
    const socket = target.secure ? dialTls(target, options, link) : dialTcp(target, link);
    socket.setNoDelay(true);
    socket.on("error", (error) => link.error(error));
    socket.on("end", () => link.end());
    socket.on("close", () => link.closed());
    socket.on("drain", () => link.drain());
    return new SocketLink(socket);
  }
}

/** ws://: zero-copy reads into the engine's input area, parsed in place. */
function dialTcp(target: WebSocketTarget, link: ClientLink): net.Socket {
  const socket = new net.Socket({
    // The callback runs synchronously before the next read reuses that area.
    onread: {
      buffer: () => link.readBuffer,
      callback: (length: number) => {
        link.receiveInPlace(length);
        return true;
      },
    },
  } as net.SocketConstructorOpts);
  socket.once("connect", () => link.connected());
  // Connecting creates the handle, which asks for the read area: the link has it once `dial` returned.
  process.nextTick(() => {
    if (!socket.destroyed) socket.connect(target.port, target.hostname);
  });
  return socket;
}

/** wss://: TLS reads arrive as 'data' events. */
function dialTls(target: WebSocketTarget, options: ClientOptions, link: ClientLink): net.Socket {
  const socket = tls.connect({
    host: target.hostname,
    port: target.port,
    servername: options.servername ?? (net.isIP(target.hostname) ? undefined : target.hostname),
    ca: options.ca as tls.ConnectionOptions["ca"],
    cert: options.cert as tls.ConnectionOptions["cert"],
    key: options.key as tls.ConnectionOptions["key"],
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    ALPNProtocols: ["http/1.1"],
  });
  socket.on("data", (chunk: Buffer) => link.receive(chunk));
  socket.once("secureConnect", () => link.connected());
  return socket;
}
