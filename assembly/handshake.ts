// The opening handshake (RFC 6455 §4): validate a client's upgrade request or a server's 101 response,
// compute Sec-WebSocket-Accept, choose a subprotocol, and write requests and responses. Every function
// exported here is a Wasm export (index.ts re-exports this file); results go to the handshake fields
// (http.ts HandshakeField) and the header table after them. docs/ENGINE.md "Handshake" has the rules.
import { base64DecodedLength, base64Encode } from "./base64";
import { Slot, slotOf } from "./connection";
import { hasEntropy, takeEntropy } from "./entropy";
import { CallError, HandshakeError } from "./errors";
import {
  clearFields,
  elementEnd,
  elementStart,
  field,
  findHeadEnd,
  findToken,
  hasControl,
  HandshakeField,
  HEADERS,
  lineEnd,
  listElement,
  parseHeaders,
  parseRequestLine,
  parseStatusLine,
  put,
  putCrlf,
  putDecimal,
  reasonPhrase,
  sameBytes,
  statusLineBroken,
  setField,
  setSpan,
} from "./http";
import { ACCEPT_BYTES, HEADER_ENTRY_BYTES, HeaderEntry, HTTP2 } from "./layout";
import { sha1Digest, sha1Finish, sha1Start, sha1Update } from "./sha1";

/** "HTTP/1.1 101 Switching Protocols\r\n" (its first 9 bytes start every response). */
const STATUS_101 = memory.data<u8>([
  72, 84, 84, 80, 47, 49, 46, 49, 32, 49, 48, 49, 32, 83, 119, 105, 116, 99, 104, 105, 110, 103, 32, 80, 114, 111, 116,
  111, 99, 111, 108, 115, 13, 10,
]);
/** "Upgrade: websocket\r\nConnection: Upgrade\r\n" (bytes 9-17 are the token `websocket`). */
const UPGRADE_LINES = memory.data<u8>([
  85, 112, 103, 114, 97, 100, 101, 58, 32, 119, 101, 98, 115, 111, 99, 107, 101, 116, 13, 10, 67, 111, 110, 110, 101,
  99, 116, 105, 111, 110, 58, 32, 85, 112, 103, 114, 97, 100, 101, 13, 10,
]);
const WEBSOCKET_TOKEN: usize = UPGRADE_LINES + 9;
/** "Sec-WebSocket-Accept: " */
const ACCEPT_NAME = memory.data<u8>([
  83, 101, 99, 45, 87, 101, 98, 83, 111, 99, 107, 101, 116, 45, 65, 99, 99, 101, 112, 116, 58, 32,
]);
/** "Sec-WebSocket-Protocol: " */
const PROTOCOL_NAME = memory.data<u8>([
  83, 101, 99, 45, 87, 101, 98, 83, 111, 99, 107, 101, 116, 45, 80, 114, 111, 116, 111, 99, 111, 108, 58, 32,
]);
/** "Sec-WebSocket-Key: " */
const KEY_NAME = memory.data<u8>([83, 101, 99, 45, 87, 101, 98, 83, 111, 99, 107, 101, 116, 45, 75, 101, 121, 58, 32]);
/** "Sec-WebSocket-Version: 13\r\n" */
const VERSION_LINE = memory.data<u8>([
  83, 101, 99, 45, 87, 101, 98, 83, 111, 99, 107, 101, 116, 45, 86, 101, 114, 115, 105, 111, 110, 58, 32, 49, 51, 13,
  10,
]);
/** "Sec-WebSocket-Version: 13, 8\r\n": the versions a server accepts (8 is hybi-08, framed as 13). */
const VERSIONS_LINE = memory.data<u8>([
  83, 101, 99, 45, 87, 101, 98, 83, 111, 99, 107, 101, 116, 45, 86, 101, 114, 115, 105, 111, 110, 58, 32, 49, 51, 44,
  32, 56, 13, 10,
]);
/** "GET " */
const GET = memory.data<u8>([71, 69, 84, 32]);
/** " HTTP/1.1\r\nHost: " */
const HOST_LINE = memory.data<u8>([32, 72, 84, 84, 80, 47, 49, 46, 49, 13, 10, 72, 111, 115, 116, 58, 32]);
/** "Connection: close\r\n" */
const CONNECTION_CLOSE = memory.data<u8>([
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 58, 32, 99, 108, 111, 115, 101, 13, 10,
]);
/** "Upgrade: websocket\r\nConnection: Upgrade, close\r\n" (RFC 9110 §15.5.22: a 426 names the upgrade). */
const UPGRADE_CLOSE = memory.data<u8>([
  85, 112, 103, 114, 97, 100, 101, 58, 32, 119, 101, 98, 115, 111, 99, 107, 101, 116, 13, 10, 67, 111, 110, 110, 101,
  99, 116, 105, 111, 110, 58, 32, 85, 112, 103, 114, 97, 100, 101, 44, 32, 99, 108, 111, 115, 101, 13, 10,
]);
/** "Allow: GET\r\n" */
const ALLOW_GET = memory.data<u8>([65, 108, 108, 111, 119, 58, 32, 71, 69, 84, 13, 10]);
/** "Content-Type: text/plain\r\nContent-Length: " */
const CONTENT_LINES = memory.data<u8>([
  67, 111, 110, 116, 101, 110, 116, 45, 84, 121, 112, 101, 58, 32, 116, 101, 120, 116, 47, 112, 108, 97, 105, 110, 13,
  10, 67, 111, 110, 116, 101, 110, 116, 45, 76, 101, 110, 103, 116, 104, 58, 32,
]);
/** "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", appended to the key before hashing (RFC 6455 §1.3). */
const GUID = memory.data<u8>([
  50, 53, 56, 69, 65, 70, 65, 53, 45, 69, 57, 49, 52, 45, 52, 55, 68, 65, 45, 57, 53, 67, 65, 45, 67, 53, 65, 66, 48,
  68, 67, 56, 53, 66, 49, 49,
]);

