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
import type {
  ClientEvents,
  ConnectingDetail,
  FinishDetail,
  ReconnectingDetail,
} from "../../bindings/api/client-events.js";
import type { SessionSocket } from "../../bindings/protocol/session.js";
import { nodeDeflateCodec } from "./deflate.js";
import { allocBuffer, rawHead, readInPlace } from "./link.js";
import { checkHttp2Options, dialHttp2, type Http2ClientOptions, type Http2Response } from "./http2-client.js";
import type * as http2 from "node:http2";

/**
 * ws's options that only the Node client has: they, and anything else `http.request`/`tls.connect` accept
 * (family, localAddress, pfx, ciphers, ...), go to `http.request` as ws passes them.
 */
export interface NodeClientOptions extends ClientOptions, Http2ClientOptions {
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
  /**
   * Sec-WebSocket-Version: 13 (default) or 8 (hybi-08, framed as 13; `origin` then goes in
   * Sec-WebSocket-Origin), as ws offers; anything else throws a RangeError.
   */
  protocolVersion?: number;
}

/**
 * The Node client's events with Node's types, as @types/ws has them: bytes are Buffers, the handshake's
 * response an `http.IncomingMessage`, its request an `http.ClientRequest`.
 */
export interface NodeClientEvents {
  open: [];
  /** Text arrives as a Buffer with `isBinary` false; binary per `binaryType`. */
  message: [data: Buffer | ArrayBuffer | Buffer[] | Blob, isBinary: boolean];
  close: [code: number, reason: Buffer];
  error: [error: Error];
  ping: [data: Buffer];
  pong: [data: Buffer];
  /**
   * Typed as ws's, so code written for ws compiles unchanged; over HTTP/2 (`http2`) the response is an
   * `Http2Response` (`statusCode`, `headers`, ...) and, for "unexpected-response", the request its
   * `http2.ClientHttp2Stream`: cast them there (docs/NODE.md "Client over HTTP/2").
   */
  upgrade: [response: http.IncomingMessage];
  "unexpected-response": [request: http.ClientRequest, response: http.IncomingMessage];
  redirect: [url: string, request: http.ClientRequest];
  fragment: [data: Buffer, isBinary: boolean, first: boolean, last: boolean];
  drain: [];
  connecting: [detail: ConnectingDetail];
  reconnecting: [detail: ReconnectingDetail];
  finish: [detail: FinishDetail];
}

/**
 * A listener of `K`. Checked as a method parameter is (bivariantly), so a listener annotated with one of the
 * types the event gives (`(data: WebSocket.RawData) => …`, as @types/ws declares it) is taken.
 */
type NodeListener<K extends keyof NodeClientEvents> = {
  listener(...args: NodeClientEvents[K]): void;
}["listener"];

// The emitter's methods with the Node event types (the runtime-neutral core types bytes as Uint8Array).
export interface WebSocket {
  on<K extends keyof NodeClientEvents>(event: K, listener: NodeListener<K>): this;
  addListener<K extends keyof NodeClientEvents>(event: K, listener: NodeListener<K>): this;
  once<K extends keyof NodeClientEvents>(event: K, listener: NodeListener<K>): this;
  prependListener<K extends keyof NodeClientEvents>(event: K, listener: NodeListener<K>): this;
  prependOnceListener<K extends keyof NodeClientEvents>(event: K, listener: NodeListener<K>): this;
  off<K extends keyof NodeClientEvents>(event: K, listener: NodeListener<K>): this;
  removeListener<K extends keyof NodeClientEvents>(event: K, listener: NodeListener<K>): this;
  emit<K extends keyof NodeClientEvents>(event: K, ...args: NodeClientEvents[K]): boolean;
}

const PROTOCOL_VERSIONS = [8, 13];

/** The options of ws's constructor signatures: `(url, options)` or `(url, protocols, options)`. */
function givenOptions(
  protocols: string | string[] | NodeClientOptions | undefined,
  options: NodeClientOptions | undefined,
): NodeClientOptions | undefined {
  return (
    options ??
    (protocols && typeof protocols === "object" && !Array.isArray(protocols) ? protocols : undefined)
  );
}

/** ws's check of `protocolVersion`, made before anything else. */
function checkProtocolVersion(given: NodeClientOptions | undefined): void {
  const version = given?.protocolVersion;
  if (version !== undefined && !PROTOCOL_VERSIONS.includes(version))
    throw new RangeError(
      `Unsupported protocol version: ${version} (supported versions: ${PROTOCOL_VERSIONS.join(", ")})`,
    );
}

