// The frame reader (RFC 6455 §5): bytes in, events out. Input may arrive split anywhere, down to one byte;
// data payloads are unmasked and validated in place and reported as chunks, control frames whole. Every
// violation fails the connection with its close code at the first byte that proves it.
import { CloseCode, isValidCloseCode } from "./close";
import { ConnFlag, clearFlag, hasFlag, ReadState, Role, setFlag, Slot, slotOf } from "./connection";
import { CallError, ReadError } from "./errors";
import { DataFlag, emit, EventType, eventCount, eventsFit, resetEvents } from "./events";
import { OUT, OUT_BYTES, Result, setResult } from "./layout";
import { mask } from "./mask";
import { FrameBit, isControl, isKnownOpcode, MAX_CONTROL_PAYLOAD, Opcode } from "./opcode";
import { UTF8_ACCEPT, UTF8_REJECT, utf8Step } from "./utf8";
import { MAX_HEADER_BYTES, needsKey, writeFrameAt } from "./writer";

/** Room a reply (pong or close) may need in OUT. */
const MAX_REPLY: u32 = MAX_HEADER_BYTES + MAX_CONTROL_PAYLOAD;
/** Slot flag: the message in progress is compressed (RSV1), so its text is validated after inflating. */
const COMPRESSED: u8 = 32;

let outLength: u32 = 0;
/** Set when `feed` returns early so the host handles the events so far before a failure is reported. */
let yielded = false;
/** Two bytes of a close code to send, big-endian. */
const closeCodeScratch = memory.data(4, 4);

/**
 * Read `len` bytes at `ptr` for connection `conn`. Writes events (see events.ts) and replies to send
 * (OUT, `Result.OutLength`); stops early when the event or reply space fills up, so the host feeds the
 * rest (`Result.Consumed` tells how much was read). Returns the event count or a CallError.
 */
export function feed(conn: u32, ptr: usize, len: u32): i32 {
  resetEvents();
  outLength = 0;
  yielded = false;
  const slot = slotOf(conn);
  if (slot == 0) return CallError.InvalidConnection;
  let pos: u32 = 0;
  while (pos < len && !yielded) {
    if (!eventsFit(3) || <u32>OUT_BYTES - outLength < MAX_REPLY || needsKey(slot)) break;
    const state = load<u8>(slot + Slot.State);
    // Let the host act on the data before a close frame, so it can still answer it: the close reply
    // (which ends sending) is queued by the next call.
    if (state == ReadState.Header && eventCount() > 0 && isCloseStart(slot, ptr + pos)) break;
    // With permessage-deflate the host checks a message after the engine read it (an uncompressed one's
    // size against maxPayload): answer no ping behind it until the host has, as it may fail the connection.
    if (state == ReadState.Header && eventCount() > 0 && hasFlag(slot, ConnFlag.Rsv1Allowed) && isPingStart(slot, ptr + pos))
      break;
    if (state == ReadState.Header) pos = readHeader(slot, ptr, pos, len);
    else if (state == ReadState.Payload) pos = readPayload(slot, ptr, pos, len);
    else if (state == ReadState.ControlPayload) pos = readControl(slot, ptr, pos, len);
    else pos = len;
  }
  setResult(Result.Consumed, pos);
  setResult(Result.EventCount, eventCount());
  setResult(Result.OutLength, outLength);
  return eventCount();
}

/** True when the next header byte starts a close frame (and no part of a header is buffered). */
// @ts-ignore: decorator
@inline function isCloseStart(slot: usize, at: usize): bool {
  return load<u8>(slot + Slot.HeaderLength) == 0 && (<u32>load<u8>(at) & 0xf) == Opcode.Close;
}

/** True when the next header byte starts a ping (and no part of a header is buffered). */
// @ts-ignore: decorator
@inline function isPingStart(slot: usize, at: usize): bool {
  return load<u8>(slot + Slot.HeaderLength) == 0 && (<u32>load<u8>(at) & 0xf) == Opcode.Ping;
}