/** "CONNECT" */
const CONNECT: usize = HTTP2 == 0 ? 0 : memory.data<u8>([67, 79, 78, 78, 69, 67, 84]);
/** "https" (its first 4 bytes are "http") */
const HTTPS: usize = HTTP2 == 0 ? 0 : memory.data<u8>([104, 116, 116, 112, 115]);

/** The pseudo-headers of an HTTP/2 request (RFC 9113 §8.3.1, RFC 8441 §4), each after its length byte. */
const PSEUDO_NAMES: usize = HTTP2 == 0 ? 0 : memory.data<u8>([
  7, 58, 109, 101, 116, 104, 111, 100, 7, 58, 115, 99, 104, 101, 109, 101, 10, 58, 97, 117, 116, 104, 111, 114, 105, 116,
  121, 5, 58, 112, 97, 116, 104, 9, 58, 112, 114, 111, 116, 111, 99, 111, 108,
]);

/** Indexes of the names in PSEUDO_NAMES. */
namespace Pseudo {
  // @ts-ignore: decorator
  @inline export const Method: u32 = 0;
  // @ts-ignore: decorator
  @inline export const Scheme: u32 = 1;
  // @ts-ignore: decorator
  @inline export const Authority: u32 = 2;
  // @ts-ignore: decorator
  @inline export const Path: u32 = 3;
  // @ts-ignore: decorator
  @inline export const Protocol: u32 = 4;
  // @ts-ignore: decorator
  @inline export const Count: u32 = 5;
}

/** Values of the pseudo-headers of the request being read, by Pseudo index: (ptr, len) pairs. */
const PSEUDO_VALUES: usize = HTTP2 == 0 ? 0 : memory.data(<i32>Pseudo.Count * 8, 4);

/** Header names the handshake reads, lower-case, each after its length byte; indexes are Known. */
const NAMES = memory.data<u8>([
  4, 104, 111, 115, 116, 7, 117, 112, 103, 114, 97, 100, 101, 10, 99, 111, 110, 110, 101, 99, 116, 105, 111, 110, 17,
  115, 101, 99, 45, 119, 101, 98, 115, 111, 99, 107, 101, 116, 45, 107, 101, 121, 21, 115, 101, 99, 45, 119, 101, 98,
  115, 111, 99, 107, 101, 116, 45, 118, 101, 114, 115, 105, 111, 110, 6, 111, 114, 105, 103, 105, 110, 20, 115, 101, 99,
  45, 119, 101, 98, 115, 111, 99, 107, 101, 116, 45, 111, 114, 105, 103, 105, 110, 22, 115, 101, 99, 45, 119, 101, 98,
  115, 111, 99, 107, 101, 116, 45, 112, 114, 111, 116, 111, 99, 111, 108, 24, 115, 101, 99, 45, 119, 101, 98, 115, 111,
  99, 107, 101, 116, 45, 101, 120, 116, 101, 110, 115, 105, 111, 110, 115, 20, 115, 101, 99, 45, 119, 101, 98, 115, 111,
  99, 107, 101, 116, 45, 97, 99, 99, 101, 112, 116,
]);
/** The token `upgrade` (the name "upgrade" in NAMES). */
const UPGRADE_TOKEN: usize = NAMES + 6;
/** HandshakeField span holding each known header's first value (0: none), by Known index. */
const SPAN_OF = memory.data<u8>([32, 0, 0, 40, 0, 52, 52, 60, 72, 84]);

/** Indexes of the header names in NAMES. */
namespace Known {
  // @ts-ignore: decorator
  @inline export const Host: u32 = 0;
  // @ts-ignore: decorator
  @inline export const Upgrade: u32 = 1;
  // @ts-ignore: decorator
  @inline export const Connection: u32 = 2;
  // @ts-ignore: decorator
  @inline export const Key: u32 = 3;
  // @ts-ignore: decorator
  @inline export const Version: u32 = 4;
  // @ts-ignore: decorator
  @inline export const Protocol: u32 = 7;
  // @ts-ignore: decorator
  @inline export const Extensions: u32 = 8;
  // @ts-ignore: decorator
  @inline export const Accept: u32 = 9;
  // @ts-ignore: decorator
  @inline export const Count: u32 = 10;
}

