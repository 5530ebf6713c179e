// The `req` a connection's listeners, `verifyClient` and `handleProtocols` get when node:http parsed no request:
// on our own port (the engine read the head off the socket) and on an HTTP/2 stream (RFC 8441). Either way a
// real `http.IncomingMessage`, what `ws` hands out, filled from the engine's reading of the request.
import * as http from "node:http";
import type { Socket } from "node:net";
import type { UpgradeRequest } from "../../bindings/protocol/handshake.js";

/**
 * An `http.IncomingMessage` on `socket` for `request`. `headers` is computed by Node from `rawHeaders` when
 * first read, with node:http's rules for repeated fields. Over HTTP/2 `socket` is the session's socket,
 * `httpVersion` is "2.0", the method CONNECT, `url` the `:path`, and the pseudo-headers are in `headers`
 * (`:authority`, `:scheme`, `:protocol`), as node:http2 gives them.
 */
export function incomingMessage(socket: Socket, request: UpgradeRequest): http.IncomingMessage {
  const req = new http.IncomingMessage(socket);
  req.method = request.method;
  req.url = request.path;
  const http2 = request.httpVersion === 20;
  req.httpVersionMajor = http2 ? 2 : 1;
  req.httpVersionMinor = http2 ? 0 : 1;
  req.httpVersion = http2 ? "2.0" : "1.1";
  const lines = req as unknown as { _addHeaderLines?: (raw: string[], n: number) => void };
  if (typeof lines._addHeaderLines === "function")
    lines._addHeaderLines(request.rawHeaders, request.rawHeaders.length);
  else {
    req.rawHeaders = request.rawHeaders;
    req.headers = request.headers;
  }
  req.complete = true;
  (req as unknown as { upgrade: boolean }).upgrade = !http2;
  return req;
}
