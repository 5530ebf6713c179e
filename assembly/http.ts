// HTTP/1.1 message heads (RFC 9112): find where a head ends, split its start line and header lines into
// spans of the input (nothing is copied), match comma-separated token lists, and write the small pieces
// of a head (text, decimal numbers, reason phrases). The WebSocket rules on top are in handshake.ts.
import { HandshakeError } from "./errors";
import { HANDSHAKE, HANDSHAKE_FIELDS_BYTES, HEADER_ENTRY_BYTES, HeaderEntry, MAX_HEADERS, SPAN_LENGTH_OFFSET } from "./layout";

/** Offsets of the u32 handshake fields at `handshakePtr()`; spans are (ptr, len) pairs into the input. */
export namespace HandshakeField {
  /** The HTTP status decided (parseRequest) or received (parseResponse); 0 while incomplete. */
  // @ts-ignore: decorator
  @inline export const Status: usize = 0;
  /** Bytes of the head including its final CRLFCRLF; what follows is WebSocket frames. */
  // @ts-ignore: decorator
  @inline export const HeadEnd: usize = 4;
  /** The HandshakeError naming the broken rule; 0 when the handshake is valid. */
  // @ts-ignore: decorator
  @inline export const Reason: usize = 8;
  /** The start line's HTTP version as major * 10 + minor (11 for HTTP/1.1). */
  // @ts-ignore: decorator
  @inline export const HttpVersion: usize = 12;
  /** Request method. */
  // @ts-ignore: decorator
  @inline export const MethodPtr: usize = 16;
  // @ts-ignore: decorator
  @inline export const MethodLength: usize = 20;
  /** Request target (path and query, origin-form). */
  // @ts-ignore: decorator
  @inline export const TargetPtr: usize = 24;
  // @ts-ignore: decorator
  @inline export const TargetLength: usize = 28;
  /** Host value. */
  // @ts-ignore: decorator
  @inline export const HostPtr: usize = 32;
  // @ts-ignore: decorator
  @inline export const HostLength: usize = 36;
  /** Sec-WebSocket-Key value. */
  // @ts-ignore: decorator
  @inline export const KeyPtr: usize = 40;
  // @ts-ignore: decorator
  @inline export const KeyLength: usize = 44;
  /** Sec-WebSocket-Version as a number; 0 when absent, 0xFFFFFFFF when not 1-4 decimal digits. */
  // @ts-ignore: decorator
  @inline export const Version: usize = 48;
  /** Origin value (or Sec-WebSocket-Origin, from pre-RFC clients), whichever comes first. */
  // @ts-ignore: decorator
  @inline export const OriginPtr: usize = 52;
  // @ts-ignore: decorator
  @inline export const OriginLength: usize = 56;
  /** The first Sec-WebSocket-Protocol value: the client's offer (request) or the server's choice (response). */
  // @ts-ignore: decorator
  @inline export const ProtocolsPtr: usize = 60;
  // @ts-ignore: decorator
  @inline export const ProtocolsLength: usize = 64;
  /** Sec-WebSocket-Protocol lines; when more than one, the full list is in the header table. */
  // @ts-ignore: decorator
  @inline export const ProtocolLines: usize = 68;
  /** The first Sec-WebSocket-Extensions value. */
  // @ts-ignore: decorator
  @inline export const ExtensionsPtr: usize = 72;
  // @ts-ignore: decorator
  @inline export const ExtensionsLength: usize = 76;
  /** Sec-WebSocket-Extensions lines. */
  // @ts-ignore: decorator
  @inline export const ExtensionLines: usize = 80;
  /** Sec-WebSocket-Accept value (responses). */
  // @ts-ignore: decorator
  @inline export const AcceptPtr: usize = 84;
  // @ts-ignore: decorator
  @inline export const AcceptLength: usize = 88;
  /** Reason phrase of a response's status line. */
  // @ts-ignore: decorator
  @inline export const PhrasePtr: usize = 92;
  // @ts-ignore: decorator
  @inline export const PhraseLength: usize = 96;
  /** Entries in the header table after the fields. */
  // @ts-ignore: decorator
  @inline export const HeaderCount: usize = 100;
  /** Length of the protocol `selectProtocol` chose (0: none). */
  // @ts-ignore: decorator
  @inline export const SelectedLength: usize = 104;
}

