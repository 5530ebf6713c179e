// The opening handshake as JS values: parse a client's upgrade request or a server's 101 response, choose
// a subprotocol, and build the bytes to send, all by the engine's handshake exports (assembly/handshake.ts,
// docs/ENGINE.md "Handshake"). Runtime-neutral: bytes pass through the engine's I/O area, used as scratch (a
// server's calls take no slot and run on the pool's handshake engine, so that area is never a connection's input).
import {
  ACCEPT_BYTES,
  BUILDER_ROOM_BYTES,
  HANDSHAKE_ERROR_FIRST,
  HeaderEntry,
  SPAN_LENGTH_OFFSET,
  HandshakeError,
  HandshakeField,
  HANDSHAKE_FIELDS_BYTES,
  HEADER_ENTRY_BYTES,
  type EngineExports,
} from "../engine/abi.js";
import { defaults } from "../policies/config.js";
import type { Engine } from "../engine/engine.js";
import { check } from "../engine/errors.js";
import { isToken } from "../engine/rules.js";

/** The engine's handshake exports. */
export type HandshakeExports = Pick<
  EngineExports,
  | "parseRequest"
  | "parseConnect"
  | "selectProtocol"
  | "buildResponse"
  | "buildRejection"
  | "buildRequest"
  | "parseResponse"
  | "acceptKey"
  | "sha1"
  | "buildConnectRequest"
  | "parseConnectResponse"
>;

/** Byte offsets of the u32 handshake fields at `handshakePtr()` (assembly/http.ts HandshakeField), and the
 * sizes of the fixed fields before the header table and of one table entry. */
export { HandshakeField, HANDSHAKE_FIELDS_BYTES, HEADER_ENTRY_BYTES } from "../engine/abi.js";

export { handshakeErrors, type HandshakeRule } from "../engine/errors.js";
import { handshakeErrors } from "../engine/errors.js";

/** The rule name of a HandshakeError id ("" for 0). */
export function handshakeRuleName(reason: number): string {
  return reason === 0 ? "" : (handshakeErrors[reason]?.name ?? `HandshakeError${reason}`);
}

/** A client's upgrade request (or an HTTP/2 extended CONNECT) as the engine read it. */
export interface UpgradeRequest {
  /** 101 (HTTP/2: 200) to accept, else the status to refuse with (400, 405, 426, 431, 501, 505). */
  status: number;
  /** The request's HTTP version, major * 10 + minor: 11 for an upgrade, 20 for an HTTP/2 stream. */
  httpVersion: number;
  /** Bytes of the head; what follows in the input is already WebSocket frames. */
  headEnd: number;
  /** The rule the request broke ("" when status is 101), and a message for logs. */
  reason: string;
  message: string;
  /** ws's status and words for the rule where ws checks it too ("" where it does not): the error table's. */
  wsStatus: number;
  wsMessage: string;
  method: string;
  /** Request target: path and query (HTTP/2: `:path`). */
  path: string;
  /** Host (HTTP/2: `:authority`). */
  host: string;
  /** Sec-WebSocket-Key ("" over HTTP/2, which does not use it). */
  key: string;
  /** Sec-WebSocket-Version as a number (0 absent, 0xFFFFFFFF not a number). */
  version: number;
  origin: string;
  /** Subprotocols offered, in the client's order. */
  protocols: string[];
  /** The raw Sec-WebSocket-Extensions offer (all lines joined). */
  extensions: string;
  /** Header fields by lower-case name, repeated ones joined with ", ". */
  headers: Record<string, string>;
  /** Names (as sent) and values, alternating, in order: Node's `IncomingMessage.rawHeaders`. */
  rawHeaders: string[];
}

/** Options of the parse calls. */
export interface HeadOptions {
  /** Longest head accepted (431 / HeadTooLarge beyond); default `defaults.maxHeaderSize`, at most half the I/O area. */
  maxHeaderBytes?: number;
}

function api(engine: Engine): HandshakeExports {
  return engine.exports as unknown as HandshakeExports;
}

function field(engine: Engine, offset: number): number {
  return engine.u32[(engine.handshake + offset) >>> 2];
}

const ascii = new TextDecoder();

type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;

/**
 * The runtime's own latin1 reading of a byte range where it has one that takes any Uint8Array (Node's and
 * Bun's `Buffer#latin1Slice`): one native call, with no scan for high bytes and no view. Checked once, on
 * bytes that read differently in latin1 than in any other decoder; null elsewhere (browsers).
 */