/** Bits of what `scanHeaders` saw: 1 << Known (present), 1 << (Known + 10) (repeated), and these. */
// @ts-ignore: decorator
@inline const SAW_WEBSOCKET: u32 = 1 << 20;
// @ts-ignore: decorator
@inline const SAW_UPGRADE: u32 = 1 << 21;

/** The computed Sec-WebSocket-Accept: digest, then its base64. */
const DIGEST = memory.data(20);
const ACCEPT = memory.data(ACCEPT_BYTES);

/** Index of a name among the `count` length-prefixed names at `names`, or `count`. */
function nameIndex(names: usize, count: u32, name: usize, nameLength: u32, foldCase: bool): u32 {
  let at = names;
  let k: u32 = 0;
  for (; k < count; k++) {
    const length = <u32>load<u8>(at);
    if (length == nameLength && sameBytes(name, at + 1, length, foldCase)) break;
    at += 1 + length;
  }
  return k;
}

/** Index in NAMES of a header name (case-insensitive), or Known.Count. */
function knownHeader(name: usize, nameLength: u32): u32 {
  return nameIndex(NAMES, Known.Count, name, nameLength, true);
}

/** Sec-WebSocket-Version as a number: 1-4 digits without a leading zero, else 0xFFFFFFFF. */
function versionNumber(ptr: usize, len: u32): u32 {
  if (len == 0 || len > 4 || (len > 1 && load<u8>(ptr) == 0x30)) return u32.MAX_VALUE;
  let value: u32 = 0;
  for (let i: u32 = 0; i < len; i++) {
    const digit = <u32>load<u8>(ptr + i) - 0x30;
    if (digit > 9) return u32.MAX_VALUE;
    value = value * 10 + digit;
  }
  return value;
}

/** Walk the header table: keep the first value of each known header in its field; returns SAW bits. */
function scanHeaders(): u32 {
  let seen: u32 = 0;
  const count = field(HandshakeField.HeaderCount);
  for (let i: u32 = 0; i < count; i++) {
    const entry = HEADERS + <usize>(i * HEADER_ENTRY_BYTES);
    const k = knownHeader(load<u32>(entry + HeaderEntry.NamePtr), load<u32>(entry + HeaderEntry.NameLength));
    if (k == Known.Count) continue;
    const value = <usize>load<u32>(entry + HeaderEntry.ValuePtr);
    const length = load<u32>(entry + HeaderEntry.ValueLength);
    if (k == Known.Upgrade && findToken(value, length, WEBSOCKET_TOKEN, 9, true) >= 0) seen |= SAW_WEBSOCKET;
    if (k == Known.Connection && findToken(value, length, UPGRADE_TOKEN, 7, true) >= 0) seen |= SAW_UPGRADE;
    if (k == Known.Protocol) setField(HandshakeField.ProtocolLines, field(HandshakeField.ProtocolLines) + 1);
    if (k == Known.Extensions) setField(HandshakeField.ExtensionLines, field(HandshakeField.ExtensionLines) + 1);
    const bit: u32 = 1 << k;
    if ((seen & bit) != 0) {
      seen |= bit << 10;
      continue;
    }
    seen |= bit;
    if (k == Known.Version) setField(HandshakeField.Version, versionNumber(value, length));
    const span = <usize>load<u8>(SPAN_OF + k);
    if (span != 0 && field(span) == 0) setSpan(span, value, length);
  }
  return seen;
}

/** 0 when header `k` appears exactly once, else `missing` (absent) or `missing + 1` (repeated). */
function exactlyOnce(seen: u32, k: u32, missing: u32): u32 {
  if ((seen & (1 << k)) == 0) return missing;
  return (seen & (1 << (k + 10))) != 0 ? missing + 1 : 0;
}

/**
 * The RFC 6455 §4.2.1 rules for a syntactically valid request; 0 or a HandshakeError. Checked in ws's order
 * (method, Upgrade, key, version) so a request breaking several rules is told the same first one, then
 * the rules ws does not check (Host, Connection).
 */
function checkRequest(): u32 {
  const seen = scanHeaders();
  const method = <usize>field(HandshakeField.MethodPtr);
  if (field(HandshakeField.MethodLength) != 3 || !sameBytes(method, GET, 3, false)) return HandshakeError.MethodNotGet;
  if ((seen & SAW_WEBSOCKET) == 0) return HandshakeError.UpgradeMissing;
  let reason = exactlyOnce(seen, Known.Key, HandshakeError.KeyMissing);
  if (reason != 0) return reason;
  const key = <usize>field(HandshakeField.KeyPtr);
  if (base64DecodedLength(key, field(HandshakeField.KeyLength)) != 16) return HandshakeError.KeyInvalid;
  reason = exactlyOnce(seen, Known.Version, HandshakeError.VersionMissing);
  if (reason != 0) return reason;
  // 8 (hybi-08) frames as 13 and differs only in naming Origin Sec-WebSocket-Origin: ws accepts it too.
  const version = field(HandshakeField.Version);
  if (version != 13 && version != 8) return HandshakeError.VersionUnsupported;
  reason = exactlyOnce(seen, Known.Host, HandshakeError.HostMissing);
  if (reason != 0) return reason;
  return (seen & SAW_UPGRADE) == 0 ? HandshakeError.ConnectionMissing : 0;
}