/** Room a handshake builder's `dst` needs beyond the sum of its inputs' lengths, and all a rejection takes. */
export const BUILDER_ROOM_BYTES: u32 = 200;

/** The header table: MAX_HEADERS entries of (namePtr, nameLen, valuePtr, valueLen), values OWS-trimmed. */
export const HEADERS: usize = HANDSHAKE + <usize>HANDSHAKE_FIELDS_BYTES;

// @ts-ignore: decorator
@inline const HT: u32 = 0x09;
// @ts-ignore: decorator
@inline const LF: u32 = 0x0a;
// @ts-ignore: decorator
@inline const CR: u32 = 0x0d;
// @ts-ignore: decorator
@inline const SP: u32 = 0x20;

/** Bit c set for each tchar (RFC 9110 §5.6.2): "!#$%&'*+-.^_`|~", digits and letters. */
const TCHAR = memory.data<u8>([
  0x00, 0x00, 0x00, 0x00, 0xfa, 0x6c, 0xff, 0x03, 0xfe, 0xff, 0xff, 0xc7, 0xff, 0xff, 0xff, 0x57,
]);

/**
 * Reason phrases: u16 status, u8 length, text. Looked up by status, then by class (4: "Client Error",
 * 5: "Server Error"), then 0 ("Error").
 */
const PHRASES = memory.data<u8>([
  144, 1, 11, 66, 97, 100, 32, 82, 101, 113, 117, 101, 115, 116, 145, 1, 12, 85, 110, 97, 117, 116, 104, 111, 114, 105,
  122, 101, 100, 147, 1, 9, 70, 111, 114, 98, 105, 100, 100, 101, 110, 148, 1, 9, 78, 111, 116, 32, 70, 111, 117, 110,
  100, 149, 1, 18, 77, 101, 116, 104, 111, 100, 32, 78, 111, 116, 32, 65, 108, 108, 111, 119, 101, 100, 170, 1, 16, 85,
  112, 103, 114, 97, 100, 101, 32, 82, 101, 113, 117, 105, 114, 101, 100, 173, 1, 17, 84, 111, 111, 32, 77, 97, 110,
  121, 32, 82, 101, 113, 117, 101, 115, 116, 115, 175, 1, 31, 82, 101, 113, 117, 101, 115, 116, 32, 72, 101, 97, 100,
  101, 114, 32, 70, 105, 101, 108, 100, 115, 32, 84, 111, 111, 32, 76, 97, 114, 103, 101, 244, 1, 21, 73, 110, 116,
  101, 114, 110, 97, 108, 32, 83, 101, 114, 118, 101, 114, 32, 69, 114, 114, 111, 114, 247, 1, 19, 83, 101, 114, 118,
  105, 99, 101, 32, 85, 110, 97, 118, 97, 105, 108, 97, 98, 108, 101, 249, 1, 26, 72, 84, 84, 80, 32, 86, 101, 114,
  115, 105, 111, 110, 32, 78, 111, 116, 32, 83, 117, 112, 112, 111, 114, 116, 101, 100, 4, 0, 12, 67, 108, 105, 101,
  110, 116, 32, 69, 114, 114, 111, 114, 5, 0, 12, 83, 101, 114, 118, 101, 114, 32, 69, 114, 114, 111, 114, 0, 0, 5, 69,
  114, 114, 111, 114,
]);
const PHRASES_LENGTH: usize = 260;

/** Read a handshake field. */
// @ts-ignore: decorator
@inline export function field(offset: usize): u32 {
  return load<u32>(HANDSHAKE + offset);
}