const nativeLatin1: Latin1Slice | null = (() => {
  const buffer = (globalThis as { Buffer?: { prototype?: { latin1Slice?: unknown } } }).Buffer;
  const slice = buffer?.prototype?.latin1Slice;
  if (typeof slice !== "function") return null;
  try {
    const probe = new Uint8Array([0x41, 0xe9, 0x80, 0xff, 0x42]);
    return (slice as Latin1Slice).call(probe, 1, 4) === "\u00e9\u0080\u00ff" ? (slice as Latin1Slice) : null;
  } catch {
    return null;
  }
})();

/** Bytes at [ptr, ptr + len) as a latin1 string (how HTTP heads are read). */
function latin1(engine: Engine, ptr: number, len: number): string {
  if (nativeLatin1 !== null) return nativeLatin1.call(engine.u8, ptr, ptr + len);
  const u8 = engine.u8;
  let high = false;
  for (let i = ptr; i < ptr + len; i++) if (u8[i] > 0x7f) high = true;
  // ASCII (any head a client sends in practice) reads the same in every decoder: one decode, without
  // fromCharCode.apply's argument list (8 bytes per byte of the head, garbage at once).
  if (!high) return ascii.decode(u8.subarray(ptr, ptr + len));
  // Else one fromCharCode call per 8 KiB rather than a string concatenation per byte.
  let text = "";
  for (let at = ptr; at < ptr + len; at += 8192) {
    const piece = engine.u8.subarray(at, Math.min(at + 8192, ptr + len));
    text += String.fromCharCode.apply(null, piece as unknown as number[]);
  }
  return text;
}

/** Strings out of one staged input: read as latin1 once, then sliced (one decode, not one per field). */
class HeadText {
  private readonly engine: Engine;
  private readonly base: number;
  private readonly end: number;
  private readonly text: string;

  constructor(engine: Engine, base: number, length: number) {
    this.engine = engine;
    this.base = base;
    this.end = base + length;
    this.text = latin1(engine, base, length);
  }

  /** The bytes at [ptr, ptr + len) as a string (decoded apart when outside the input). */
  at(ptr: number, len: number): string {
    if (ptr < this.base || ptr + len > this.end) return latin1(this.engine, ptr, len);
    return this.text.slice(ptr - this.base, ptr - this.base + len);
  }
}

function span(engine: Engine, ptrField: number, text: HeadText): string {
  return text.at(field(engine, ptrField), field(engine, ptrField + SPAN_LENGTH_OFFSET));
}

function encodeLatin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

/** Copy byte strings one after another into the I/O area; returns their addresses and the next free one. */
function stage(engine: Engine, parts: Uint8Array[], room: number): { at: number[]; free: number } {
  const at: number[] = [];
  let free = engine.io;
  for (const part of parts) {
    at.push(free);
    free += part.length;
  }
  if (free + room > engine.io + engine.ioBytes)
    throw new RangeError(
      `handshake needs ${free + room - engine.io} bytes of I/O area, engine has ${engine.ioBytes}`,
    );
  parts.forEach((part, i) => engine.u8.set(part, at[i]));
  return { at, free };
}

function maxHead(engine: Engine, options: HeadOptions): number {
  return Math.min(options.maxHeaderBytes ?? defaults.maxHeaderSize, engine.ioBytes >>> 1);
}

/** A header name as sent and in lower case (the record's key). */
interface HeaderName {
  readonly sent: string;
  readonly lower: string;
}

/**
 * Header names read before, by length (up to NAME_CACHE_LENGTH bytes, NAME_CACHE_WIDTH names of each length,
 * the first seen): every client sends the same few names, and one found here costs a comparison of its bytes
 * instead of a slice, a `toLowerCase` and a fresh property key per request. Names past the bounds are read
 * as before, so a peer sending made-up names fills it once and changes nothing else.
 */
const NAME_CACHE_LENGTH = 32;
const NAME_CACHE_WIDTH = 8;
const knownNames: HeaderName[][] = Array.from({ length: NAME_CACHE_LENGTH + 1 }, () => []);

/** Whether the `length` bytes at `at` are `name`'s char codes (latin1, as the head is read). */
function bytesAre(u8: Uint8Array, at: number, length: number, name: string): boolean {
  for (let i = 0; i < length; i++) if (u8[at + i] !== name.charCodeAt(i)) return false;
  return true;
}