/** The `http2` options checked before anything is dialed (TypeErrors saying what to change). */
function checkHttp2(url: string | URL, given: NodeClientOptions | undefined): void {
  if (!given?.http2 && given?.http2Fallback === undefined) return;
  if (given.http2 && given.protocolVersion === 8)
    throw new TypeError("http2: WebSockets over HTTP/2 are version 13 (RFC 8441); drop protocolVersion 8");
  checkHttp2Options(parseWebSocketUrl(url), given);
}

/** A WebSocket client for Node (ws's API and the WHATWG one), framed by the Wasm engine. */
export class WebSocket extends WebSocketCore {
  /** Redirects followed (`followRedirects`; ws's name for the count). */
  _redirects = 0;
  /** Following redirects: where the first request went, and the headers every later one starts from. */
  declare private firstRequest:
    { ipc: boolean; secure: boolean; at: string; headers: Record<string, string> } | undefined;

  constructor(
    url: string | URL,
    protocols?: string | string[] | NodeClientOptions,
    options?: NodeClientOptions,
  ) {
    checkProtocolVersion(givenOptions(protocols, options));
    checkHttp2(url, givenOptions(protocols, options));
    super(url, protocols, options, (new.target as typeof WebSocket).alloc, nodeDeflateCodec);
  }

  /** @internal The host's Buffer allocator (Bun's subclass brings its own). */
  protected static alloc: (size: number) => Buffer = allocBuffer;

  /** The connection's socket: node:http's request until the 101, then the upgraded socket. */
  declare private current: DeferredSocket | undefined;

  protected dial(target: WebSocketTarget, options: ClientOptions, link: ClientLink): SessionSocket {
    const nodeOptions = options as NodeClientOptions;
    if (nodeOptions.http2) {
      this.current = undefined;
      /** Where the attempt is going: a redirect's location is read against it. */
      let at = target;
      return dialHttp2(target, nodeOptions, link, {
        headers: this.http2Headers(target, nodeOptions),
        upgrade: (response) => link.upgrade(response),
        unexpected: (response) => {
          if (this.listenerCount("unexpected-response") === 0) return false;
          // ws's types for ws's code; the objects are HTTP/2's (NodeClientEvents).
          const stream = response.stream as unknown as http.ClientRequest;
          link.handedOver();
          this.emit("unexpected-response", stream, response as unknown as http.IncomingMessage);
          return true;
        },
        fallback: (to) => {
          const socket = new DeferredSocket(link);
          this.current = socket;
          this.request(to, nodeOptions, link, socket);
          return socket;
        },
        redirect: nodeOptions.followRedirects
          ? (location) => {
              const next = this.redirectTarget(at, nodeOptions, location);
              if (next instanceof Error) return { error: next };
              this.moved(next);
              at = next;
              return { target: next, headers: this.http2Headers(next, nodeOptions) };
            }
          : undefined,
        // ws's types for ws's code; the request is the new stream (NodeClientEvents).
        redirected: (url, stream) => this.emit("redirect", url, stream as unknown as http.ClientRequest),
      });
    }
    const socket = new DeferredSocket(link);
    socket.start = () => this.request(target, options as NodeClientOptions, link, socket);
    this.current = socket;
    return socket;
  }

  /** @internal This attempt goes another way (Bun's `Bun.connect`): no request or socket of node:http is its. */
  protected forgetRequest(): void {
    this.current = undefined;
  }

  /** The request goes out at once, as ws's does (`_req` and `agent.addRequest` see it before the constructor returns). */
  protected override dialed(socket: SessionSocket): void {
    if (socket instanceof DeferredSocket && !socket.aborted) socket.start();
  }

  /** The application's header fields for an extended CONNECT, with Basic credentials as ws sends them. */
  private http2Headers(target: WebSocketTarget, options: NodeClientOptions): Record<string, string> {
    const { headers, auth } = this.credentials(target, options);
    const named = Object.keys(headers).some((name) => name.toLowerCase() === "authorization");
    if (auth && !named) headers.authorization = `Basic ${Buffer.from(auth).toString("base64")}`;
    return headers;
  }

  /**
   * ws's `_socket`: the upgraded `net.Socket` (or `tls.TLSSocket`), null before the 101; serving a server's
   * connection, that connection's socket. Private in ws's name, but read by many applications
   * (`ws._socket.remoteAddress`).
   */
  get _socket(): net.Socket | null {
    if (this.served) return this.served._socket as net.Socket;
    return this.current?.opened ? this.current.socket : null;
  }

  /** `_socket` is the socket of a connection that opened (as ws sets it): known from the open event. */
  override emit<K extends keyof ClientEvents>(event: K, ...args: ClientEvents[K]): boolean {
    if (event === "open" && this.current) this.current.opened = true;
    return super.emit(event, ...(args as ClientEvents[K]));
  }

  /** ws's `_req`: the upgrade request (`http.ClientRequest`) while the handshake is under way, else null. */
  get _req(): http.ClientRequest | null {
    return this.current?.pending ?? null;
  }