/** Write a handshake field. */
// @ts-ignore: decorator
@inline export function setField(offset: usize, value: u32): void {
  store<u32>(HANDSHAKE + offset, value);
}

/** Write a (ptr, len) span at `offset`. */
export function setSpan(offset: usize, ptr: usize, len: u32): void {
  store<u32>(HANDSHAKE + offset, <u32>ptr);
  store<u32>(HANDSHAKE + offset + <usize>SPAN_LENGTH_OFFSET, len);
}

/** Zero the fields before a parse (the header table is bounded by HeaderCount). */
export function clearFields(): void {
  memory.fill(HANDSHAKE, 0, <usize>HANDSHAKE_FIELDS_BYTES);
}

/** True for a token character. */
export function isTchar(c: u32): bool {
  return c < 128 && ((<u32>load<u8>(TCHAR + (c >> 3)) >> (c & 7)) & 1) != 0;
}

/** True for optional whitespace (SP, HTAB). */
// @ts-ignore: decorator
@inline function isOws(c: u32): bool {
  return c == SP || c == HT;
}

/** True for a control byte a field value must not contain (RFC 9110 §5.5: CTL other than HTAB). */
// @ts-ignore: decorator
@inline function isControl(c: u32): bool {
  return (c < SP && c != HT) || c == 0x7f;
}

/** True if the `len` bytes at `ptr` hold a control byte (CR, LF, NUL, ...): unsafe to put in a head. */
export function hasControl(ptr: usize, len: u32): bool {
  for (let i: u32 = 0; i < len; i++) if (isControl(load<u8>(ptr + i))) return true;
  return false;
}

/**
 * Find the end of the head in the first min(len, limit) bytes at `ptr`: the offset just past the empty
 * line ending it, 0 if it is not there yet, or -HandshakeError for a bare LF or too many header lines
 * (both are decided as soon as they are seen, so a client cannot make the host wait for more).
 */
export function findHeadEnd(ptr: usize, len: u32, limit: u32): i32 {
  const n = min(len, limit);
  let lineStart: u32 = 0;
  let lines: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    if (<u32>load<u8>(ptr + i) != LF) continue;
    if (i == lineStart || <u32>load<u8>(ptr + i - 1) != CR) return -(<i32>HandshakeError.BareLineFeed);
    if (i == lineStart + 1) return <i32>i + 1;
    if (++lines > <u32>MAX_HEADERS + 1) return -(<i32>HandshakeError.TooManyHeaders);
    lineStart = i + 1;
  }
  return 0;
}

/** Offset of the CR ending the line that starts at `pos` (the head is complete, so there is one). */
export function lineEnd(ptr: usize, pos: u32): u32 {
  while (<u32>load<u8>(ptr + pos) != CR || <u32>load<u8>(ptr + pos + 1) != LF) pos++;
  return pos;
}

/** "HTTP/d.d" at `ptr` as major * 10 + minor, or -1. */
function httpVersion(ptr: usize): i32 {
  if (load<u32>(ptr) != 0x50545448 || load<u8>(ptr + 4) != 0x2f || load<u8>(ptr + 6) != 0x2e) return -1;
  const major = <u32>load<u8>(ptr + 5) - 0x30;
  const minor = <u32>load<u8>(ptr + 7) - 0x30;
  return major < 10 && minor < 10 ? <i32>(major * 10 + minor) : -1;
}

/** Set HttpVersion and tell whether it is HTTP/1.1 or a later 1.x (RFC 6455 §4.1: "HTTP/1.1 or higher"). */
function acceptVersion(version: i32): u32 {
  setField(HandshakeField.HttpVersion, <u32>version);
  return version >= 11 && version <= 19 ? 0 : HandshakeError.HttpVersion;
}