/** Index in PSEUDO_NAMES of a pseudo-header name (exact: HTTP/2 names are lower-case), or Pseudo.Count. */
function pseudoHeader(name: usize, nameLength: u32): u32 {
  return nameIndex(PSEUDO_NAMES, Pseudo.Count, name, nameLength, false);
}

/**
 * Read the pseudo-headers at the front of the header table into PSEUDO_VALUES (a name outside RFC 9113's
 * request set, one repeated or empty, or one after a regular field is PseudoHeaderInvalid); returns a bit
 * per pseudo-header present, or PseudoHeaderInvalid << 8.
 */
function readPseudoHeaders(): u32 {
  memory.fill(PSEUDO_VALUES, 0, <usize>Pseudo.Count * 8);
  let present: u32 = 0;
  let regular = false;
  const count = field(HandshakeField.HeaderCount);
  for (let i: u32 = 0; i < count; i++) {
    const entry = HEADERS + <usize>(i * HEADER_ENTRY_BYTES);
    const name = <usize>load<u32>(entry + HeaderEntry.NamePtr);
    if (load<u8>(name) != 0x3a) {
      regular = true;
      continue;
    }
    const k = pseudoHeader(name, load<u32>(entry + HeaderEntry.NameLength));
    const length = load<u32>(entry + HeaderEntry.ValueLength);
    if (regular || k == Pseudo.Count || (present & (1 << k)) != 0 || length == 0)
      return HandshakeError.PseudoHeaderInvalid << 8;
    present |= 1 << k;
    store<u32>(PSEUDO_VALUES + <usize>k * 8, load<u32>(entry + HeaderEntry.ValuePtr));
    store<u32>(PSEUDO_VALUES + <usize>k * 8 + 4, length);
  }
  return present;
}

/** The value of pseudo-header `k` (read by readPseudoHeaders) is the `len` bytes at `text`. */
function pseudoIs(k: u32, text: usize, len: u32, foldCase: bool): bool {
  const at = PSEUDO_VALUES + <usize>k * 8;
  return load<u32>(at + 4) == len && sameBytes(<usize>load<u32>(at), text, len, foldCase);
}

/**
 * The rules for a WebSocket over an HTTP/2 stream (RFC 8441 §4-5 with RFC 9113 §8.2-8.3): an extended
 * CONNECT (`:method` CONNECT, `:protocol` websocket, `:scheme` http or https, `:path`, `:authority`), no
 * connection-specific header, Sec-WebSocket-Version 13 exactly once. Sec-WebSocket-Key is not used (and
 * ignored if sent). Sets the method, target (`:path`) and host (`:authority`) spans; 0 or a HandshakeError.
 */
function checkConnect(): u32 {
  const present = readPseudoHeaders();
  if (present >= 1 << 8) return present >> 8;
  setSpan(HandshakeField.MethodPtr, <usize>load<u32>(PSEUDO_VALUES), load<u32>(PSEUDO_VALUES + 4));
  const path = PSEUDO_VALUES + <usize>Pseudo.Path * 8;
  setSpan(HandshakeField.TargetPtr, <usize>load<u32>(path), load<u32>(path + 4));
  const authority = PSEUDO_VALUES + <usize>Pseudo.Authority * 8;
  setSpan(HandshakeField.HostPtr, <usize>load<u32>(authority), load<u32>(authority + 4));
  if ((present & (1 << Pseudo.Method)) == 0) return HandshakeError.PseudoHeaderMissing;
  if (!pseudoIs(Pseudo.Method, CONNECT, 7, false)) return HandshakeError.MethodNotConnect;
  if ((present & (1 << Pseudo.Protocol)) == 0) return HandshakeError.ConnectProtocolMissing;
  // The upgrade token, compared as HTTP/1.1 compares `Upgrade: websocket`.
  if (!pseudoIs(Pseudo.Protocol, WEBSOCKET_TOKEN, 9, true)) return HandshakeError.ConnectProtocolNotWebSocket;
  const needed: u32 = (1 << Pseudo.Scheme) | (1 << Pseudo.Path) | (1 << Pseudo.Authority);
  if ((present & needed) != needed) return HandshakeError.PseudoHeaderMissing;
  if (!pseudoIs(Pseudo.Scheme, HTTPS, 4, true) && !pseudoIs(Pseudo.Scheme, HTTPS, 5, true))
    return HandshakeError.SchemeInvalid;
  if (load<u8>(<usize>load<u32>(path)) != 0x2f) return HandshakeError.PseudoHeaderInvalid;
  const seen = scanHeaders();
  if ((seen & ((1 << Known.Connection) | (1 << Known.Upgrade))) != 0) return HandshakeError.ConnectionSpecificHeader;
  const reason = exactlyOnce(seen, Known.Version, HandshakeError.VersionMissing);
  if (reason != 0) return reason;
  return field(HandshakeField.Version) == 13 ? 0 : HandshakeError.VersionUnsupported;
}