/** The name of `length` bytes at `at` in the head: from the cache when read before. */
function headerName(engine: Engine, text: HeadText, at: number, length: number): HeaderName {
  const known = length <= NAME_CACHE_LENGTH ? knownNames[length] : undefined;
  if (known !== undefined)
    for (let i = 0; i < known.length; i++)
      if (bytesAre(engine.u8, at, length, known[i].sent)) return known[i];
  const sent = text.at(at, length);
  const name = { sent, lower: sent.toLowerCase() };
  if (known !== undefined && known.length < NAME_CACHE_WIDTH) known.push(name);
  return name;
}

/**
 * The header table as a record of lower-case names, repeated fields joined with ", ", also putting each
 * field's name (as sent) and value in `raw` (Node's `rawHeaders`).
 */
function readHeaders(engine: Engine, text: HeadText, raw?: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  const count = field(engine, HandshakeField.HeaderCount);
  for (let i = 0; i < count; i++) {
    const entry = (engine.handshake + HANDSHAKE_FIELDS_BYTES + i * HEADER_ENTRY_BYTES) >>> 2;
    const name = headerName(
      engine,
      text,
      engine.u32[entry + HeaderEntry.NamePtr / 4],
      engine.u32[entry + HeaderEntry.NameLength / 4],
    );
    const value = text.at(
      engine.u32[entry + HeaderEntry.ValuePtr / 4],
      engine.u32[entry + HeaderEntry.ValueLength / 4],
    );
    // Own fields only: a field named `constructor` is not joined onto Object.prototype's, and one named
    // `__proto__` is a field like any other, not the record's prototype.
    const key = name.lower;
    if (!Object.hasOwn(headers, key)) {
      if (key === "__proto__")
        Object.defineProperty(headers, key, { value, enumerable: true, writable: true });
      else headers[key] = value;
    } else headers[key] = `${headers[key]}, ${value}`;
    raw?.push(name.sent, value);
  }
  return headers;
}

/** Split a comma-separated list into trimmed, non-empty elements. */
export function splitList(value: string | undefined): string[] {
  return value ? value.split(",").flatMap((item) => (item.trim() ? [item.trim()] : [])) : [];
}

/**
 * A Sec-WebSocket-Protocol value as RFC 6455 §4.1 defines it: tokens separated by commas (optional
 * whitespace around them), none empty or repeated. The list, or null when the value breaks that rule.
 */
export function parseProtocolList(value: string): string[] | null {
  const list = value.split(",").map((item) => item.trim());
  if (!list.every(isToken)) return null;
  return new Set(list).size === list.length ? list : null;
}

/**
 * Parse a client's upgrade request from the start of `bytes`: null while the head is incomplete, else what
 * the engine decided. A refused request also carries the status to answer (see `buildRejection`).
 */
export function parseUpgradeRequest(
  engine: Engine,
  bytes: Uint8Array,
  options: HeadOptions = {},
): UpgradeRequest | null {
  const max = maxHead(engine, options);
  const input = bytes.length > max + 1 ? bytes.subarray(0, max + 1) : bytes;
  // Staged at the start of the I/O area (`stage` without its arrays: maxHead keeps it within half the area).
  const at = engine.io;
  engine.u8.set(input, at);
  const status = api(engine).parseRequest(at, input.length, max);
  return status === 0 ? null : readRequest(engine, at, input.length, status);
}

/**
 * Read an HTTP/2 request that may open a WebSocket (RFC 8441): `rawHeaders` is its header list as names and
 * values alternating, in the order received (node:http2's `rawHeaders`), pseudo-headers included. The
 * engine decides: status 200 to accept, else the status to refuse with (400, 405, 426, 431, 501).
 */
export function parseConnectRequest(
  engine: Engine,
  rawHeaders: readonly string[],
  options: HeadOptions = {},
): UpgradeRequest {
  const max = maxHead(engine, options);
  const input = headerListBytes(rawHeaders, max + 1);
  const { at } = stage(engine, [input], 0);
  const status = api(engine).parseConnect(at[0], input.length, max);
  return readRequest(engine, at[0], input.length, status);
}

/**
 * A header list as the lines `parseConnect` reads (`name: value` each, then an empty line), cut at `limit`
 * bytes (the engine answers 431 past its limit). A CR or LF inside a field cannot be written on its line:
 * it is written as NUL, a byte the engine refuses in a field (400), so no field can smuggle in another.
 */
