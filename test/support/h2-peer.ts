// A WebSocket over an HTTP/2 stream (RFC 8441) driven byte by byte from node:http2's client: the test opens
// the extended CONNECT itself, writes frames with raw-client.ts's `frame` and reads the server's frames, its
// END_STREAM and its RST_STREAM code. Runs under Node and Bun (both have node:http2).
import * as http2 from "node:http2";
import { RawClient, within } from "./raw-client.js";

/** A client session to `origin` whose server SETTINGS have arrived. */
export async function connectH2(
  origin: string,
  options: http2.SecureClientSessionOptions = {},
): Promise<{ session: http2.ClientHttp2Session; settings: http2.Settings }> {
  const session = http2.connect(origin, options);
  session.on("error", () => {});
  const settings = await within(
    new Promise<http2.Settings>((resolve, reject) => {
      session.once("remoteSettings", resolve);
      session.once("error", reject);
    }),
    5000,
    `SETTINGS from ${origin}`,
  );
  return { session, settings };
}

/** How a stream ended: END_STREAM received from the server or not, and the RST_STREAM code (0: none). */
export interface StreamEnd {
  endStream: boolean;
  rstCode: number;
}

/** One extended CONNECT stream and what the server answered. */
export interface StreamPeer {
  stream: http2.ClientHttp2Stream;
  /** The response's `:status` and fields. */
  status: number;
  headers: http2.IncomingHttpHeaders;
  /** Frames and bytes the server sends on the stream. */
  raw: RawClient<http2.ClientHttp2Stream>;
  /** Resolves once the stream is closed. */
  end: Promise<StreamEnd>;
}

/** The request fields of a WebSocket's extended CONNECT for `path` (RFC 8441 §5), plus `extra`. */
export function connectHeaders(
  path: string,
  extra: http2.OutgoingHttpHeaders = {},
): http2.OutgoingHttpHeaders {
  return {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "https",
    ":path": path,
    ":authority": "127.0.0.1",
    "sec-websocket-version": "13",
    ...extra,
  };
}

/**
 * Send `headers` on `session` and wait for the response (any status). As a browser does, the stream answers
 * the server's END_STREAM with its own, unless `endOnEnd` is false (a peer that never half-closes).
 */
export async function openStream(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  { endOnEnd = true }: { endOnEnd?: boolean } = {},
): Promise<StreamPeer> {
  const stream = session.request(headers, { endStream: false });
  const raw = RawClient.over(stream);
  let endStream = false;
  stream.on("end", () => {
    endStream = true;
    if (endOnEnd) stream.end();
  });
  const end = new Promise<StreamEnd>((resolve) =>
    stream.once("close", () => resolve({ endStream, rstCode: stream.rstCode ?? 0 })),
  );
  const response = await within(
    new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once("response", resolve);
      stream.once("close", () =>
        reject(new Error(`stream closed before a response (RST ${stream.rstCode})`)),
      );
    }),
    5000,
    `response to ${String(headers[":path"])}`,
  );
  return { stream, status: Number(response[":status"]), headers: response, raw, end };
}
