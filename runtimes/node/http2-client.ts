// The client's WebSockets over HTTP/2 (RFC 8441) on node:http2, for the Node and Bun clients alike: an
// extended CONNECT (`:protocol: websocket`) on a stream of a session that may carry other WebSockets, then
// RFC 6455 frames, masked as ever, as the stream's DATA. The engine writes the request's fields and judges
// the response (bindings/protocol/handshake.ts `buildConnectRequest`, `parseConnectResponse`); this file
// only finds a session, opens the stream and reports its events to the attempt's `ClientLink`. A server
// that does not speak it (no h2 by ALPN, or no SETTINGS_ENABLE_CONNECT_PROTOCOL) gets HTTP/1.1 instead.
import * as http2 from "node:http2";
import * as https from "node:https";
import * as net from "node:net";
import * as tls from "node:tls";
import type { ClientLink, ClientOptions, WebSocketTarget } from "../../bindings/api/client-core.js";
import { defaults } from "../../bindings/policies/config.js";
import type { SessionSocket } from "../../bindings/protocol/session.js";
import { headerPairs, outgoingHeaders } from "./h2.js";
import { Http2StreamLink } from "./link.js";

/** Options of an `Http2Agent`. */
export interface Http2AgentOptions {
  /**
   * Ms a session stays open once its last WebSocket has closed, for the next one to the same origin
   * (default `defaults.http2IdleTimeout`, 5 s; 0 closes it at once). An idle session does not keep the
   * process alive.
   */
  idleTimeout?: number;
}

/**
 * How a client opens its WebSocket: `true` on a session of the default `Http2Agent`, an agent of your own,
 * or an `http2.ClientHttp2Session` you made (`http2.connect`), used as it is and never closed by us.
 */
export type Http2Option = boolean | Http2Agent | http2.ClientHttp2Session;

/** The client options this file reads. */
export interface Http2ClientOptions extends ClientOptions {
  http2?: Http2Option;
  /**
   * When the server does not take WebSockets over HTTP/2: "http1" (default) opens an HTTP/1.1 connection
   * instead; "error" fails the attempt.
   */
  http2Fallback?: "http1" | "error";
}

/** The HTTP/2 response to the extended CONNECT, where ws gives an `http.IncomingMessage`. */
export interface Http2Response {
  statusCode: number;
  statusMessage: string;
  httpVersion: "2.0";
  headers: http2.IncomingHttpHeaders;
  /** The stream: a refused answer's body is read from it. */
  stream: http2.ClientHttp2Stream;
}

/** What the client does around the stream: its events, and its HTTP/1.1 connection for a fallback. */
export interface Http2Hooks {
  /** The application's header fields for this request (credentials included). */
  headers: Record<string, string>;
  /** A 200 came (ws's 'upgrade' event), before the engine checks it. */
  upgrade(response: Http2Response): void;
  /** Another status: true when the application took it ('unexpected-response'), and ends the attempt itself. */
  unexpected(response: Http2Response): boolean;
  /** Dial HTTP/1.1 to `target` instead; its socket carries the attempt from now on. */
  fallback(target: WebSocketTarget): SessionSocket;
  /**
   * A 3xx with a Location came: where to go (the next target and its header fields), the error that ends
   * the attempt, or null to treat it as any other status. Absent: redirects are not followed.
   */
  redirect?(
    location: string,
  ): { target: WebSocketTarget; headers: Record<string, string> } | { error: Error } | null;
  /** The stream to the redirect's `url` is open (ws's 'redirect' event; its request fields are sent). */
  redirected?(url: string, stream: http2.ClientHttp2Stream): void;
}

/** A session being made or in use by an agent, and the WebSockets on it. */
interface Pooled {
  key: string;
  session: http2.ClientHttp2Session | null;
  /** The server's SETTINGS came: the session takes streams. */
  ready: boolean;
  /** Open WebSocket streams. */
  streams: number;
  /** Attempts waiting for the session. */
  waiters: Array<(outcome: Outcome) => void>;
  idle: ReturnType<typeof setTimeout> | undefined;
}

/** What an attempt gets: a session (and what to call when its stream closes), HTTP/1.1 instead, or an error. */
type Outcome =
  { session: http2.ClientHttp2Session; release: () => void } | { fallback: string } | { error: Error };

const { NGHTTP2_REFUSED_STREAM } = http2.constants;

/**
 * A pool of HTTP/2 sessions, one per origin and TLS options (keyed as `https.Agent` keys its sockets), each
 * carrying the WebSockets opened to that origin; as `http.Agent` is to ws's HTTP/1.1 requests.
 */