function headerListBytes(rawHeaders: readonly string[], limit: number): Uint8Array {
  const line = (field: string): string => field.replace(/[\r\n]/g, "\0");
  let text = "";
  for (let i = 0; i + 1 < rawHeaders.length && text.length <= limit; i += 2)
    text += `${line(rawHeaders[i])}: ${line(rawHeaders[i + 1])}\r\n`;
  return encodeLatin1((text + "\r\n").slice(0, limit));
}

/** The request the engine read from the `length` bytes at `base` (`status` its answer). */
function readRequest(engine: Engine, base: number, length: number, status: number): UpgradeRequest {
  const reason = field(engine, HandshakeField.Reason);
  const headEnd = field(engine, HandshakeField.HeadEnd);
  // Every field lies in the head (or in the input, for a refused one): decode that once.
  const text = new HeadText(engine, base, headEnd > 0 ? Math.min(headEnd, length) : length);
  const rawHeaders: string[] = [];
  const headers = readHeaders(engine, text, rawHeaders);
  return {
    status,
    httpVersion: field(engine, HandshakeField.HttpVersion),
    headEnd,
    reason: handshakeRuleName(reason),
    message: reason === 0 ? "" : (handshakeErrors[reason]?.message ?? ""),
    wsStatus: reason === 0 ? status : (handshakeErrors[reason]?.wsStatus ?? status),
    wsMessage: reason === 0 ? "" : (handshakeErrors[reason]?.wsMessage ?? ""),
    method: span(engine, HandshakeField.MethodPtr, text),
    path: span(engine, HandshakeField.TargetPtr, text),
    host: span(engine, HandshakeField.HostPtr, text),
    key: span(engine, HandshakeField.KeyPtr, text),
    version: field(engine, HandshakeField.Version),
    origin: span(engine, HandshakeField.OriginPtr, text),
    protocols: splitList(headers["sec-websocket-protocol"]),
    extensions: headers["sec-websocket-extensions"] ?? "",
    headers,
    rawHeaders,
  };
}

/**
 * The subprotocol to accept: the first of the client's `offered` (in its order) that `supported` lists,
 * compared exactly; null when none.
 */
export function selectSubprotocol(engine: Engine, offered: string[], supported: string[]): string | null {
  const lists = [encodeLatin1(offered.join(",")), encodeLatin1(supported.join(","))];
  const { at } = stage(engine, lists, 0);
  const offset = api(engine).selectProtocol(at[0], lists[0].length, at[1], lists[1].length);
  if (offset < 0) return null;
  return latin1(engine, at[0] + offset, field(engine, HandshakeField.SelectedLength));
}

/** `Name: value\r\n` lines for extra headers. */
function headerLines(headers: Record<string, string> | undefined): string {
  let text = "";
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (/[\r\n]/.test(name + value)) throw new TypeError(`header ${JSON.stringify(name)} contains CR or LF`);
    text += `${name}: ${value}\r\n`;
  }
  return text;
}

/** The 101 response accepting `key`, with the chosen `protocol` and extra header fields. */
export function buildAcceptResponse(
  engine: Engine,
  key: string,
  protocol = "",
  headers?: Record<string, string>,
): Uint8Array {
  return acceptResponseView(engine, key, protocol, headerLines(headers)).slice();
}

/** Write `text`'s latin1 bytes (char codes & 0xff, as `encodeLatin1`) at `at` of engine memory. */
function writeLatin1(engine: Engine, at: number, text: string): void {
  const u8 = engine.u8;
  for (let i = 0; i < text.length; i++) u8[at + i] = text.charCodeAt(i) & 0xff;
}

/**
 * `buildAcceptResponse` in engine memory, `lines` the extra header lines: a view valid until the engine's
 * next handshake call (a server copies it into its output at once); the strings go to the engine with no
 * byte arrays in between.
 */