/** Header bytes for the given second byte: length form and mask key. */
// @ts-ignore: decorator
@inline function headerSize(byte1: u32): u32 {
  const length7 = byte1 & 0x7f;
  return 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + ((byte1 & FrameBit.Mask) != 0 ? 4 : 0);
}

/**
 * The number an Error event reports with its rule (its `len` field), for the message: set by the check that
 * finds the rule broken (the opcode, the control frame's length byte, the close code).
 */
let errorValue: u32 = 0;

/** The rule the first header byte breaks, or 0. */
function checkByte0(slot: usize, byte0: u32): u32 {
  const opcode = byte0 & 0xf;
  errorValue = opcode;
  if (!isKnownOpcode(opcode)) return ReadError.ReservedOpcode;
  const rsv = byte0 & (FrameBit.Rsv1 | FrameBit.Rsv2 | FrameBit.Rsv3);
  if (rsv != 0) {
    if (rsv != FrameBit.Rsv1) return ReadError.ReservedBits;
    const firstDataFrame = opcode == Opcode.Text || opcode == Opcode.Binary;
    if (!firstDataFrame || !hasFlag(slot, ConnFlag.Rsv1Allowed)) return ReadError.UnexpectedRsv1;
  }
  const inMessage = load<u8>(slot + Slot.MessageOpcode) != 0;
  if (isControl(opcode)) return (byte0 & FrameBit.Fin) == 0 ? ReadError.ControlFragmented : 0;
  if (opcode == Opcode.Continuation) return inMessage ? 0 : ReadError.UnexpectedContinuation;
  return inMessage ? ReadError.ExpectedContinuation : 0;
}

/** The rule the second header byte breaks, or 0. */
function checkByte1(slot: usize, byte0: u32, byte1: u32): u32 {
  const masked = (byte1 & FrameBit.Mask) != 0;
  const server = load<u8>(slot + Slot.Role) == Role.Server;
  if (server && !masked) return ReadError.UnmaskedClientFrame;
  if (!server && masked) return ReadError.MaskedServerFrame;
  errorValue = byte1 & 0x7f;
  if (isControl(byte0 & 0xf) && errorValue > MAX_CONTROL_PAYLOAD) return ReadError.ControlTooLong;
  return 0;
}

function readHeader(slot: usize, ptr: usize, pos: u32, len: u32): u32 {
  let have = <u32>load<u8>(slot + Slot.HeaderLength);
  if (have == 0 && len - pos >= 2) {
    // Fast path: the whole header is in this buffer.
    const at = ptr + pos;
    const size = headerSize(<u32>load<u8>(at, 1));
    if (len - pos >= size) {
      const error = headerError(slot, at);
      if (error != 0) return reject(slot, error, pos, len);
      beginFrame(slot, at);
      return pos + size;
    }
  }
  // Slow path: gather the header in the slot, checking each byte as soon as it arrives.
  const buffer = slot + Slot.Header;
  while (pos < len) {
    const byte = <u32>load<u8>(ptr + pos);
    let error: u32 = 0;
    if (have == 0) error = checkByte0(slot, byte);
    else if (have == 1) error = checkByte1(slot, <u32>load<u8>(buffer), byte);
    if (error != 0) return reject(slot, error, pos - have, len);
    store<u8>(buffer + have, <u8>byte);
    have++;
    pos++;
    if (have >= 2 && have == headerSize(<u32>load<u8>(buffer, 1))) {
      error = lengthError(slot, buffer);
      if (error != 0) return reject(slot, error, pos - have, len);
      store<u8>(slot + Slot.HeaderLength, 0);
      beginFrame(slot, buffer);
      return pos;
    }
  }
  store<u8>(slot + Slot.HeaderLength, <u8>have);
  return pos;
}

