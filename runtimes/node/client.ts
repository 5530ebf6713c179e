// The client on Node: node:http (or https) carries the opening handshake, as ws's client does, so ws's
// request options work as they do there (agent, createConnection, lookup, auth, finishRequest, redirects,
// the 'upgrade' and 'unexpected-response' events). The request's bytes come from the engine and the 101
// is checked by the engine; framing, reconnect and events are bindings/api/client-core.ts's, as on Bun. After
// the 101, ws:// sockets read straight into engine memory.
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as tls from "node:tls";
import {
  WebSocketCore,
  wsClassShape,
  parseWebSocketUrl,
  type ClientLink,
  type ClientOptions,
  type WebSocketTarget,
} from "../../bindings/api/client-core.js";
import type { SessionSocket } from "../../bindings/protocol/session.js";
import { nodeDeflateCodec } from "./deflate.js";
import { allocBuffer, rawHead, readInPlace } from "./link.js";

/**
 * ws's options that only the Node client has: they, and anything else `http.request`/`tls.connect` accept
 * (family, localAddress, pfx, ciphers, ...), go to `http.request` as ws passes them.
 */
export interface NodeClientOptions extends ClientOptions {
  /** An `http.Agent` for the upgrade request. */
  agent?: http.Agent;
  /** Makes the socket instead of net.connect/tls.connect. */
  createConnection?: (options: object, callback?: () => void) => net.Socket;
  /** DNS lookup for net.connect. */
  lookup?: net.LookupFunction;
  /** "user:password" for Basic authorization (the URL's userinfo wins). */
  auth?: string;
  /** Follow 3xx redirects of the upgrade request (default false), at most `maxRedirects` (default 10). */
  followRedirects?: boolean;
  maxRedirects?: number;
  /** Called with the request instead of `req.end()` (to write a body or headers first). */
  finishRequest?: (request: http.ClientRequest, websocket: WebSocket) => void;
}

const REDIRECT = new Set([301, 302, 303, 307, 308]);

/** A WebSocket client for Node (ws's API and the WHATWG one), framed by the Wasm engine. */
export class WebSocket extends WebSocketCore {
  private redirects = 0;

  constructor(
    url: string | URL,
    protocols?: string | string[] | NodeClientOptions,
    options?: NodeClientOptions,
  ) {
    super(url, protocols, options, allocBuffer, nodeDeflateCodec);
  }

  protected dial(target: WebSocketTarget, options: ClientOptions, link: ClientLink): SessionSocket {
    const socket = new DeferredSocket(link);
    // After the core has opened the session's slot: the request's key is the slot's.
    process.nextTick(() => {
      if (!socket.aborted) this.request(target, options as NodeClientOptions, link, socket);
    });
    return socket;
  }

  private request(
    target: WebSocketTarget,
    options: NodeClientOptions,
    link: ClientLink,
    deferred: DeferredSocket,
  ): void {
    const requestOptions: https.RequestOptions = {
      ...(options as https.RequestOptions),
      createConnection: options.createConnection as https.RequestOptions["createConnection"],
      ...(target.socketPath
        ? { socketPath: target.socketPath }
        : { host: target.hostname, port: target.port }),
      path: target.path,
      method: "GET",
      headers: requestHeaders(link.upgradeRequest(), target.host),
      setHost: false,
      servername:
        options.servername ?? (target.secure && !net.isIP(target.hostname) ? target.hostname : undefined),
      auth: target.auth ?? options.auth,
      timeout: undefined,
    };
    if (!requestOptions.createConnection && !requestOptions.agent)
      requestOptions.createConnection = target.secure ? tlsConnect : netConnect;
    const request = (target.secure ? https : http).request(requestOptions);
    deferred.request = request;
    let upgraded = false;
    request.on("error", (error) => {
      if (upgraded || deferred.aborted) return;
      link.error(error);
    });
    request.on("close", () => {
      if (!upgraded && !deferred.redirected) link.closed();
    });
    request.on("response", (response) => {
      if (deferred.aborted) return;
      const location = response.headers.location;
      if (options.followRedirects && REDIRECT.has(response.statusCode ?? 0) && location)
        return this.redirect(target, options, link, deferred, request, location);
      if (this.listenerCount("unexpected-response") > 0) {
        this.emit("unexpected-response", request, response);
        return;
      }
      link.receive(responseHead(response));
    });
    request.on("upgrade", (response: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      upgraded = true;
      deferred.attach(socket);
      socket.setNoDelay(true);
      socket.on("error", (error) => link.error(error));
      socket.on("end", () => link.end());
      socket.on("close", () => link.closed());
      socket.on("drain", () => link.drain());
      link.upgrade(response);
      if (deferred.aborted || socket.destroyed) return;
      const bytes = responseHead(response);
      const joined = Buffer.concat([bytes, head]);
      link.receive(joined);
      if (socket.destroyed) return;
      if (readInPlace(socket, link)) return;
      socket.on("data", (chunk: Buffer) => link.receive(chunk));
      socket.resume();
    });
    if (options.finishRequest) options.finishRequest(request, this);
    else request.end();
  }