/** Parse the request line `method SP target SP HTTP/d.d` ending at `end`; 0 or a HandshakeError. */
export function parseRequestLine(ptr: usize, end: u32): u32 {
  let i: u32 = 0;
  while (i < end && isTchar(load<u8>(ptr + i))) i++;
  if (i == 0 || i >= end || <u32>load<u8>(ptr + i) != SP) return HandshakeError.BadRequestLine;
  setSpan(HandshakeField.MethodPtr, ptr, i);
  const target = ++i;
  while (i < end && <u32>load<u8>(ptr + i) - 0x21 < 0x5e) i++;
  if (i == target || load<u8>(ptr + target) != 0x2f || i >= end || <u32>load<u8>(ptr + i) != SP)
    return HandshakeError.BadRequestLine;
  setSpan(HandshakeField.TargetPtr, ptr + target, i - target);
  const version = end - ++i == 8 ? httpVersion(ptr + i) : -1;
  return version < 0 ? HandshakeError.BadRequestLine : acceptVersion(version);
}

/** Parse the status line `HTTP/d.d SP ddd [SP phrase]` ending at `end`; 0 or a HandshakeError. */
export function parseStatusLine(ptr: usize, end: u32): u32 {
  if (end < 12 || <u32>load<u8>(ptr + 8) != SP || (end > 12 && <u32>load<u8>(ptr + 12) != SP))
    return HandshakeError.BadStatusLine;
  const version = httpVersion(ptr);
  let status: u32 = 0;
  for (let i: usize = 9; i < 12; i++) {
    const digit = <u32>load<u8>(ptr + i) - 0x30;
    if (digit > 9) return HandshakeError.BadStatusLine;
    status = status * 10 + digit;
  }
  if (version < 0 || status < 100) return HandshakeError.BadStatusLine;
  setField(HandshakeField.Status, status);
  if (end > 13) setSpan(HandshakeField.PhrasePtr, ptr + 13, end - 13);
  return acceptVersion(version);
}

/**
 * Whether the first `len` bytes of a response head, not complete yet, already show that it has no status
 * line: bytes other than `HTTP/` at its start, or a first line that has ended and is no status line. Such a
 * peer (a server speaking another protocol, whose banner line then waits for an answer) is refused at once,
 * with the verdict the whole head would get, rather than at the handshake timeout. Sets the status line's
 * fields when it is one: the caller clears them.
 */
export function statusLineBroken(ptr: usize, len: u32): bool {
  for (let i: u32 = 0; i < len && i < 5; i++) if (<u32>load<u8>(ptr + i) != <u32>load<u8>(HTTP_SLASH + i)) return true;
  for (let i: u32 = 1; i < len; i++)
    if (<u32>load<u8>(ptr + i) == LF) return parseStatusLine(ptr, i - 1) == HandshakeError.BadStatusLine;
  return false;
}

/** "HTTP/". */
const HTTP_SLASH: usize = memory.data<u8>([72, 84, 84, 80, 47]);

/**
 * Split the header lines from `pos` to the empty line ending the head at `headEnd` into the table; 0 or a
 * HandshakeError. With `pseudo` (an HTTP/2 header list, written as lines) a name may start with `:`.
 */
export function parseHeaders(ptr: usize, pos: u32, headEnd: u32, pseudo: bool = false): u32 {
  let count: u32 = 0;
  while (pos < headEnd - 2) {
    const end = lineEnd(ptr, pos);
    const next = end + 2;
    if (isOws(load<u8>(ptr + pos))) return HandshakeError.ObsoleteLineFolding;
    // findHeadEnd bounds the lines of a head with a start line; a header list has none.
    if (count == <u32>MAX_HEADERS) return HandshakeError.TooManyHeaders;
    let colon = pos;
    if (pseudo && load<u8>(ptr + pos) == 0x3a) colon++;
    while (colon < end && isTchar(load<u8>(ptr + colon))) colon++;
    if (colon == pos || colon == end || load<u8>(ptr + colon) != 0x3a) return HandshakeError.BadHeaderLine;
    let start = colon + 1;
    let stop = end;
    while (start < stop && isOws(load<u8>(ptr + start))) start++;
    while (stop > start && isOws(load<u8>(ptr + stop - 1))) stop--;
    if (hasControl(ptr + start, stop - start)) return HandshakeError.BadHeaderLine;
    const entry = HEADERS + <usize>(count++ * HEADER_ENTRY_BYTES);
    store<u32>(entry + HeaderEntry.NamePtr, <u32>(ptr + pos));
    store<u32>(entry + HeaderEntry.NameLength, colon - pos);
    store<u32>(entry + HeaderEntry.ValuePtr, <u32>(ptr + start));
    store<u32>(entry + HeaderEntry.ValueLength, stop - start);
    setField(HandshakeField.HeaderCount, count);
    pos = next;
  }
  return 0;
}