/**
 * A header breaks a rule. When this call already reported events, give the header's bytes back (`frameStart`)
 * and return, so the host acts on those events (answers a message, say) before the failure closes the
 * connection; the next call fails. Otherwise fail now.
 */
function reject(slot: usize, error: u32, frameStart: u32, len: u32): u32 {
  if (eventCount() > 0) {
    yielded = true;
    store<u8>(slot + Slot.HeaderLength, 0);
    return frameStart;
  }
  fail(slot, error);
  return len;
}

/** The rule a complete header at `header` breaks, or 0. */
function headerError(slot: usize, header: usize): u32 {
  const byte0 = <u32>load<u8>(header);
  let error = checkByte0(slot, byte0);
  if (error == 0) error = checkByte1(slot, byte0, <u32>load<u8>(header, 1));
  if (error == 0) error = lengthError(slot, header);
  return error;
}

/** Payload length of a complete header. */
function payloadLengthOf(header: usize): u64 {
  const length7 = <u64>(load<u8>(header, 1) & 0x7f);
  if (length7 == 126) return <u64>bswap<u16>(load<u16>(header, 2));
  if (length7 == 127) return bswap<u64>(load<u64>(header, 2));
  return length7;
}

/** The rule a complete header's length breaks (64-bit top bit, maxPayload), or 0. */
function lengthError(slot: usize, header: usize): u32 {
  const payloadLength = payloadLengthOf(header);
  if (payloadLength >> 63 != 0) return ReadError.LengthTopBit;
  const opcode = <u32>load<u8>(header) & 0xf;
  if (isControl(opcode)) return 0;
  const before = opcode == Opcode.Continuation ? load<u64>(slot + Slot.MessageLength) : 0;
  const messageLength = before + payloadLength;
  if (messageLength > load<u64>(slot + Slot.MaxPayload) || messageLength < payloadLength) return ReadError.MessageTooBig;
  return 0;
}

/** Start reading the frame whose complete, checked header is at `header`. */
function beginFrame(slot: usize, header: usize): void {
  const byte0 = <u32>load<u8>(header);
  const byte1 = <u32>load<u8>(header, 1);
  const opcode = byte0 & 0xf;
  const payloadLength = payloadLengthOf(header);
  const length7 = byte1 & 0x7f;
  const keyAt: usize = length7 == 126 ? 4 : length7 == 127 ? 10 : 2;
  store<u32>(slot + Slot.MaskingKey, (byte1 & FrameBit.Mask) != 0 ? load<u32>(header + keyAt) : 0);
  store<u8>(slot + Slot.FrameOpcode, <u8>opcode);
  store<u8>(slot + Slot.FrameByte0, <u8>byte0);
  store<u64>(slot + Slot.PayloadLength, payloadLength);
  store<u64>(slot + Slot.Remaining, payloadLength);
  if (isControl(opcode)) {
    store<u8>(slot + Slot.ControlLength, 0);
    store<u8>(slot + Slot.State, ReadState.ControlPayload);
    if (payloadLength == 0) handleControl(slot, slot + Slot.Control, 0);
    return;
  }
  if (opcode != Opcode.Continuation) startMessage(slot, opcode, (byte0 & FrameBit.Rsv1) != 0);
  store<u64>(slot + Slot.MessageLength, load<u64>(slot + Slot.MessageLength) + payloadLength);
  clearFlag(slot, ConnFlag.FrameStarted);
  store<u8>(slot + Slot.State, ReadState.Payload);
  if (payloadLength == 0) dataChunk(slot, header, 0);
}

function startMessage(slot: usize, opcode: u32, compressed: bool): void {
  store<u8>(slot + Slot.MessageOpcode, <u8>opcode);
  store<u64>(slot + Slot.MessageLength, 0);
  store<u8>(slot + Slot.Utf8State, <u8>UTF8_ACCEPT);
  store<u8>(slot + Slot.Pending, DataFlag.MessageStart | (compressed ? DataFlag.Rsv1 : 0));
  if (compressed) setFlag(slot, COMPRESSED);
  else clearFlag(slot, COMPRESSED);
}