  /** Follow a redirect: the same WebSocket dials the new location (ws's `followRedirects`). */
  private redirect(
    target: WebSocketTarget,
    options: NodeClientOptions,
    link: ClientLink,
    deferred: DeferredSocket,
    request: http.ClientRequest,
    location: string,
  ): void {
    if (++this.redirects > (options.maxRedirects ?? 10)) {
      link.error(new Error("Maximum redirects exceeded"));
      request.destroy();
      return;
    }
    let next: WebSocketTarget;
    try {
      next = parseWebSocketUrl(new URL(location, target.url));
    } catch (error) {
      link.error(error as Error);
      request.destroy();
      return;
    }
    deferred.redirected = true;
    request.destroy();
    this.emit("redirect", next.url, request);
    if (deferred.aborted) return link.closed();
    deferred.redirected = false;
    // Credentials and cookies are not sent to another host (ws drops them too).
    const sameHost = next.host === target.host;
    const headers = { ...(options.headers ?? {}) };
    if (!sameHost)
      for (const name of Object.keys(headers))
        if (/^(authorization|cookie|host)$/i.test(name)) delete headers[name];
    this.request(next, { ...options, headers, auth: sameHost ? options.auth : undefined }, link, deferred);
  }
}

type Connect = NonNullable<https.RequestOptions["createConnection"]>;

const netConnect: Connect = (options) => net.connect(options as net.NetConnectOpts);

const tlsConnect: Connect = (options) =>
  tls.connect({ ALPNProtocols: ["http/1.1"], ...(options as tls.ConnectionOptions) });

/** The engine's request head as header fields for http.request (its Sec-WebSocket-Key included). */
function requestHeaders(request: Uint8Array, host: string): Record<string, string> {
  const lines = Buffer.from(request).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    headers[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  headers.Host ??= host;
  return headers;
}

/** The response's head as the engine reads it: status line, header lines as received, blank line. */
function responseHead(response: http.IncomingMessage): Buffer {
  return rawHead(
    `HTTP/${response.httpVersion} ${response.statusCode} ${response.statusMessage ?? ""}`,
    response.rawHeaders,
  );
}

/**
 * The session's socket before the 101 arrives: node:http owns the connection until then. Writes wait
 * for nothing (the request went out through node:http); closing it aborts the request.
 */
class DeferredSocket implements SessionSocket {
  socket: net.Socket | null = null;
  request: http.ClientRequest | null = null;
  aborted = false;
  redirected = false;
  private readonly link: ClientLink;

  constructor(link: ClientLink) {
    this.link = link;
  }

  attach(socket: net.Socket): void {
    this.socket = socket;
  }

  write(bytes: Uint8Array, done?: (error?: Error | null) => void): boolean {
    if (!this.socket) {
      done?.(new Error("socket not connected"));
      return false;
    }
    return this.socket.write(bytes, done);
  }

  cork(): void {
    this.socket?.cork();
  }

  uncork(): void {
    this.socket?.uncork();
  }

  end(): void {
    if (this.socket) this.socket.end();
    else this.abort();
  }

  destroy(): void {
    if (this.socket) this.socket.destroy();
    else this.abort();
  }

  pauseReading(): void {
    this.socket?.pause();
  }

  resumeReading(): void {
    this.socket?.resume();
  }

  get bufferedAmount(): number {
    return this.socket?.writableLength ?? 0;
  }

  get writable(): boolean {
    return this.socket !== null && !this.socket.destroyed && this.socket.writable;
  }

  private abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    // Before the request was made nothing else will report the end.
    if (this.request) this.request.destroy();
    else process.nextTick(() => this.link.closed());
  }
}

wsClassShape(WebSocket);
