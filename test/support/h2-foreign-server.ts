// A foreign RFC 8441 server for our client's tests: plain node:http2 answering the extended CONNECT by hand,
// with the raw client's RFC 6455 frame reader and writer (test/support/raw-client.ts: nothing from the engine
// or the bindings), echoing what the client sends. It records what it saw (each request's header fields, whether frames came masked,
// and how each stream ended: END_STREAM or RST_STREAM and its code) for the tests to check.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import * as zlib from "node:zlib";
import type { WebSocket as NodeWebSocket } from "../../runtimes/node/index.js";
import { frame, parseFrame, within, type RawFrame } from "./raw-client.js";

/** `size` bytes of a pattern that does not repeat every 256 bytes (a misplaced chunk shows). */
export function pattern(size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  return bytes;
}

/** The data of our Node client's next 'message' event (a Buffer, text or binary), within 10 s. */
export function nextData(ws: NodeWebSocket): Promise<Buffer> {
  const data = new Promise<Buffer>((resolve) => ws.once("message", (message) => resolve(message as Buffer)));
  return within(data, 10_000, "message");
}

/** Whole frames from the front of `input` (raw-client.ts's reader), and the bytes left over. */
function readFrames(input: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let at = 0;
  for (let parsed; (parsed = parseFrame(input.subarray(at))) !== null; at += parsed.size)
    frames.push(parsed.frame);
  return { frames, rest: input.subarray(at) };
}