function readPayload(slot: usize, ptr: usize, pos: u32, len: u32): u32 {
  const remaining = load<u64>(slot + Slot.Remaining);
  const n = <u32>min(remaining, <u64>(len - pos));
  const at = ptr + pos;
  const key = load<u32>(slot + Slot.MaskingKey);
  const offset = <u32>((load<u64>(slot + Slot.PayloadLength) - remaining) & 3);
  if (key != 0) mask(at, n, key, offset);
  if (!dataChunk(slot, at, n)) {
    // Invalid UTF-8 with events already reported: give the chunk back, masked again as it came, so the
    // host acts on those events (answers a message, say) first; the next call fails on it at once.
    if (key != 0) mask(at, n, key, offset);
    yielded = true;
    return pos;
  }
  return pos + n;
}

/**
 * Report `n` payload bytes at `at` (already unmasked) of the current data frame. False, with nothing
 * changed, when the bytes are invalid UTF-8 and this call has already reported events (the caller yields).
 */
function dataChunk(slot: usize, at: usize, n: u32): bool {
  const remaining = load<u64>(slot + Slot.Remaining) - n;
  const frameEnd = remaining == 0;
  const messageEnd = frameEnd && (load<u8>(slot + Slot.FrameByte0) & FrameBit.Fin) != 0;
  const opcode = load<u8>(slot + Slot.MessageOpcode);
  if (opcode == Opcode.Text && !hasFlag(slot, COMPRESSED)) {
    const state = utf8Step(<u32>load<u8>(slot + Slot.Utf8State), at, n);
    if (state == UTF8_REJECT || (messageEnd && state != UTF8_ACCEPT)) {
      if (eventCount() > 0 && n > 0) return false;
      fail(slot, ReadError.InvalidUtf8);
      return true;
    }
    store<u8>(slot + Slot.Utf8State, <u8>state);
  }
  let flags = load<u8>(slot + Slot.Pending);
  store<u8>(slot + Slot.Pending, 0);
  if (!hasFlag(slot, ConnFlag.FrameStarted)) {
    flags |= DataFlag.FrameStart;
    setFlag(slot, ConnFlag.FrameStarted);
  }
  store<u64>(slot + Slot.Remaining, remaining);
  if (frameEnd) {
    flags |= DataFlag.FrameEnd;
    store<u8>(slot + Slot.State, ReadState.Header);
  }
  if (messageEnd) {
    flags |= DataFlag.MessageEnd;
    store<u8>(slot + Slot.MessageOpcode, 0);
    // The host inflates and checks a compressed message now: read nothing behind it (a ping would be
    // answered) until the host has, as it may fail the connection.
    if (hasFlag(slot, COMPRESSED)) yielded = true;
  }
  emit(EventType.Data, opcode, flags, 0, 0, at, n);
  return true;
}

function readControl(slot: usize, ptr: usize, pos: u32, len: u32): u32 {
  const remaining = <u32>load<u64>(slot + Slot.Remaining);
  const have = <u32>load<u8>(slot + Slot.ControlLength);
  const key = load<u32>(slot + Slot.MaskingKey);
  if (have == 0 && len - pos >= remaining) {
    // The whole payload is here: unmask it in place.
    const at = ptr + pos;
    if (key != 0) mask(at, remaining, key, 0);
    handleControl(slot, at, remaining);
    return pos + remaining;
  }
  // The slot's control buffer may still hold a ping or pong reported in this call that the host has not
  // read yet: start buffering another control payload there on the next call.
  if (have == 0 && eventCount() > 0) {
    yielded = true;
    return pos;
  }
  const n = min(remaining, len - pos);
  const buffer = slot + Slot.Control;
  memory.copy(buffer + have, ptr + pos, n);
  store<u8>(slot + Slot.ControlLength, <u8>(have + n));
  store<u64>(slot + Slot.Remaining, remaining - n);
  if (n == remaining) {
    if (key != 0) mask(buffer, have + n, key, 0);
    handleControl(slot, buffer, have + n);
  }
  return pos + n;
}