export class Http2Agent {
  /** The agent `http2: true` uses. */
  static readonly default = new Http2Agent();
  readonly idleTimeout: number;
  private readonly pool = new Map<string, Pooled>();

  constructor(options: Http2AgentOptions = {}) {
    const idle = options.idleTimeout ?? defaults.http2IdleTimeout;
    if (!(idle >= 0)) throw new RangeError(`idleTimeout must be a number of ms ≥ 0, got ${idle}`);
    this.idleTimeout = idle;
  }

  /** Sessions open or being opened. */
  get size(): number {
    return this.pool.size;
  }

  /** Close every session: gracefully (open streams finish first), or at once with `destroy`. */
  close(destroy = false): void {
    for (const [key, entry] of this.pool) {
      this.pool.delete(key);
      clearTimeout(entry.idle);
      if (destroy) entry.session?.destroy();
      else entry.session?.close();
    }
  }

  /** A session for `target`: this origin's, or a new one; `callback` gets the outcome, never synchronously. */
  acquire(target: WebSocketTarget, options: object, callback: (outcome: Outcome) => void): void {
    const key = sessionKey(target, options);
    let entry = this.pool.get(key);
    if (entry?.session && (entry.session.closed || entry.session.destroyed)) {
      this.pool.delete(key);
      entry = undefined;
    }
    if (entry?.ready) {
      const outcome = this.use(entry);
      return process.nextTick(() => callback(outcome));
    }
    if (entry) return void entry.waiters.push(callback);
    const created: Pooled = {
      key,
      session: null,
      ready: false,
      streams: 0,
      waiters: [callback],
      idle: undefined,
    };
    this.pool.set(key, created);
    this.connect(key, created, target, options);
  }

  private connect(key: string, entry: Pooled, target: WebSocketTarget, options: object): void {
    const settle = (outcome: Outcome) => {
      // Each waiter counts on the session before any is told: one that lets go at once does not close it.
      const told = entry.waiters.splice(0).map((waiter) => {
        return [waiter, "session" in outcome ? this.use(entry) : outcome] as const;
      });
      for (const [waiter, result] of told) waiter(result);
      // Nobody took it: idle from now on.
      if ("session" in outcome) this.released(entry);
    };
    const fail = (outcome: Outcome) => {
      if (this.pool.get(key) === entry) this.pool.delete(key);
      settle(outcome);
    };
    const start = (socket: net.Socket) => {
      const authority = `${target.secure ? "https" : "http"}://${target.host}`;
      const session = http2.connect(authority, { createConnection: () => socket });
      entry.session = session;
      session.on("error", (error) => {
        if (!entry.ready) fail({ error });
      });
      session.once("remoteSettings", () => {
        entry.ready = true;
        settle({ session, release: () => {} });
      });
      // No new streams on a session going away: the next attempt makes another.
      const forget = () => {
        if (this.pool.get(key) === entry) this.pool.delete(key);
        clearTimeout(entry.idle);
        if (!entry.ready) fail({ error: new Error("HTTP/2 session closed before the server's SETTINGS") });
      };
      session.on("goaway", forget);
      session.on("close", forget);
    };
    const connectOptions = { ...options, host: target.hostname, port: target.port };
    if (!target.secure) return start(net.connect(connectOptions as net.NetConnectOpts));
    const socket = tls.connect({
      ...(connectOptions as tls.ConnectionOptions),
      servername:
        (options as tls.ConnectionOptions).servername ??
        (net.isIP(target.hostname) ? undefined : target.hostname),
      ALPNProtocols: ["h2", "http/1.1"],
    });
    const failed = (error: Error) => fail({ error });
    socket.once("error", failed);
    socket.once("secureConnect", () => {
      socket.off("error", failed);
      if (socket.alpnProtocol === "h2") return start(socket);
      socket.destroy();
      fail({ fallback: `the server chose ${socket.alpnProtocol || "no protocol"} by ALPN, not h2` });
    });
  }

  /** One more WebSocket on `entry`'s session. */
  private use(entry: Pooled): Outcome {
    const session = entry.session!;
    if (session.closed || session.destroyed) return { error: new Error("HTTP/2 session closed") };
    clearTimeout(entry.idle);
    entry.idle = undefined;
    entry.streams++;
    session.ref();
    let released = false;
    return {
      session,
      release: () => {
        if (released) return;
        released = true;
        entry.streams--;
        this.released(entry);
      },
    };
  }