  private request(
    target: WebSocketTarget,
    options: NodeClientOptions,
    link: ClientLink,
    deferred: DeferredSocket,
    beforeEnd?: (request: http.ClientRequest) => void,
  ): void {
    const { headers, auth } = this.credentials(target, options);
    const requestOptions: https.RequestOptions = {
      ...(options as https.RequestOptions),
      createConnection: options.createConnection as https.RequestOptions["createConnection"],
      ...(target.socketPath
        ? { socketPath: target.socketPath }
        : { host: target.hostname, port: portOf(target) }),
      path: target.path,
      method: "GET",
      headers: requestHeaders(link.upgradeRequest(), target.host, headers, options),
      setHost: false,
      servername:
        options.servername ?? (target.secure && !net.isIP(target.hostname) ? target.hostname : undefined),
      auth,
      timeout: undefined,
    };
    if (!requestOptions.createConnection && !requestOptions.agent)
      requestOptions.createConnection = target.secure ? tlsConnect : netConnect;
    const request = (target.secure ? https : http).request(requestOptions);
    deferred.request = request;
    deferred.pending = request;
    deferred.requestClosed = false;
    let upgraded = false;
    request.on("error", (error) => {
      if (upgraded || deferred.aborted || deferred.request !== request) return;
      link.error(error);
    });
    request.on("close", () => {
      // A request left for a redirect closes after its successor started: that one reports.
      if (deferred.request !== request) return;
      deferred.requestClosed = true;
      // An 'unexpected-response' the application took is its to end (close() or terminate(), as in ws).
      if (!upgraded && (!deferred.handedOver || deferred.aborted)) link.closed();
    });
    request.on("response", (response) => {
      if (deferred.aborted) return;
      const location = response.headers.location;
      const status = response.statusCode ?? 0;
      if (location && options.followRedirects && status >= 300 && status < 400)
        return this.redirect(target, options, link, deferred, request, location);
      if (this.listenerCount("unexpected-response") > 0) {
        deferred.handedOver = true;
        link.handedOver();
        this.emit("unexpected-response", request, response);
        return;
      }
      link.receive(responseHead(response));
    });
    request.on("upgrade", (response: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      upgraded = true;
      deferred.pending = null;
      deferred.attach(socket);
      socket.setNoDelay(true);
      socket.on("error", (error) => link.error(error));
      socket.on("end", () => link.end());
      socket.on("close", () => link.closed());
      socket.on("drain", () => link.drain());
      link.upgrade(response);
      if (deferred.aborted || socket.destroyed) return;
      link.receive(responseHead(response));
      // Frames read with the 101 follow the open event; 'data' listeners on `_socket` (added on open,
      // say) see them as they see every later read.
      if (head.length > 0 && !socket.destroyed) {
        if (socket.listenerCount("data") > 0) socket.emit("data", Buffer.from(head));
        link.receive(head);
      }
      if (socket.destroyed) return;
      if (readInPlace(socket, link)) return;
      socket.on("data", (chunk: Buffer) => link.receive(chunk));
      socket.resume();
    });
    beforeEnd?.(request);
    if (options.finishRequest) options.finishRequest(request, this);
    else request.end();
  }

  /**
   * The application's headers and Basic credentials for a request, as ws sends them. Following redirects,
   * the first request's credentials win; a request to another host, or from wss: to ws:, drops
   * Authorization and Cookie (and Host, for another host) and the `auth` option, unless a 'redirect'
   * listener is there to decide (curl's rules, as ws follows them).
   */
  private credentials(
    target: WebSocketTarget,
    options: NodeClientOptions,
  ): { headers: Record<string, string>; auth: string | undefined } {
    let auth = target.auth ?? options.auth;
    if (!options.followRedirects) return { headers: { ...options.headers }, auth };
    const here = target.socketPath ?? target.host;
    if (this._redirects === 0 || !this.firstRequest) {
      const lower: Record<string, string> = {};
      for (const [name, value] of Object.entries(options.headers ?? {})) lower[name.toLowerCase()] = value;
      this.firstRequest = {
        ipc: target.socketPath !== undefined,
        secure: target.secure,
        at: here,
        headers: lower,
      };
    }
    const first = this.firstRequest;
    const headers = { ...first.headers };
    if (this._redirects > 0 && this.listenerCount("redirect") === 0) {
      const sameHost = first.ipc === (target.socketPath !== undefined) && here === first.at;
      if (!sameHost || (first.secure && !target.secure)) {
        delete headers.authorization;
        delete headers.cookie;
        if (!sameHost) delete headers.host;
        auth = undefined;
      }
    }
    if (auth && !first.headers.authorization)
      first.headers.authorization = `Basic ${Buffer.from(auth).toString("base64")}`;
    return { headers, auth };
  }

