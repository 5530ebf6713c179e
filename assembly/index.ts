// The engine's exports: numbers in, numbers out. See docs/ENGINE.md for the ABI.
import { initSlots, openSlot, requiredBytes, Slot, SLOT_BYTES, slotOf, STATE_FLAGS_SHIFT } from "./connection";
import { entropyFilled } from "./entropy";
import {
  BuildConstant,
  ENTROPY,
  ENTROPY_BYTES,
  EVENT_CAPACITY,
  EVENTS,
  HANDSHAKE,
  HTTP2,
  MAX_HEADERS,
  OUT,
  OUT_BYTES,
  RESULT,
} from "./layout";
import { mask } from "./mask";
import { CallError } from "./errors";
import {
  beginMessage as beginMessage_,
  closeError,
  closeFrame,
  controlError,
  controlFrame,
  headerSize,
  hostMaskKey,
  maskWith,
  nextFrame as nextFrame_,
} from "./writer";
import { isTchar } from "./http";
export * from "./handshake";
import { utf8Step, UTF8_ACCEPT } from "./utf8";

export { entropyFilled };
export { feed } from "./reader";

/** Address of the result fields (layout.ts Result). */
export function resultPtr(): usize {
  return RESULT;
}
/** Address of the event records `feed` writes. */
export function eventsPtr(): usize {
  return EVENTS;
}
/** Address of the bytes `feed` asks the host to send. */
export function outPtr(): usize {
  return OUT;
}
/** Address of the entropy pool. */
export function entropyPtr(): usize {
  return ENTROPY;
}
/** Address of the handshake results and header table. */
export function handshakePtr(): usize {
  return HANDSHAKE;
}

/** A build constant by its BuildConstant index; 0 for an unknown index. */
export function buildConstant(index: u32): u32 {
  if (index == BuildConstant.EventCapacity) return <u32>EVENT_CAPACITY;
  if (index == BuildConstant.OutBytes) return <u32>OUT_BYTES;
  if (index == BuildConstant.EntropyBytes) return <u32>ENTROPY_BYTES;
  if (index == BuildConstant.MaxHeaders) return <u32>MAX_HEADERS;
  if (index == BuildConstant.Http2) return <u32>HTTP2;
  return index == BuildConstant.SlotBytes ? SLOT_BYTES : 0;
}

/** Bytes of memory `init(maxConnections, ioBytes)` needs above __heap_base (when not in the static pool). */
export function memoryNeeded(maxConnections: u32, ioBytes: u32): f64 {
  return <f64>((<u64>__heap_base + 15) & ~15) + <f64>requiredBytes(maxConnections, ioBytes);
}

/** Set up the connection slots and the I/O area; 0 or a negative CallError. */
export function init(maxConnections: u32, ioBytes: u32): i32 {
  return initSlots(maxConnections, ioBytes);
}

/** Start connection `conn` as a server (role 0) or client (1) with ConnFlag `flags`; 0 or a CallError. */
export function open(conn: u32, role: u32, flags: u32, maxPayload: f64): i32 {
  return openSlot(conn, <u8>role, <u8>flags, maxPayload >= 1.8446744073709552e19 ? u64.MAX_VALUE : <u64>maxPayload);
}

/** XOR `len` bytes at `ptr` with the masking key, starting `offset` bytes into it. */
export function unmask(ptr: usize, len: usize, key: u32, offset: u32): void {
  mask(ptr, len, key, offset);
}

/** 1 if the `len` bytes at `ptr` are complete, valid UTF-8, else 0. */
export function isUtf8(ptr: usize, len: usize): u32 {
  return utf8Step(UTF8_ACCEPT, ptr, len) == UTF8_ACCEPT ? 1 : 0;
}

/** Continue validating UTF-8 from `state` (0: start); returns the new state: 0 complete, 1 invalid, else partial. */
export function utf8Validate(state: u32, ptr: usize, len: usize): u32 {
  return utf8Step(state, ptr, len);
}

/** Connection state: ConnFlag bits << 8 | ReadState, or a CallError. */
export function connectionState(conn: u32): i32 {
  const slot = slotOf(conn);
  if (slot == 0) return CallError.InvalidConnection;
  return (<i32>load<u8>(slot + Slot.Flags) << STATE_FLAGS_SHIFT) | <i32>load<u8>(slot + Slot.State);
}