  /** A WebSocket of `entry` ended: with none left, the session closes after `idleTimeout`. */
  private released(entry: Pooled): void {
    const session = entry.session;
    if (entry.streams > 0 || !session || session.closed || session.destroyed) return;
    const close = () => {
      if (this.pool.get(entry.key) === entry) this.pool.delete(entry.key);
      session.close();
    };
    if (this.idleTimeout === 0) return close();
    session.unref();
    clearTimeout(entry.idle);
    entry.idle = setTimeout(close, this.idleTimeout);
    entry.idle.unref?.();
  }
}

/** The pool key: where to connect, and with which TLS and socket options (`https.Agent`'s own naming). */
function sessionKey(target: WebSocketTarget, options: object): string {
  const where = { ...options, host: target.hostname, port: target.port };
  return `${target.secure ? "https" : "http"}:${https.globalAgent.getName(where as https.AgentOptions)}`;
}

/** Once `session` has the server's SETTINGS (its first frame: a PING's answer comes after it). */
function whenSettled(session: http2.ClientHttp2Session, callback: (error?: Error) => void): void {
  if (session.closed || session.destroyed) return callback(new Error("HTTP/2 session closed"));
  if (session.remoteSettings.enableConnectProtocol) return process.nextTick(callback);
  if (session.connecting) {
    const closed = () => callback(new Error("HTTP/2 session closed before it connected"));
    session.once("close", closed);
    return void session.once("connect", () => {
      session.off("close", closed);
      whenSettled(session, callback);
    });
  }
  session.ping((error) => callback(error ?? undefined));
}

/**
 * The attempt's socket: its HTTP/2 stream once open (link.ts `Http2StreamLink`, the server's too: END_STREAM
 * to end, RST_STREAM with CANCEL to destroy, RFC 8441 §5), or the HTTP/1.1 connection after a fallback.
 */
class StreamSocket implements SessionSocket {
  /** The stream's link, or the HTTP/1.1 connection's socket. */
  inner: SessionSocket | null = null;
  /** Closed before a stream was opened. */
  aborted = false;
  private readonly link: ClientLink;

  constructor(link: ClientLink) {
    this.link = link;
  }

  /** The stream was reset by us: nothing more is read from it, and its abort is no error to report. */
  get cancelled(): boolean {
    return this.inner instanceof Http2StreamLink && this.inner.reset;
  }

  write(bytes: Uint8Array, done?: (error?: Error | null) => void): number | boolean {
    if (this.inner) return this.inner.write(bytes, done);
    done?.(new Error("stream not open"));
    return false;
  }

  cork(): void {
    this.inner?.cork?.();
  }

  uncork(): void {
    this.inner?.uncork?.();
  }

  end(): void {
    if (this.inner) this.inner.end();
    else this.abort();
  }

  destroy(): void {
    if (this.inner) this.inner.destroy();
    else this.abort();
  }

  pauseReading(): void {
    this.inner?.pauseReading?.();
  }

  resumeReading(): void {
    this.inner?.resumeReading?.();
  }

  /** What the stream holds back: HTTP/2 flow control keeps bytes here while the peer's window is shut. */
  get bufferedAmount(): number {
    return this.inner?.bufferedAmount ?? 0;
  }

  get writable(): boolean {
    return this.inner?.writable ?? false;
  }

  private abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    process.nextTick(() => this.link.closed());
  }
}

/**
 * Open the attempt's WebSocket on an HTTP/2 stream (`options.http2` set); the socket returned carries it,
 * or the HTTP/1.1 connection `hooks.fallback` makes when the server does not take it.
 */