/** The RFC 6455 §4.1 rules for a 101 response to this slot's request; 0 or a HandshakeError. */
function checkResponse(slot: usize, offered: usize, offeredLength: u32): u32 {
  const seen = scanHeaders();
  if ((seen & SAW_WEBSOCKET) == 0) return HandshakeError.UpgradeMissing;
  if ((seen & SAW_UPGRADE) == 0) return HandshakeError.ConnectionMissing;
  const reason = exactlyOnce(seen, Known.Accept, HandshakeError.AcceptMissing);
  if (reason != 0) return reason;
  const accept = <usize>field(HandshakeField.AcceptPtr);
  if (field(HandshakeField.AcceptLength) != ACCEPT_BYTES || !sameBytes(accept, slot + Slot.ExpectedAccept, ACCEPT_BYTES, false))
    return HandshakeError.AcceptMismatch;
  return checkNegotiation(seen, offered, offeredLength);
}

/**
 * The subprotocol and extension rules of an accepting response (RFC 6455 §4.1, the same over HTTP/2 by
 * RFC 8441 §5), given what `scanHeaders` saw; 0 or a HandshakeError.
 */
function checkNegotiation(seen: u32, offered: usize, offeredLength: u32): u32 {
  if ((seen & (1 << Known.Protocol)) != 0) {
    const protocol = <usize>field(HandshakeField.ProtocolsPtr);
    const length = field(HandshakeField.ProtocolsLength);
    if (offeredLength == 0) return HandshakeError.ProtocolNotRequested;
    if ((seen & (1 << (Known.Protocol + 10))) != 0 || findToken(offered, offeredLength, protocol, length, false) < 0)
      return HandshakeError.ProtocolNotOffered;
  } else if (offeredLength > 0) return HandshakeError.ProtocolMissing;
  return (seen & (1 << Known.Extensions)) != 0 ? HandshakeError.ExtensionNotOffered : 0;
}

/**
 * Find the head and set HeadEnd: its length, 0 while incomplete, or -HandshakeError when it can never be
 * valid (longer than `maxHeaderBytes`, too many lines, a bare LF).
 */
function readHead(ptr: usize, len: u32, maxHeaderBytes: u32): i32 {
  clearFields();
  const headEnd = findHeadEnd(ptr, len, maxHeaderBytes);
  if (headEnd == 0 && len > maxHeaderBytes) return -(<i32>HandshakeError.HeadTooLarge);
  if (headEnd > 0) setField(HandshakeField.HeadEnd, <u32>headEnd);
  return headEnd;
}

/** Record a refused request: the status its reason calls for. */
function refuse(reason: u32): i32 {
  let status: u32 = 400;
  if (reason <= HandshakeError.TooManyHeaders) status = 431;
  else if (reason == HandshakeError.MethodNotGet || reason == HandshakeError.MethodNotConnect) status = 405;
  else if (reason == HandshakeError.ConnectProtocolMissing || reason == HandshakeError.ConnectProtocolNotWebSocket)
    status = 501;
  else if (reason == HandshakeError.VersionUnsupported) status = 426;
  else if (reason == HandshakeError.HttpVersion && field(HandshakeField.HttpVersion) / 10 != 1) status = 505;
  setField(HandshakeField.Status, status);
  setField(HandshakeField.Reason, reason);
  return <i32>status;
}

/** Write base64(SHA-1(key + GUID)) at `dst`; returns 28. */
function writeAccept(key: usize, keyLength: u32, dst: usize): u32 {
  sha1Start();
  sha1Update(key, keyLength);
  sha1Update(GUID, 36);
  sha1Finish(DIGEST);
  return base64Encode(DIGEST, 20, dst);
}

/** True if the `len` bytes at `ptr` are all visible ASCII (no space): safe in a request line. */
function isVisible(ptr: usize, len: u32): bool {
  for (let i: u32 = 0; i < len; i++) if (<u32>load<u8>(ptr + i) - 0x21 >= 0x5e) return false;
  return true;
}

/** A client's request pieces are safe to write: a host and a path of visible ASCII, protocols without control bytes. */
function validRequest(host: usize, hostLength: u32, path: usize, pathLength: u32, protocols: usize, protocolsLength: u32): bool {
  return hostLength > 0 && isVisible(host, hostLength) && isVisible(path, pathLength) && !hasControl(protocols, protocolsLength);
}

/**
 * Parse a client's upgrade request head at [ptr, ptr + len): 0 while incomplete, else the HTTP status
 * decided (101, 400, 405, 426, 431, 505), with the fields and header table filled.
 */