export function acceptResponseView(engine: Engine, key: string, protocol: string, lines: string): Uint8Array {
  const keyAt = engine.io;
  const protocolAt = keyAt + key.length;
  const linesAt = protocolAt + protocol.length;
  const free = linesAt + lines.length;
  if (free + BUILDER_ROOM_BYTES > engine.io + engine.ioBytes)
    throw new RangeError(
      `handshake needs ${free + BUILDER_ROOM_BYTES - engine.io} bytes of I/O area, engine has ${engine.ioBytes}`,
    );
  writeLatin1(engine, keyAt, key);
  writeLatin1(engine, protocolAt, protocol);
  writeLatin1(engine, linesAt, lines);
  const n = check(
    api(engine).buildResponse(keyAt, key.length, protocolAt, protocol.length, linesAt, lines.length, free),
    "buildResponse",
  );
  return engine.u8.subarray(free, free + n);
}

/** A complete error response refusing a handshake with `status` (`Connection: close`, a short body). */
export function buildRejection(engine: Engine, status: number): Uint8Array {
  const { free } = stage(engine, [], BUILDER_ROOM_BYTES);
  const n = api(engine).buildRejection(status, free);
  return engine.u8.slice(free, free + n);
}

/** What a client sends to open connection `conn`. */
export interface UpgradeRequestOptions {
  /** Host header value (host[:port]). */
  host: string;
  /** Path and query; default "/". */
  path?: string;
  /** Subprotocols to offer. */
  protocols?: string[];
  /** Extra header fields (Origin, Authorization, ...). */
  headers?: Record<string, string>;
}

/**
 * The upgrade request for client connection `conn`, with a fresh key from the entropy pool; the engine
 * keeps the Sec-WebSocket-Accept to expect in the connection's slot for `parseUpgradeResponse`.
 */
export function buildUpgradeRequest(
  engine: Engine,
  conn: number,
  options: UpgradeRequestOptions,
): Uint8Array {
  engine.refillEntropy();
  const { free, n } = buildWith(engine, options, options.headers, "buildRequest", (parts, dst) =>
    api(engine).buildRequest(conn, ...parts, dst),
  );
  return engine.u8.slice(free, free + n);
}

/** A request's pieces (host, path, subprotocols, extra lines) as (address, length) pairs in the I/O area. */
type RequestParts = [number, number, number, number, number, number, number, number];

/** Stage a request's pieces and run the engine's builder on them; where it wrote and how much. */
function buildWith(
  engine: Engine,
  options: UpgradeRequestOptions,
  headers: Record<string, string> | undefined,
  name: string,
  build: (parts: RequestParts, dst: number) => number,
): { free: number; n: number } {
  const pieces = [
    encodeLatin1(options.host),
    encodeLatin1(options.path ?? "/"),
    encodeLatin1((options.protocols ?? []).join(", ")),
    encodeLatin1(headerLines(headers)),
  ];
  const room = BUILDER_ROOM_BYTES + pieces.reduce((sum, piece) => sum + piece.length, 0);
  const { at, free } = stage(engine, pieces, room);
  const parts = pieces.flatMap((piece, i) => [at[i], piece.length]) as RequestParts;
  return { free, n: check(build(parts, free), name) };
}

/** The server's answer to a client's upgrade request. */
export type UpgradeResponse =
  | {
      ok: true;
      headEnd: number;
      protocol: string;
      /** Sec-WebSocket-Extensions (all lines joined; "" for none), for the host to check against its offer. */
      extensions: string;
      headers: Record<string, string>;
    }
  | {
      ok: false;
      headEnd: number;
      /** The server's status when it answered with another status than 101, else 0. */
      status: number;
      /** The rule the response broke ("UnexpectedStatus" when `status` is set). */
      reason: string;
      message: string;
      /** ws's words for the rule ("" where ws does not check it): the error table's. */
      wsMessage: string;
      headers: Record<string, string>;
    };

/** Options of `parseUpgradeResponse`. */
export interface ResponseOptions extends HeadOptions {
  /**
   * The request offered extensions: a 101 with Sec-WebSocket-Extensions passes the engine (which fails
   * it, having offered none itself, as ExtensionNotOffered) and the host checks the value
   * (bindings/protocol/extensions.ts `acceptDeflateResponse`).
   */
  extensionsOffered?: boolean;
}

/**
 * Check the server's response to client connection `conn`'s request (`offered`: the protocols it sent):
 * null while the head is incomplete.
 */
export function parseUpgradeResponse(
  engine: Engine,
  conn: number,
  bytes: Uint8Array,
  offered: string[] = [],
  options: ResponseOptions = {},
): UpgradeResponse | null {
  const max = maxHead(engine, options);
  const input = bytes.subarray(0, max + 1);
  const list = encodeLatin1(offered.join(","));
  const { at } = stage(engine, [input, list], 0);
  const result = api(engine).parseResponse(conn, at[0], input.length, at[1], list.length, max);
  if (result < 0 && result > -HANDSHAKE_ERROR_FIRST) check(result, "parseResponse");
  if (result === 0) return null;
  return answer(engine, result, 101, at[0], input.length, options);
}