  /**
   * Where a redirect from `target` to `location` leads, by ws's rules (counted in `_redirects`): the next
   * target, or the error that ends the attempt ("Maximum redirects exceeded", ws's SyntaxError for a
   * location that is no WebSocket URL). HTTP/1.1 and HTTP/2 alike.
   */
  private redirectTarget(
    target: WebSocketTarget,
    options: NodeClientOptions,
    location: string,
  ): WebSocketTarget | Error {
    if (++this._redirects > (options.maxRedirects ?? 10)) return new Error("Maximum redirects exceeded");
    try {
      let url: URL;
      try {
        url = new URL(location, target.url);
      } catch {
        throw new SyntaxError(`Invalid URL: ${location}`);
      }
      return parseWebSocketUrl(url);
    } catch (error) {
      // ws's SyntaxError (the constructor throws the WHATWG DOMException of that name).
      return error instanceof DOMException ? new SyntaxError(error.message) : (error as Error);
    }
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
    const next = this.redirectTarget(target, options, location);
    if (next instanceof Error) {
      link.error(next);
      request.destroy();
      return;
    }
    this.moved(next);
    request.destroy();
    // As ws: with the new request before it is sent, which the listener may change, or abort (then it
    // errors as any would).
    this.request(next, options, link, deferred, (following) => this.emit("redirect", next.url, following));
  }
}

type Connect = NonNullable<https.RequestOptions["createConnection"]>;

const netConnect: Connect = (options) => net.connect(options as net.NetConnectOpts);

const tlsConnect: Connect = (options) =>
  tls.connect({ ALPNProtocols: ["http/1.1"], ...(options as tls.ConnectionOptions) });

/**
 * The request's header fields: the engine's WebSocket lines (its Sec-WebSocket-Key included) and
 * `headers`, the application's for this request (in place of those the engine was given), the Host unless
 * they name one; for version 8, ws's hybi-08 names.
 */
function requestHeaders(
  request: Uint8Array,
  host: string,
  headers: Record<string, string>,
  options: NodeClientOptions,
): Record<string, string> {
  const own = new Set(Object.keys(options.headers ?? {}).map((name) => name.toLowerCase()));
  const lines: Record<string, string> = {};
  for (const line of Buffer.from(request).toString("latin1").split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    if (!own.has(name.toLowerCase()) && name.toLowerCase() !== "host")
      lines[name] = line.slice(colon + 1).trim();
  }
  // The engine's lines win over the application's of the same name (as ws's own headers do), but Host.
  const engine = new Set(Object.keys(lines).map((name) => name.toLowerCase()));
  const merged: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (!engine.has(name.toLowerCase())) merged[name] = value;
  if (!Object.keys(merged).some((name) => name.toLowerCase() === "host")) merged.Host = host;
  const fields = Object.assign(merged, lines);
  if (options.protocolVersion === 8) {
    fields["Sec-WebSocket-Version"] = "8";
    if (fields.Origin !== undefined) fields["Sec-WebSocket-Origin"] = fields.Origin;
    delete fields.Origin;
  }
  return fields;
}

/** The port as ws hands it to `createConnection`: the URL's own text, or the scheme's default number. */
function portOf(target: WebSocketTarget): string | number {
  return new URL(target.url).port || target.port;
}

/** The response's head as the engine reads it: status line, header lines as received, blank line. */
function responseHead(response: http.IncomingMessage): Buffer {
  return rawHead(
    `HTTP/${response.httpVersion} ${response.statusCode} ${response.statusMessage ?? ""}`,
    response.rawHeaders,
    response.headers,
  );
}

/**
 * The session's socket before the 101 arrives: node:http owns the connection until then. Writes wait
 * for nothing (the request went out through node:http); closing it aborts the request.
 */
class DeferredSocket implements SessionSocket {
  socket: net.Socket | null = null;
  request: http.ClientRequest | null = null;
  /** The request while no 101 has come (ws's `_req`). */
  pending: http.ClientRequest | null = null;
  /** The connection opened: its socket is ws's `_socket`. */
  opened = false;
  /** The request has closed (its 'close' was emitted). */
  requestClosed = false;
  /** The application took the response ('unexpected-response'): it ends the connection. */
  handedOver = false;
  /** Makes the request (set by `dial`). */
  start: () => void = () => {};
  aborted = false;
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
    this.pending = null;
    // A response the application read may have left its socket to the agent (keep-alive): ended too, as ws.
    const socket = this.request?.socket;
    if (socket && !socket.destroyed) socket.destroy();
    // Before the request was made, or after it closed, nothing else will report the end.
    if (this.request && !this.requestClosed) this.request.destroy();
    else process.nextTick(() => this.link.closed());
  }
}

wsClassShape(WebSocket);