export function parseRequest(ptr: usize, len: u32, maxHeaderBytes: u32): i32 {
  const headEnd = readHead(ptr, len, maxHeaderBytes);
  if (headEnd <= 0) return headEnd == 0 ? 0 : refuse(<u32>-headEnd);
  const end = lineEnd(ptr, 0);
  let reason = parseRequestLine(ptr, end);
  if (reason == 0) reason = parseHeaders(ptr, end + 2, <u32>headEnd);
  if (reason == 0) reason = checkRequest();
  if (reason != 0) return refuse(reason);
  setField(HandshakeField.Status, 101);
  return 101;
}

/**
 * Read the header list of an HTTP/2 request that may open a WebSocket (RFC 8441), at [ptr, ptr + len) as
 * the host wrote it: each field as a `name: value` line (pseudo-headers first, as received), then an empty
 * line. Returns 0 while the empty line is missing, else the HTTP status decided: 200 to accept, or 400, 405,
 * 426, 431, 501, with the fields and header table filled as `parseRequest` fills them (HttpVersion 20).
 */
export function parseConnect(ptr: usize, len: u32, maxHeaderBytes: u32): i32 {
  if (HTTP2 == 0) return CallError.NotBuilt;
  const headEnd = readHead(ptr, len, maxHeaderBytes);
  if (headEnd <= 0) return headEnd == 0 ? 0 : refuse(<u32>-headEnd);
  setField(HandshakeField.HttpVersion, 20);
  let reason = parseHeaders(ptr, 0, <u32>headEnd, true);
  if (reason == 0) reason = checkConnect();
  if (reason != 0) return refuse(reason);
  setField(HandshakeField.Status, 200);
  return 200;
}

/**
 * Choose the first protocol of the client's comma-separated `offered` list that is in the server's
 * `supported` list (exact, case-sensitive): its offset in `offered` (length in SelectedLength), or -1.
 */
export function selectProtocol(offered: usize, offeredLength: u32, supported: usize, supportedLength: u32): i32 {
  setField(HandshakeField.SelectedLength, 0);
  for (let pos: u32 = 0; pos < offeredLength; ) {
    pos = listElement(offered, offeredLength, pos);
    const start = elementStart;
    const length = elementEnd - start;
    if (length > 0 && findToken(supported, supportedLength, offered + start, length, false) >= 0) {
      setField(HandshakeField.SelectedLength, length);
      return <i32>start;
    }
  }
  return -1;
}

/**
 * Write the 101 response accepting `key` at `dst`, with `Sec-WebSocket-Protocol` when `protocolLength` > 0
 * and the host's complete `Name: value\r\n` lines `extra`; returns its length (InvalidArgument for a
 * protocol with control bytes). `dst` must not overlap the protocol or extra bytes.
 */
export function buildResponse(
  key: usize,
  keyLength: u32,
  protocol: usize,
  protocolLength: u32,
  extra: usize,
  extraLength: u32,
  dst: usize,
): i32 {
  if (hasControl(protocol, protocolLength)) return CallError.InvalidArgument;
  writeAccept(key, keyLength, ACCEPT);
  let at = put(dst, STATUS_101, 34);
  at = put(at, UPGRADE_LINES, 41);
  at = putCrlf(put(put(at, ACCEPT_NAME, 22), ACCEPT, ACCEPT_BYTES));
  if (protocolLength > 0) at = putCrlf(put(put(at, PROTOCOL_NAME, 24), protocol, protocolLength));
  return <i32>(putCrlf(put(at, extra, extraLength)) - dst);
}

/**
 * Write a complete error response for `status` at `dst` (reason phrase, `Connection: close`, a text/plain
 * body naming the status; 426 adds the upgrade and `Sec-WebSocket-Version: 13, 8`, 405 `Allow: GET`); returns
 * its length. A status outside 100-999 is sent as 500.
 */
export function buildRejection(status: u32, dst: usize): i32 {
  if (status - 100 > 899) status = 500;
  const phrase = reasonPhrase(status);
  let at = put(dst, STATUS_101, 9);
  const line = at;
  at = putDecimal(at, status);
  store<u8>(at++, 0x20);
  at = put(at, phrase + 3, load<u8>(phrase + 2));
  const lineLength = <u32>(at - line);
  at = putCrlf(at);
  if (status == 426) at = put(put(at, UPGRADE_CLOSE, 48), VERSIONS_LINE, 30);
  else at = put(at, CONNECTION_CLOSE, 19);
  if (status == 405) at = put(at, ALLOW_GET, 12);
  at = putCrlf(putCrlf(putDecimal(put(at, CONTENT_LINES, 42), lineLength + 1)));
  at = put(at, line, lineLength);
  store<u8>(at, 0x0a);
  return <i32>(at + 1 - dst);
}