/** What the engine said of a server's answer (`accepting`: its status for an acceptance, 101 or 200). */
function answer(
  engine: Engine,
  result: number,
  accepting: number,
  at: number,
  length: number,
  options: ResponseOptions,
): UpgradeResponse {
  const headEnd = field(engine, HandshakeField.HeadEnd);
  const text = new HeadText(engine, at, headEnd > 0 ? Math.min(headEnd, length) : length);
  const headers = readHeaders(engine, text);
  const reason = field(engine, HandshakeField.Reason);
  // ExtensionNotOffered: the engine checks it last, so every other rule held.
  if (result === accepting || (result === -HandshakeError.ExtensionNotOffered && options.extensionsOffered))
    return {
      ok: true,
      headEnd,
      protocol: span(engine, HandshakeField.ProtocolsPtr, text),
      extensions: headers["sec-websocket-extensions"] ?? "",
      headers,
    };
  const status = result > 0 ? result : 0;
  const message =
    status > 0
      ? `server answered ${status} ${span(engine, HandshakeField.PhrasePtr, text)}`.trimEnd()
      : (handshakeErrors[reason]?.message ?? `handshake error ${reason}`);
  const wsMessage = (handshakeErrors[reason]?.wsMessage ?? "").replace("{value}", String(status));
  return { ok: false, headEnd, status, reason: handshakeRuleName(reason), message, wsMessage, headers };
}

/** What a client sends to open a WebSocket on an HTTP/2 stream (RFC 8441). */
export interface ConnectRequestOptions extends UpgradeRequestOptions {
  /** `:scheme` https (else http, for h2c). */
  secure: boolean;
}

/** A header field of an HTTP/2 header block: name (lower-case; pseudo-header fields start with ":") and value. */
export type HeaderField = [name: string, value: string];

/**
 * The header block of an extended CONNECT opening a WebSocket on an HTTP/2 stream (RFC 8441 §4), as the
 * engine writes it: pseudo-header fields first, then `sec-websocket-version`, the subprotocols offered and
 * `headers` (names lower-cased, as HTTP/2 sends them). No key: nothing is kept in a slot.
 */
export function buildConnectRequest(engine: Engine, options: ConnectRequestOptions): HeaderField[] {
  const lower: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) lower[name.toLowerCase()] = value;
  const { free, n } = buildWith(engine, options, lower, "buildConnectRequest", (parts, dst) =>
    api(engine).buildConnectRequest(options.secure ? 1 : 0, ...parts, dst),
  );
  const fields: HeaderField[] = [];
  for (const line of latin1(engine, free, n).split("\r\n")) {
    const colon = line.indexOf(":", 1);
    if (colon > 0) fields.push([line.slice(0, colon), line.slice(colon + 2)]);
  }
  return fields;
}

/**
 * Check the server's HTTP/2 response to an extended CONNECT (`offered`: the protocols the request sent):
 * its `:status` and header fields, by the engine's rules, as `parseUpgradeResponse` checks a 101 (here
 * `ok` for a 200).
 */
export function parseConnectResponse(
  engine: Engine,
  status: number,
  headers: HeaderField[],
  offered: string[] = [],
  options: ResponseOptions = {},
): UpgradeResponse {
  let lines = `:status: ${status}\r\n`;
  for (const [name, value] of headers) lines += `${name}: ${value}\r\n`;
  const max = maxHead(engine, options);
  const input = encodeLatin1(`${lines}\r\n`).subarray(0, max + 1);
  const list = encodeLatin1(offered.join(","));
  const { at } = stage(engine, [input, list], 0);
  const result = api(engine).parseConnectResponse(at[0], input.length, at[1], list.length, max);
  return answer(engine, result, 200, at[0], input.length, options);
}

/** Sec-WebSocket-Accept for `key`: base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). */
export function computeAccept(engine: Engine, key: string): string {
  const { at, free } = stage(engine, [encodeLatin1(key)], ACCEPT_BYTES);
  const n = api(engine).acceptKey(at[0], key.length, free);
  return latin1(engine, free, n);
}
