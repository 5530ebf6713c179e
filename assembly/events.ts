// Event records written by `feed`: EVENT_BYTES each at EVENTS, `Result.EventCount` of them.
//   u8 type | u8 opcode | u8 flags | u8 reason | u16 code | u16 0 | u32 ptr | u32 len
import { EVENTS, EVENT_BYTES, EVENT_CAPACITY } from "./layout";

/** Byte offsets of the fields of an event record. */
export namespace EventField {
  /** u8 EventType. */
  // @ts-ignore: decorator
  @inline export const Type: u32 = 0;
  /** u8 opcode of a Data event's message. */
  // @ts-ignore: decorator
  @inline export const Opcode: u32 = 1;
  /** u8 DataFlag bits of a Data event. */
  // @ts-ignore: decorator
  @inline export const Flags: u32 = 2;
  /** u8 ReadError id of an Error event. */
  // @ts-ignore: decorator
  @inline export const Reason: u32 = 3;
  /** u16 close code of a Close, Error or Closed event. */
  // @ts-ignore: decorator
  @inline export const Code: u32 = 4;
  /** u32 address of the payload. */
  // @ts-ignore: decorator
  @inline export const Ptr: u32 = 8;
  /** u32 length of the payload. */
  // @ts-ignore: decorator
  @inline export const Length: u32 = 12;
}

/** Event types. */
export namespace EventType {
  /** A chunk of a data message, unmasked in place: opcode, flags (DataFlag), ptr, len. */
  // @ts-ignore: decorator
  @inline export const Data: u8 = 1;
  /** A whole ping: ptr, len (≤ 125). */
  // @ts-ignore: decorator
  @inline export const Ping: u8 = 2;
  /** A whole pong: ptr, len (≤ 125). */
  // @ts-ignore: decorator
  @inline export const Pong: u8 = 3;
  /** The peer's close frame: code (1005 when it had none), reason at ptr, len. */
  // @ts-ignore: decorator
  @inline export const Close: u8 = 4;
  /**
   * A protocol violation: code (the close code sent), reason (ReadError), len (the number its message names:
   * the opcode, a control frame's length byte or the close code; 0 for the others). The connection is failed.
   */
  // @ts-ignore: decorator
  @inline export const Error: u8 = 5;
  /** The close handshake is complete (close frames sent and received): the transport may be closed. */
  // @ts-ignore: decorator
  @inline export const Closed: u8 = 6;
}

/** Bits of a Data event's flags. */
export namespace DataFlag {
  /** First chunk of a message. */
  // @ts-ignore: decorator
  @inline export const MessageStart: u8 = 1;
  /** Last chunk of a message. */
  // @ts-ignore: decorator
  @inline export const MessageEnd: u8 = 2;
  /** First chunk of a frame. */
  // @ts-ignore: decorator
  @inline export const FrameStart: u8 = 4;
  /** Last chunk of a frame. */
  // @ts-ignore: decorator
  @inline export const FrameEnd: u8 = 8;
  /** The message's first frame had RSV1 set (compressed, when an extension allows it). */
  // @ts-ignore: decorator
  @inline export const Rsv1: u8 = 16;
}

let count: i32 = 0;

/** Start a new batch of events. */
export function resetEvents(): void {
  count = 0;
}

/** Events written in this batch. */
export function eventCount(): i32 {
  return count;
}

/** True when `n` more events fit. */
// @ts-ignore: decorator
@inline export function eventsFit(n: i32): bool {
  return count + n <= EVENT_CAPACITY;
}

/** Append an event; callers check `eventsFit` first. */
export function emit(type: u8, opcode: u8, flags: u8, reason: u8, code: u16, ptr: usize, len: u32): void {
  const record = EVENTS + <usize>(count * EVENT_BYTES);
  // The four u8 fields as one little-endian u32 store.
  store<u32>(
    record,
    (<u32>type << (EventField.Type << 3)) |
      (<u32>opcode << (EventField.Opcode << 3)) |
      (<u32>flags << (EventField.Flags << 3)) |
      (<u32>reason << (EventField.Reason << 3)),
  );
  store<u32>(record, <u32>code, EventField.Code);
  store<u32>(record, <u32>ptr, EventField.Ptr);
  store<u32>(record, len, EventField.Length);
  count++;
}