/** Equal bytes, ASCII letters compared case-insensitively when `foldCase`. */
export function sameBytes(a: usize, b: usize, len: u32, foldCase: bool): bool {
  for (let i: u32 = 0; i < len; i++) {
    const x = <u32>load<u8>(a + i);
    const y = <u32>load<u8>(b + i);
    if (x != y && !(foldCase && (x | 0x20) == (y | 0x20) && (x | 0x20) - 0x61 < 26)) return false;
  }
  return true;
}

/** Start of the current list element, OWS-trimmed (set by `listElement`). */
export let elementStart: u32 = 0;
/** End of the current list element, OWS-trimmed. */
export let elementEnd: u32 = 0;

/** Bound the comma-separated element at `pos` into elementStart/End; returns where the next one starts. */
export function listElement(list: usize, listLength: u32, pos: u32): u32 {
  let end = pos;
  while (end < listLength && load<u8>(list + end) != 0x2c) end++;
  let stop = end;
  while (pos < stop && isOws(load<u8>(list + pos))) pos++;
  while (stop > pos && isOws(load<u8>(list + stop - 1))) stop--;
  elementStart = pos;
  elementEnd = stop;
  return end + 1;
}

/**
 * Offset in the comma-separated list of the first element equal to the `tokenLength` bytes at `token`
 * (elements OWS-trimmed, empty ones skipped; letters case-folded when `foldCase`), or -1.
 */
export function findToken(list: usize, listLength: u32, token: usize, tokenLength: u32, foldCase: bool): i32 {
  for (let pos: u32 = 0; pos < listLength; ) {
    pos = listElement(list, listLength, pos);
    if (elementEnd - elementStart == tokenLength && tokenLength > 0) {
      if (sameBytes(list + elementStart, token, tokenLength, foldCase)) return <i32>elementStart;
    }
  }
  return -1;
}

/** Copy `len` bytes from `src` to `dst`; returns the address after them. */
export function put(dst: usize, src: usize, len: u32): usize {
  memory.copy(dst, src, len);
  return dst + len;
}

/** Write CRLF at `dst`; returns the address after it. */
export function putCrlf(dst: usize): usize {
  store<u16>(dst, 0x0a0d);
  return dst + 2;
}

/** Write `value` in decimal at `dst`; returns the address after it. */
export function putDecimal(dst: usize, value: u32): usize {
  let digits: u32 = 1;
  for (let rest = value; rest >= 10; rest /= 10) digits++;
  const end = dst + digits;
  let at = end;
  do {
    store<u8>(--at, <u8>(0x30 + value % 10));
    value /= 10;
  } while (value != 0);
  return end;
}

/** Address of the PHRASES entry for `status` (its length byte at +2, text at +3). */
export function reasonPhrase(status: u32): usize {
  for (let key = status, round = 0; round < 3; round++) {
    for (let at = PHRASES; at < PHRASES + PHRASES_LENGTH; at += 3 + <usize>load<u8>(at + 2)) {
      if (<u32>load<u16>(at) == key) return at;
    }
    key = round == 0 ? status / 100 : 0;
  }
  return PHRASES + PHRASES_LENGTH - 8;
}