/**
 * Write a client's upgrade request for connection `conn` at `dst` with a fresh key from the entropy pool,
 * and keep the Sec-WebSocket-Accept to expect in the slot. `path` (empty: "/") and `host` must be visible
 * ASCII, `protocols` a comma-separated list without control bytes, `extra` complete header lines. Returns
 * the length, or InvalidConnection, InvalidArgument, EntropyExhausted (nothing written).
 */
export function buildRequest(
  conn: u32,
  host: usize,
  hostLength: u32,
  path: usize,
  pathLength: u32,
  protocols: usize,
  protocolsLength: u32,
  extra: usize,
  extraLength: u32,
  dst: usize,
): i32 {
  const slot = slotOf(conn);
  if (slot == 0) return CallError.InvalidConnection;
  if (!validRequest(host, hostLength, path, pathLength, protocols, protocolsLength)) return CallError.InvalidArgument;
  if (!hasEntropy(16)) return CallError.EntropyExhausted;
  let at = put(dst, GET, 4);
  if (pathLength == 0) store<u8>(at++, 0x2f);
  at = put(put(at, path, pathLength), HOST_LINE, 17);
  at = put(putCrlf(put(at, host, hostLength)), UPGRADE_LINES, 41);
  at = put(at, KEY_NAME, 19);
  const key = at;
  at += base64Encode(takeEntropy(16), 16, key);
  writeAccept(key, 24, slot + Slot.ExpectedAccept);
  at = put(putCrlf(at), VERSION_LINE, 27);
  if (protocolsLength > 0) at = putCrlf(put(put(at, PROTOCOL_NAME, 24), protocols, protocolsLength));
  return <i32>(putCrlf(put(at, extra, extraLength)) - dst);
}

/**
 * Parse the server's response head to connection `conn`'s request: 0 while incomplete; 101 when it is a
 * valid acceptance (`offered`: the protocols the client sent); the server's status when it is not 101; or
 * -HandshakeError when the response breaks a rule (including -HeadTooLarge past `maxHeaderBytes`, and
 * -BadStatusLine as soon as the bytes so far show there is no status line, before the head is complete).
 */
export function parseResponse(
  conn: u32,
  ptr: usize,
  len: u32,
  offered: usize,
  offeredLength: u32,
  maxHeaderBytes: u32,
): i32 {
  const slot = slotOf(conn);
  if (slot == 0) return CallError.InvalidConnection;
  return parseAnswer(slot, ptr, len, offered, offeredLength, maxHeaderBytes);
}

/**
 * A server's answer to a request: an HTTP/1.1 head to `slot`'s upgrade request, or (`slot` 0) the header
 * block of an HTTP/2 response to an extended CONNECT. The result is `parseResponse`'s, with 200 in place of
 * 101 for the extended CONNECT.
 */
function parseAnswer(slot: usize, ptr: usize, len: u32, offered: usize, offeredLength: u32, maxHeaderBytes: u32): i32 {
  const headEnd = readHead(ptr, len, maxHeaderBytes);
  let reason: u32 = headEnd < 0 ? <u32>-headEnd : 0;
  const accepting: u32 = slot == 0 ? 200 : 101;
  if (headEnd > 0) {
    const end = lineEnd(ptr, 0);
    reason = HTTP2 != 0 && slot == 0 ? parseStatusField(ptr, end) : parseStatusLine(ptr, end);
    if (reason != HandshakeError.BadStatusLine) {
      const headers = parseHeaders(ptr, end + 2, <u32>headEnd);
      const status = field(HandshakeField.Status);
      if (status != accepting) {
        setField(HandshakeField.Reason, HandshakeError.UnexpectedStatus);
        return <i32>status;
      }
      if (reason == 0) reason = headers;
      if (reason == 0)
        reason = slot == 0 ? checkNegotiation(scanHeaders(), offered, offeredLength) : checkResponse(slot, offered, offeredLength);
    }
  } else if (headEnd == 0) {
    if (slot == 0 || !statusLineBroken(ptr, len)) {
      clearFields();
      return 0;
    }
    clearFields();
    reason = HandshakeError.BadStatusLine;
  }
  setField(HandshakeField.Reason, reason);
  return reason == 0 ? <i32>accepting : -(<i32>reason);
}

/** Write Sec-WebSocket-Accept for the `keyLength` bytes at `key` (base64 of the SHA-1 of key + GUID); 28. */
export function acceptKey(key: usize, keyLength: u32, dst: usize): i32 {
  return <i32>writeAccept(key, keyLength, dst);
}

/** Write the SHA-1 digest of `len` bytes at `ptr` at `dst`; 20. */
export function sha1(ptr: usize, len: u32, dst: usize): i32 {
  sha1Digest(ptr, len, dst);
  return 20;
}

// WebSockets over HTTP/2 (RFC 8441), the client's side. The host's HTTP/2 library frames header blocks; the
// engine reads and writes them as lines, one field a line (`name: value\r\n`, pseudo-header fields first,
// names lower-case), ending with an empty line, so the WebSocket rules stay here.

