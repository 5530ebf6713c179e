// WebSockets on HTTP/2 streams (RFC 8441): the server's node:http2 plumbing, and the header conversions the
// client (http2-client.ts) shares with it. A browser that holds an HTTP/2 connection to a server advertising
// SETTINGS_ENABLE_CONNECT_PROTOCOL opens its WebSocket as an extended CONNECT stream on it; the engine judges
// the request (bindings/protocol/handshake.ts `parseConnectRequest`), bindings/api/server-core.ts decides as
// for an upgrade, and the session runs on the stream (link.ts `Http2StreamLink`). Here: recognising http2 servers, advertising the setting, taking the
// CONNECT streams of an attached server, answering refusals with their status, and `ws.socket` for a stream.
import * as http2 from "node:http2";
import type { Socket } from "node:net";
import type { HeaderField } from "../../bindings/protocol/handshake.js";
import type { WebSocketServer } from "./server.js";

/** A node:http2 server (`http2.createServer` for h2c, `http2.createSecureServer` for TLS). */
export type Http2Server = http2.Http2Server | http2.Http2SecureServer;

/** A stream's request header fields, as node:http2 gives them. */
export type StreamHeaders = http2.IncomingHttpHeaders;

let serverClasses: Function[] | undefined;

/** Whether `server` is a node:http2 server (the classes are not exported: taken from two unstarted ones). */
export function isHttp2Server(server: unknown): server is Http2Server {
  serverClasses ??= [http2.createServer().constructor, http2.createSecureServer().constructor];
  return serverClasses.some((type) => server instanceof type);
}

/**
 * Make `server` advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) on every session it opens from now
 * on, keeping the settings it has; without it no client may send an extended CONNECT. Throws where the
 * runtime's node:http2 cannot.
 */
export function advertiseConnectProtocol(server: Http2Server): void {
  if (typeof server.updateSettings !== "function")
    throw new TypeError(
      "this runtime's http2 server has no updateSettings(): WebSocketServer cannot make it advertise " +
        "SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441), so no client could open a WebSocket over HTTP/2",
    );
  server.updateSettings({ enableConnectProtocol: true });
}

/** Whether a stream is an extended CONNECT (`:protocol` set): a WebSocket's, or one refused as not. */
export function isExtendedConnect(headers: StreamHeaders): boolean {
  return headers[":method"] === "CONNECT" && headers[":protocol"] !== undefined;
}

/**
 * The fields of `headers` as node:http2 gives them, one [name, value] pair a value (a repeated field comes
 * as an array), in order; pseudo-header fields (`:status`, `:path`...) left out unless `pseudo`.
 */
export function headerPairs(headers: http2.IncomingHttpHeaders, pseudo = true): HeaderField[] {
  const pairs: HeaderField[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || (!pseudo && name.startsWith(":"))) continue;
    for (const item of Array.isArray(value) ? value : [value]) pairs.push([name, String(item)]);
  }
  return pairs;
}

/** The header list of `headers` as names and values alternating (when the runtime gave no `rawHeaders`). */
export function rawHeadersOf(headers: StreamHeaders): string[] {
  return headerPairs(headers).flat();
}

/** Header fields (the engine's, one a line) as node:http2 sends them: a repeated name's values joined by ", ". */
export function outgoingHeaders(fields: Iterable<HeaderField>): http2.OutgoingHttpHeaders {
  const headers: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of fields) {
    const earlier = headers[name];
    headers[name] = earlier === undefined ? value : `${String(earlier)}, ${value}`;
  }
  return headers;
}

// Servers attached to one http2 server, tried in order by path; and the streams they took.
const attached = new WeakMap<Http2Server, WebSocketServer[]>();
const taken = new WeakSet<http2.Http2Stream>();

/**
 * Take the extended CONNECT streams of `server` for `wss`: one 'stream' listener per http2 server, first in
 * line, dispatching by path (a path none takes is refused by the first, with 400 as for an upgrade). Other
 * streams are left to the application. node:http2's compatibility layer (a 'request' listener) answers
 * every CONNECT it sees with 405 unless 'connect' is listened to: a 'connect' listener keeps it off the
 * streams taken here, and answers the others with that same 405 when no one else listens.
 */
export function attachStreams(server: Http2Server, wss: WebSocketServer): void {
  let servers = attached.get(server);
  if (!servers) {
    servers = [];
    attached.set(server, servers);
    server.prependListener("stream", onStream);
    server.on("connect", onConnect);
  }
  servers.push(wss);
}

/** Undo `attachStreams` (the last server to go removes the listeners). */
export function detachStreams(server: Http2Server, wss: WebSocketServer): void {
  const servers = attached.get(server);
  const at = servers ? servers.indexOf(wss) : -1;
  if (!servers || at < 0) return;
  servers.splice(at, 1);
  if (servers.length > 0) return;
  attached.delete(server);
  server.off("stream", onStream);
  server.off("connect", onConnect);
}

/** An attached server's 'stream' (`this`). */
function onStream(
  this: Http2Server,
  stream: http2.ServerHttp2Stream,
  headers: StreamHeaders,
  _flags: number,
  rawHeaders?: string[],
): void {
  if (!isExtendedConnect(headers)) return;
  const servers = attached.get(this);
  if (!servers || servers.length === 0) return;
  taken.add(stream);
  const path = headers[":path"] ?? "/";
  const wss = servers.find((candidate) => candidate.handlesPath(path)) ?? servers[0];
  wss.handleStream(stream, headers, undefined, rawHeaders);
}

/** The compatibility layer's 'connect' (`this`): see `attachStreams`. */
function onConnect(this: Http2Server, req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  if (taken.has(req.stream) || this.listenerCount("connect") > 1) return;
  res.statusCode = http2.constants.HTTP_STATUS_METHOD_NOT_ALLOWED;
  res.end();
}

// Fields HTTP/2 forbids in a response (RFC 9113 §8.2.2); node:http2 throws on them.
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Header fields an HTTP/2 response can carry: names lower-cased (RFC 9113 §8.2.1); connection-specific
 * ones and any with CR or LF (a `verifyClient` refusal's or a 'headers' listener's) dropped.
 */
export function responseFields(
  fields: Record<string, string | number> | undefined,
): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(fields ?? {})) {
    const key = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(key) || /[\r\n]/.test(`${name}${value}`)) continue;
    out[key] = value;
  }
  return out;
}

/** Answer a stream with a refusal: `status`, a text body, extra fields; END_STREAM after the body. */
export function refuseStream(
  stream: http2.ServerHttp2Stream,
  status: number,
  body: string,
  fields?: Record<string, string | number>,
): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond({
    ...responseFields(fields),
    ":status": status,
    "content-type": "text/plain; charset=utf-8",
  });
  stream.end(body);
}

/**
 * `ws.socket` (ws's `_socket`) of a connection on a stream: the stream, with what only a socket has (the
 * peer's and local address and port, `encrypted`, the TLS calls) read from its session's socket, as
 * node:http2's compatibility layer gives `req.socket`. Writing or destroying goes to the stream alone.
 */
export function streamSocket(stream: http2.ServerHttp2Stream): Socket {
  const ownerOf = (prop: string | symbol): object =>
    prop in stream ? stream : ((stream.session?.socket as object | undefined) ?? stream);
  return new Proxy(stream, {
    get(target, prop) {
      const owner = ownerOf(prop);
      const value: unknown = Reflect.get(owner, prop);
      return typeof value === "function" ? (value as Function).bind(owner) : value;
    },
    has(target, prop) {
      return prop in ownerOf(prop);
    },
  }) as unknown as Socket;
}