/** A server frame (unmasked), FIN set; RSV1 for a compressed message. */
export function writeFrame(opcode: number, payload: Buffer, rsv1 = false): Buffer {
  return frame(opcode, payload, { mask: false, rsv: rsv1 ? 4 : 0 });
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** A compressed message's payload (RFC 7692 §7.2.1: sync flush, its 00 00 ff ff tail removed). */
function compress(data: Buffer): Buffer {
  const out = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** What the server saw of one stream. */
export interface StreamRecord {
  headers: http2.IncomingHttpHeaders;
  /** The session it came on (one per connection). */
  session: http2.ServerHttp2Session;
  stream: http2.ServerHttp2Stream;
  frames: RawFrame[];
  /** The readable side ended (the client's END_STREAM, or a reset). */
  ended: boolean;
  /** The stream was reset before the server ended its side ('aborted'). */
  aborted: boolean;
  /** The RST_STREAM code the stream closed with (0: none, closed by END_STREAM both ways); -1 while open. */
  rstCode: number;
  closed: Promise<void>;
}

/** How the server answers a path. */
export interface Route {
  /** The status (default 200). */
  status?: number;
  /** Subprotocol to answer with. */
  protocol?: string;
  /** Answer permessage-deflate (no context takeover both ways) when offered. */
  deflate?: boolean;
  /** A Location field with the status (a redirect). */
  location?: string;
  /** Don't read: HTTP/2 flow control holds the client's bytes until `stream.resume()`. */
  paused?: boolean;
}

/** The foreign server: an `http2.createSecureServer` with `allowHTTP1`, and what it saw. */
export interface ForeignServer {
  server: http2.Http2SecureServer;
  port: number;
  streams: StreamRecord[];
  sessions: http2.ServerHttp2Session[];
  /** A stream with this path appears. */
  nextStream(): Promise<StreamRecord>;
  close(): Promise<void>;
}

/**
 * Start the foreign server on 127.0.0.1:0. `enableConnectProtocol` false leaves the setting out (a server
 * without RFC 8441); `routes` by `:path` (anything else: 200, echo); `h2c`: HTTP/2 without TLS.
 */
export async function foreignServer(
  tls: { key: string | Buffer; cert: string | Buffer },
  options: { enableConnectProtocol?: boolean; routes?: Record<string, Route>; h2c?: boolean } = {},
): Promise<ForeignServer> {
  const settings = { enableConnectProtocol: options.enableConnectProtocol ?? true };
  // h2c (prior knowledge, no TLS) when asked; the type stays the secure server's, whose events these are.
  const server = options.h2c
    ? (http2.createServer({ settings }) as unknown as http2.Http2SecureServer)
    : http2.createSecureServer({ ...tls, allowHTTP1: true, settings });
  const streams: StreamRecord[] = [];
  const sessions: http2.ServerHttp2Session[] = [];
  const waiting: Array<(record: StreamRecord) => void> = [];
  server.on("session", (session) => sessions.push(session));
  server.on("stream", (stream, headers) => {
    // A test's own listener, ahead of this one, may have ended the stream already.
    if (stream.closed || stream.destroyed) return;
    let closedResolve!: () => void;
    const record: StreamRecord = {
      headers,
      session: stream.session as http2.ServerHttp2Session,
      stream,
      frames: [],
      ended: false,
      aborted: false,
      rstCode: -1,
      closed: new Promise((resolve) => (closedResolve = resolve)),
    };
    streams.push(record);
    stream.on("error", () => {});
    stream.on("end", () => (record.ended = true));
    stream.on("aborted", () => (record.aborted = true));
    stream.on("close", () => {
      record.rstCode = stream.rstCode ?? 0;
      closedResolve();
    });
    waiting.shift()?.(record);
    serve(stream, headers, options.routes?.[String(headers[":path"])] ?? {}, record);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    streams,
    sessions,
    nextStream: () => new Promise((resolve) => waiting.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Answer an extended CONNECT and echo: messages back as they came, pings with pongs, a close with a close. */
function serve(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  route: Route,
  record: StreamRecord,
): void {
  if (headers[":method"] !== "CONNECT" || headers[":protocol"] !== "websocket") {
    stream.respond({ ":status": 400 });
    return void stream.end("not an extended CONNECT\n");
  }
  const status = route.status ?? 200;
  if (status !== 200) {
    stream.respond({
      ":status": status,
      "content-type": "text/plain",
      ...(route.location ? { location: route.location } : {}),
    });
    return void stream.end(`refused with ${status}\n`);
  }
  const offer = String(headers["sec-websocket-extensions"] ?? "");
  const deflate = route.deflate === true && offer.includes("permessage-deflate");
  stream.respond({
    ":status": 200,
    ...(route.protocol ? { "sec-websocket-protocol": route.protocol } : {}),
    ...(deflate
      ? {
          "sec-websocket-extensions":
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        }
      : {}),
  });
  if (route.paused) stream.pause();
  let input = Buffer.alloc(0);
  let message: { opcode: number; compressed: boolean; parts: Buffer[] } | null = null;
  stream.on("data", (chunk: Buffer) => {
    const { frames, rest } = readFrames(Buffer.concat([input, chunk]));
    input = Buffer.from(rest);
    for (const frame of frames) {
      record.frames.push(frame);
      if (frame.opcode === 0x9) stream.write(writeFrame(0xa, frame.payload));
      else if (frame.opcode === 0x8) {
        if (!stream.writableEnded) stream.end(writeFrame(0x8, frame.payload));
      } else if (frame.opcode === 0x1 || frame.opcode === 0x2 || frame.opcode === 0x0) {
        if (frame.opcode !== 0x0)
          message = { opcode: frame.opcode, compressed: (frame.rsv & 4) !== 0, parts: [] };
        message!.parts.push(frame.payload);
        if (!frame.fin) continue;
        let data = Buffer.concat(message!.parts);
        if (message!.compressed)
          data = zlib.inflateRawSync(Buffer.concat([data, TAIL]), {
            finishFlush: zlib.constants.Z_SYNC_FLUSH,
          });
        const reply = deflate
          ? writeFrame(message!.opcode, compress(data), true)
          : writeFrame(message!.opcode, data);
        message = null;
        if (!stream.writableEnded) stream.write(reply);
      }
    }
  });
}