export function dialHttp2(
  target: WebSocketTarget,
  options: Http2ClientOptions,
  link: ClientLink,
  hooks: Http2Hooks,
): SessionSocket {
  const socket = new StreamSocket(link);
  let headers = hooks.headers;
  /** Where the attempt goes now (a redirect moves it). */
  let current = target;
  /** The URL a redirect led to, for the 'redirect' event once its stream is open. */
  let redirectedTo: string | undefined;
  /** A stream the server refused unprocessed (a GOAWAY race) was retried: once per attempt. */
  let retried = false;
  const failed = (error: Error) => {
    link.error(error);
    link.closed();
  };
  const notTaken = (reason: string) => {
    if (options.http2Fallback === "error")
      return failed(new Error(`WebSockets over HTTP/2 refused: ${reason} (http2Fallback: "error")`));
    socket.inner = hooks.fallback(current);
  };
  const opened = (outcome: Outcome) => {
    if (socket.aborted) return "release" in outcome ? outcome.release() : undefined;
    if ("error" in outcome) return failed(outcome.error);
    if ("fallback" in outcome) return notTaken(outcome.fallback);
    const { session, release } = outcome;
    if (!session.remoteSettings.enableConnectProtocol) {
      release();
      return notTaken("the server's SETTINGS do not enable the extended CONNECT (RFC 8441)");
    }
    openStream(session, release);
  };
  /** Try again on a fresh session of the agent: the stream was refused before the server processed it. */
  const retry = (): boolean => {
    if (retried || socket.aborted || !pooled) return false;
    retried = true;
    socket.inner = null;
    dial();
    return true;
  };
  const openStream = (session: http2.ClientHttp2Session, release: () => void) => {
    const request = outgoingHeaders(link.connectRequest(headers));
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(request, { endStream: false });
    } catch (error) {
      release();
      // The session began closing (a GOAWAY) after the agent handed it out.
      if ((session.closed || session.destroyed) && retry()) return;
      return failed(error as Error);
    }
    const streamLink = new Http2StreamLink(stream);
    socket.inner = streamLink;
    /** This stream still carries the attempt (not left for a redirect or a retry). */
    const live = () => socket.inner === streamLink;
    let answered = false;
    if (redirectedTo !== undefined) hooks.redirected?.(redirectedTo, stream);
    redirectedTo = undefined;
    stream.on("response", (fields) => {
      answered = true;
      const status = Number(fields[":status"]);
      const location = fields.location;
      if (status >= 300 && status < 400 && typeof location === "string" && hooks.redirect) {
        const next = hooks.redirect(location);
        if (next) {
          socket.inner = null;
          stream.close();
          if ("error" in next) return failed(next.error);
          current = next.target;
          headers = next.headers;
          redirectedTo = next.target.url;
          return dial();
        }
      }
      const response: Http2Response = {
        statusCode: status,
        statusMessage: "",
        httpVersion: "2.0",
        headers: fields,
        stream,
      };
      if (status === 200) hooks.upgrade(response);
      else if (hooks.unexpected(response)) return;
      if (socket.cancelled) return;
      link.connectResponse(status, headerPairs(fields, false));
    });
    stream.on("data", (chunk: Buffer) => {
      if (live()) link.receive(chunk);
    });
    stream.on("end", () => {
      if (live()) link.end();
    });
    stream.on("drain", () => {
      if (live()) link.drain();
    });
    // Reported at 'close' (which follows): not at all when the stream is retried.
    let failure: Error | undefined;
    stream.on("error", (error) => {
      if (live() && !socket.cancelled) failure ??= error;
    });
    stream.on("close", () => {
      release();
      if (!live()) return;
      // Refused unprocessed (RST_STREAM or GOAWAY with REFUSED_STREAM, RFC 9113 §8.1.4): safe to send again.
      if (!answered && stream.rstCode === NGHTTP2_REFUSED_STREAM && retry()) return;
      if (failure) link.error(failure);
      link.closed();
    });
  };
  const given = options.http2;
  const pooled = !(given && typeof given === "object" && !(given instanceof Http2Agent));
  const dial = () => {
    if (!pooled) {
      const session = given as http2.ClientHttp2Session;
      if (current.secure !== target.secure || current.host !== target.host)
        return failed(
          new Error(
            `http2: the given session is ${target.host}'s; a redirect to ${current.url} needs another`,
          ),
        );
      return whenSettled(session, (error) => opened(error ? { error } : { session, release: () => {} }));
    }
    const agent = given instanceof Http2Agent ? given : Http2Agent.default;
    agent.acquire(current, options, opened);
  };
  dial();
  return socket;
}

/** Check a client's `http2` options at construction (a TypeError saying what to change). */
export function checkHttp2Options(target: WebSocketTarget, options: Http2ClientOptions): void {
  const { http2: given, http2Fallback: fallback } = options;
  if (fallback !== undefined && fallback !== "http1" && fallback !== "error")
    throw new TypeError(`http2Fallback must be "http1" or "error", got ${String(fallback)}`);
  if (!given) return;
  const session = typeof given === "object" && !(given instanceof Http2Agent);
  if (given !== true && !session && !(given instanceof Http2Agent))
    throw new TypeError("http2 must be true, an Http2Agent or an http2.ClientHttp2Session");
  if (session && typeof (given as http2.ClientHttp2Session).request !== "function")
    throw new TypeError("http2 must be true, an Http2Agent or an http2.ClientHttp2Session");
  if (target.socketPath !== undefined)
    throw new TypeError("http2: WebSockets over HTTP/2 take a ws:// or wss:// URL, not ws+unix:");
}