/** Act on a complete control frame whose unmasked payload is at `at`. */
function handleControl(slot: usize, at: usize, n: u32): void {
  store<u8>(slot + Slot.State, ReadState.Header);
  store<u64>(slot + Slot.Remaining, 0);
  const opcode = <u32>load<u8>(slot + Slot.FrameOpcode);
  if (opcode == Opcode.Ping) {
    emit(EventType.Ping, <u8>opcode, 0, 0, 0, at, n);
    if (hasFlag(slot, ConnFlag.AutoPong) && !hasFlag(slot, ConnFlag.CloseSent))
      reply(slot, FrameBit.Fin | Opcode.Pong, at, n);
    return;
  }
  if (opcode == Opcode.Pong) {
    emit(EventType.Pong, <u8>opcode, 0, 0, 0, at, n);
    return;
  }
  handleClose(slot, at, n);
}

function handleClose(slot: usize, at: usize, n: u32): void {
  if (n == 1) return fail(slot, ReadError.CloseLengthOne);
  let code = CloseCode.NoStatus;
  if (n >= 2) {
    code = <u32>bswap<u16>(load<u16>(at));
    errorValue = code;
    if (!isValidCloseCode(code)) return fail(slot, ReadError.InvalidCloseCode);
    if (utf8Step(UTF8_ACCEPT, at + 2, n - 2) != UTF8_ACCEPT) return fail(slot, ReadError.InvalidCloseReason);
  }
  setFlag(slot, ConnFlag.CloseReceived);
  emit(EventType.Close, <u8>Opcode.Close, 0, 0, <u16>code, at + (n >= 2 ? 2 : 0), n >= 2 ? n - 2 : 0);
  if (!hasFlag(slot, ConnFlag.CloseSent)) {
    // Echo the peer's code and reason (RFC 6455 §5.5.1; as ws does), or an empty close to an empty one.
    reply(slot, FrameBit.Fin | Opcode.Close, at, n);
    setFlag(slot, ConnFlag.CloseSent);
  }
  store<u8>(slot + Slot.State, ReadState.Closed);
  emit(EventType.Closed, 0, 0, 0, <u16>code, 0, 0);
}

/** Queue a control frame in OUT; `feed` keeps room for one before each step. */
function reply(slot: usize, byte0: u32, src: usize, n: u32): void {
  outLength += writeFrameAt(slot, byte0, src, n, OUT + outLength);
}

/** The close code a read error is answered with. */
function closeCodeOf(error: u32): u32 {
  if (error == ReadError.InvalidUtf8 || error == ReadError.InvalidCloseReason) return CloseCode.InvalidPayload;
  if (error == ReadError.MessageTooBig) return CloseCode.MessageTooBig;
  return CloseCode.ProtocolError;
}

/** Fail the connection: report the error, send a close frame with its code, and ignore further input. */
function fail(slot: usize, error: u32): void {
  const code = closeCodeOf(error);
  const named =
    error == ReadError.ReservedOpcode ||
    error == ReadError.ExpectedContinuation ||
    error == ReadError.ControlTooLong ||
    error == ReadError.InvalidCloseCode;
  emit(EventType.Error, 0, 0, <u8>error, <u16>code, 0, named ? errorValue : 0);
  if (!hasFlag(slot, ConnFlag.CloseSent)) {
    store<u16>(closeCodeScratch, bswap<u16>(<u16>code));
    reply(slot, FrameBit.Fin | Opcode.Close, closeCodeScratch, 2);
    setFlag(slot, ConnFlag.CloseSent);
  }
  store<u8>(slot + Slot.State, ReadState.Failed);
}