/** Payload length of the frame being read (for hosts that report fragment offsets), or -1. */
export function framePayloadLength(conn: u32): f64 {
  const slot = slotOf(conn);
  return slot == 0 ? -1 : <f64>load<u64>(slot + Slot.PayloadLength);
}

/**
 * Start writing a text (1) or binary (2) message of `length` bytes with MessageFlag `flags` (Compressed: RSV1
 * on its first frame; More: further pieces follow) in frames of at most `maxFragment` bytes (0: one frame),
 * and write the first frame's header at `dst`: its size; `Result.FrameLength` payload bytes follow it.
 */
export function beginMessage(conn: u32, opcode: u32, length: f64, flags: u32, maxFragment: u32, dst: usize): i32 {
  const slot = slotOf(conn);
  if (slot == 0) return CallError.InvalidConnection;
  if (!(length >= 0 && length <= 9007199254740991)) return CallError.InvalidArgument;
  return beginMessage_(slot, opcode, <u64>length, flags, maxFragment, dst);
}

/** Write the next frame's header at `dst`: its size; `Result.FrameLength` payload bytes of the message follow. */
export function nextFrame(conn: u32, dst: usize): i32 {
  const slot = slotOf(conn);
  return slot == 0 ? CallError.InvalidConnection : nextFrame_(slot, dst);
}

/** Bytes of the header this connection writes for a frame of `payloadLength` bytes (masking key included). */
export function headerBytes(conn: u32, payloadLength: f64): i32 {
  const slot = slotOf(conn);
  if (slot == 0) return CallError.InvalidConnection;
  if (!(payloadLength >= 0 && payloadLength <= 9007199254740991)) return CallError.InvalidArgument;
  return <i32>headerSize(slot, <u64>payloadLength);
}

/** Mask the next `len` payload bytes at `ptr` after `nextFrame` (a no-op on the server side). */
export function maskChunk(conn: u32, ptr: usize, len: u32): i32 {
  const slot = slotOf(conn);
  if (slot == 0) return CallError.InvalidConnection;
  maskWith(slot, ptr, len);
  return 0;
}

/**
 * Mask client connection `conn`'s frames with `key` from now on (ws's `generateMask`), not fresh keys from the
 * entropy pool; `key` is the 4 key bytes as they go on the wire, read little-endian. 0, InvalidConnection, or
 * InvalidArgument for a server's connection (its frames are never masked). A host choosing keys per frame
 * calls it before each frame it writes; frames `feed` writes (pongs, the close reply) take the last key given.
 * `open` ends it.
 */
export function useMaskKey(conn: u32, key: u32): i32 {
  const slot = slotOf(conn);
  return slot == 0 ? CallError.InvalidConnection : hostMaskKey(slot, key);
}

/** Write a ping (9) or pong (10) with `len` payload bytes from `src` at `dst`; its size or a CallError. */
export function writeControl(conn: u32, opcode: u32, src: usize, len: u32, dst: usize): i32 {
  const slot = slotOf(conn);
  return slot == 0 ? CallError.InvalidConnection : controlFrame(slot, opcode, src, len, dst);
}

/** Write a close frame with `code` (0: none) and a UTF-8 reason; size or CallError. */
export function writeClose(conn: u32, code: u32, reason: usize, reasonLength: u32, dst: usize): i32 {
  const slot = slotOf(conn);
  return slot == 0 ? CallError.InvalidConnection : closeFrame(slot, code, reason, reasonLength, dst);
}

/** 0 when a ping (9) or pong (10) may carry `length` payload bytes, else the CallError `writeControl` gives. */
export function checkControl(opcode: u32, length: u32): i32 {
  return controlError(opcode, length);
}

/** 0 when a close frame may carry `code` (0: none) and the reason at `reason`, else `writeClose`'s CallError. */
export function checkClose(code: u32, reason: usize, reasonLength: u32): i32 {
  return closeError(code, reason, reasonLength);
}

/** How many of the `len` bytes at `ptr` are HTTP token characters (RFC 9110 §5.6.2) before the first other. */
export function tokenLength(ptr: usize, len: u32): u32 {
  let n: u32 = 0;
  while (n < len && isTchar(load<u8>(ptr + n))) n++;
  return n;
}

/** Where static data ends; replaced by the `__heap_base` / `__data_end` global exports at build. */
export function heapBase(): usize {
  return __heap_base;
}