/** ":method: CONNECT\r\n:protocol: websocket\r\n:scheme: http" (an "s" follows for https). */
const CONNECT_LINES: usize = HTTP2 == 0 ? 0 : memory.data<u8>([
  58, 109, 101, 116, 104, 111, 100, 58, 32, 67, 79, 78, 78, 69, 67, 84, 13, 10, 58, 112, 114, 111, 116, 111, 99, 111,
  108, 58, 32, 119, 101, 98, 115, 111, 99, 107, 101, 116, 13, 10, 58, 115, 99, 104, 101, 109, 101, 58, 32, 104, 116, 116,
  112,
]);
/** ":authority: " */
const AUTHORITY_NAME: usize = HTTP2 == 0 ? 0 : memory.data<u8>([58, 97, 117, 116, 104, 111, 114, 105, 116, 121, 58, 32]);
/** ":path: " */
const PATH_NAME: usize = HTTP2 == 0 ? 0 : memory.data<u8>([58, 112, 97, 116, 104, 58, 32]);
/** "sec-websocket-version: 13\r\nsec-websocket-protocol: " (the version line is the first 27 bytes). */
const H2_VERSION_PROTOCOL: usize = HTTP2 == 0 ? 0 : memory.data<u8>([
  115, 101, 99, 45, 119, 101, 98, 115, 111, 99, 107, 101, 116, 45, 118, 101, 114, 115, 105, 111, 110, 58, 32, 49, 51, 13,
  10, 115, 101, 99, 45, 119, 101, 98, 115, 111, 99, 107, 101, 116, 45, 112, 114, 111, 116, 111, 99, 111, 108, 58, 32,
]);
/** ":status: " */
const STATUS_NAME: usize = HTTP2 == 0 ? 0 : memory.data<u8>([58, 115, 116, 97, 116, 117, 115, 58, 32]);

/**
 * Write the header block of a client's extended CONNECT (RFC 8441 §4) at `dst`, as lines: `:method`
 * CONNECT, `:protocol` websocket, `:scheme` (https when `secure`, else http), `:authority` host, `:path`
 * (an empty one as "/"), `sec-websocket-version: 13`, `sec-websocket-protocol` when `protocolsLength` > 0,
 * then the host's complete lines `extra` (lower-case names), and an empty line. No Sec-WebSocket-Key: the
 * stream itself is the proof of a WebSocket-aware server (RFC 8441 §5). Returns the length, or
 * InvalidArgument as `buildRequest` (nothing written).
 */
export function buildConnectRequest(
  secure: u32,
  host: usize,
  hostLength: u32,
  path: usize,
  pathLength: u32,
  protocols: usize,
  protocolsLength: u32,
  extra: usize,
  extraLength: u32,
  dst: usize,
): i32 {
  if (HTTP2 == 0) return CallError.NotBuilt;
  if (!validRequest(host, hostLength, path, pathLength, protocols, protocolsLength)) return CallError.InvalidArgument;
  let at = put(dst, CONNECT_LINES, 53);
  if (secure != 0) store<u8>(at++, 0x73);
  at = put(putCrlf(at), AUTHORITY_NAME, 12);
  at = put(putCrlf(put(at, host, hostLength)), PATH_NAME, 7);
  if (pathLength == 0) store<u8>(at++, 0x2f);
  at = putCrlf(put(at, path, pathLength));
  if (protocolsLength > 0) at = putCrlf(put(put(at, H2_VERSION_PROTOCOL, 51), protocols, protocolsLength));
  else at = put(at, H2_VERSION_PROTOCOL, 27);
  return <i32>(putCrlf(put(at, extra, extraLength)) - dst);
}

/**
 * Parse the header block of the server's HTTP/2 response to an extended CONNECT, as lines (`:status`
 * first): 0 while incomplete; 200 when it accepts (`offered`: the protocols the client sent); the server's
 * status when it is not 200; or -HandshakeError as `parseResponse` (no Upgrade, Connection or
 * Sec-WebSocket-Accept over HTTP/2; the subprotocol and extension rules are the same).
 */
export function parseConnectResponse(ptr: usize, len: u32, offered: usize, offeredLength: u32, maxHeaderBytes: u32): i32 {
  if (HTTP2 == 0) return CallError.NotBuilt;
  return parseAnswer(0, ptr, len, offered, offeredLength, maxHeaderBytes);
}

/** Read the `:status: NNN` line ending at `end` (HTTP/2, so HttpVersion 20); 0 or BadStatusLine. */
function parseStatusField(ptr: usize, end: u32): u32 {
  if (end != 12 || !sameBytes(ptr, STATUS_NAME, 9, false)) return HandshakeError.BadStatusLine;
  let status: u32 = 0;
  for (let i: usize = 9; i < 12; i++) {
    const digit = <u32>load<u8>(ptr + i) - 0x30;
    if (digit > 9) return HandshakeError.BadStatusLine;
    status = status * 10 + digit;
  }
  if (status < 100) return HandshakeError.BadStatusLine;
  setField(HandshakeField.Status, status);
  setField(HandshakeField.HttpVersion, 20);
  return 0;
}
