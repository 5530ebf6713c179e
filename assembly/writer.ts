// The frame writer (RFC 6455 §5.2): every rule of what goes on the wire when sending. The message writer
// frames a data message a frame at a time (opcode on the first frame, continuations after, FIN on the last,
// RSV1 on the first of a compressed message, fragments of the size asked), writing each header in engine
// memory and telling the host how many payload bytes follow it; control and close frames are checked and
// written whole. Client-side masking uses keys from the host's entropy pool.
import { isValidCloseCode } from "./close";
import { ConnFlag, hasFlag, Role, Slot, TxState, setFlag } from "./connection";
import { hasEntropy, takeEntropy } from "./entropy";
import { CallError } from "./errors";
import { Result, setResult } from "./layout";
import { mask, nextOffset } from "./mask";
import { FrameBit, MAX_CONTROL_PAYLOAD, Opcode } from "./opcode";
import { UTF8_ACCEPT, utf8Step } from "./utf8";

/** Longest frame header: 2 bytes, 8 of extended length, 4 of masking key. */
export const MAX_HEADER_BYTES: u32 = 14;
/** Longest close reason: a control payload less the 2-byte code. */
export const MAX_CLOSE_REASON: u32 = MAX_CONTROL_PAYLOAD - 2;

/** Bits of `beginMessage`'s `flags`. */
export namespace MessageFlag {
  /** The payload is compressed by the negotiated extension: RSV1 on the message's first frame. */
  // @ts-ignore: decorator
  @inline export const Compressed: u32 = 1;
  /** More pieces of this message follow (a later `beginMessage` continues it): no FIN on this piece's last frame. */
  // @ts-ignore: decorator
  @inline export const More: u32 = 2;
}

/** True when this slot must mask what it sends (clients do, RFC 6455 §5.3). */
// @ts-ignore: decorator
@inline function masks(slot: usize): bool {
  return load<u8>(slot + Slot.Role) == Role.Client;
}

/**
 * True when this slot cannot write a frame header for want of a masking key: a client that has neither a key
 * of the host's (`useMaskKey`) nor 4 bytes of entropy.
 */
export function needsKey(slot: usize): bool {
  return masks(slot) && !hasFlag(slot, ConnFlag.HostMaskKey) && !hasEntropy(4);
}

/**
 * Mask this client slot's frames with `key` (the 4 key bytes as they go on the wire, read little-endian) from
 * now on, instead of fresh keys from the entropy pool: ws's `generateMask`, for a host that chooses its keys
 * (a key the peer can predict defeats the purpose of masking, RFC 6455 §10.3). `open` ends it.
 */
export function hostMaskKey(slot: usize, key: u32): i32 {
  if (!masks(slot)) return CallError.InvalidArgument;
  store<u32>(slot + Slot.TxHostKey, key);
  setFlag(slot, ConnFlag.HostMaskKey);
  return 0;
}

/** Bytes of the header of a frame with `payloadLength` payload bytes sent from this slot. */
export function headerSize(slot: usize, payloadLength: u64): u32 {
  const size: u32 = payloadLength < 126 ? 2 : payloadLength <= 0xffff ? 4 : 10;
  return masks(slot) ? size + 4 : size;
}

/**
 * Write a frame header at `dst` and return its length. A client header ends with a fresh masking key (or the
 * host's, `hostMaskKey`), which is also kept in the slot for `maskWith`. The caller has checked `needsKey`.
 */
export function writeHeaderAt(slot: usize, byte0: u32, payloadLength: u64, dst: usize): u32 {
  const maskBit: u32 = masks(slot) ? FrameBit.Mask : 0;
  store<u8>(dst, <u8>byte0);
  let size: u32 = 2;
  if (payloadLength < 126) {
    store<u8>(dst, <u8>(maskBit | <u32>payloadLength), 1);
  } else if (payloadLength <= 0xffff) {
    store<u8>(dst, <u8>(maskBit | 126), 1);
    store<u16>(dst, bswap<u16>(<u16>payloadLength), 2);
    size = 4;
  } else {
    store<u8>(dst, <u8>(maskBit | 127), 1);
    store<u64>(dst, bswap<u64>(payloadLength), 2);
    size = 10;
  }
  if (maskBit != 0) {
    const key = hasFlag(slot, ConnFlag.HostMaskKey)
      ? load<u32>(slot + Slot.TxHostKey)
      : load<u32>(takeEntropy(4));
    store<u32>(dst + size, key);
    store<u32>(slot + Slot.TxMaskingKey, key);
    store<u32>(slot + Slot.TxMaskOffset, 0);
    size += 4;
  }
  return size;
}

/** Mask `len` bytes at `ptr` with the slot's current sending key, continuing where the last call ended. */
export function maskWith(slot: usize, ptr: usize, len: u32): void {
  if (!masks(slot)) return;
  const offset = load<u32>(slot + Slot.TxMaskOffset);
  const key = load<u32>(slot + Slot.TxMaskingKey);
  // A zero key (a host's, `hostMaskKey`) masks nothing: the XOR is skipped, as ws skips it.
  if (key != 0) mask(ptr, len, key, offset);
  store<u32>(slot + Slot.TxMaskOffset, nextOffset(offset, len));
}

/** Header, payload copied from `src` (may be `dst + header` already) and masked; returns the frame's size. */
export function writeFrameAt(slot: usize, byte0: u32, src: usize, len: u32, dst: usize): u32 {
  const header = writeHeaderAt(slot, byte0, len, dst);
  const payload = dst + header;
  if (payload != src) memory.copy(payload, src, len);
  maskWith(slot, payload, len);
  return header + len;
}

/** 0 when a control frame of `opcode` (ping or pong: close has its own call) may carry `length` bytes. */
export function controlError(opcode: u32, length: u32): i32 {
  if (opcode != Opcode.Ping && opcode != Opcode.Pong) return CallError.InvalidOpcode;
  return length > MAX_CONTROL_PAYLOAD ? CallError.ControlTooLong : 0;
}

/** 0 when a close frame may carry `code` (0: none) and the `reasonLength` bytes at `reason`. */
export function closeError(code: u32, reason: usize, reasonLength: u32): i32 {
  if (code == 0 ? reasonLength != 0 : !isValidCloseCode(code)) return CallError.InvalidCloseCode;
  // The length is judged before the reason is read: a host may pass a length it did not stage.
  if (reasonLength > MAX_CLOSE_REASON) return CallError.CloseReasonTooLong;
  if (utf8Step(UTF8_ACCEPT, reason, reasonLength) != UTF8_ACCEPT) return CallError.CloseReasonNotUtf8;
  return 0;
}

/** Write a ping or pong with `len` payload bytes from `src` at `dst`; its size or a CallError. */
export function controlFrame(slot: usize, opcode: u32, src: usize, len: u32, dst: usize): i32 {
  const error = controlError(opcode, len);
  if (error < 0) return error;
  if (hasFlag(slot, ConnFlag.CloseSent)) return CallError.AlreadyClosing;
  if (needsKey(slot)) return CallError.EntropyExhausted;
  return <i32>writeFrameAt(slot, FrameBit.Fin | opcode, src, len, dst);
}

/**
 * Start writing a text (1) or binary (2) message of `length` payload bytes (or the next piece of a message
 * sent in pieces, after one begun with `MessageFlag.More`) in frames of at most `maxFragment` bytes (0: one
 * frame), and write its first frame's header at `dst` as `nextFrame` does (most messages are one frame: one
 * call). The header's size, or a CallError, checked before anything changes.
 */
export function beginMessage(slot: usize, opcode: u32, length: u64, flags: u32, maxFragment: u32, dst: usize): i32 {
  if (opcode != Opcode.Text && opcode != Opcode.Binary) return CallError.InvalidOpcode;
  if ((flags & ~(MessageFlag.Compressed | MessageFlag.More)) != 0) return CallError.InvalidArgument;
  if (hasFlag(slot, ConnFlag.CloseSent)) return CallError.AlreadyClosing;
  const state = load<u8>(slot + Slot.TxState);
  if ((state & TxState.Framing) != 0) return CallError.MessageUnfinished;
  const continuing = (state & TxState.Open) != 0;
  const compressed = (flags & MessageFlag.Compressed) != 0;
  // RSV1 marks a message compressed by a negotiated extension, on its first frame only (RFC 7692 §6).
  if (compressed && (continuing || !hasFlag(slot, ConnFlag.Rsv1Allowed))) return CallError.CompressionNotAllowed;
  if (needsKey(slot)) return CallError.EntropyExhausted;
  let next = TxState.Framing;
  if (compressed) next |= TxState.Rsv1First;
  if ((flags & MessageFlag.More) != 0) next |= TxState.More;
  store<u8>(slot + Slot.TxState, next);
  store<u8>(slot + Slot.TxOpcode, <u8>(continuing ? Opcode.Continuation : opcode));
  store<u64>(slot + Slot.TxLeft, length);
  store<u32>(slot + Slot.TxFragment, maxFragment);
  return nextFrame(slot, dst);
}

/**
 * Write the header of the message's next frame (after the first, which `beginMessage` wrote) at `dst` and
 * return its size;
 * its payload length is in `Result.FrameLength` (and `FrameLengthHigh`): the host sends that many bytes of
 * the message next (a client masks them with `maskChunk`). The last frame of a message has FIN; a piece
 * begun with `MessageFlag.More` leaves the message open instead. A CallError when no frame is due.
 */
export function nextFrame(slot: usize, dst: usize): i32 {
  const state = load<u8>(slot + Slot.TxState);
  if ((state & TxState.Framing) == 0) return CallError.NoMessage;
  if (hasFlag(slot, ConnFlag.CloseSent)) return CallError.AlreadyClosing;
  if (needsKey(slot)) return CallError.EntropyExhausted;
  const left = load<u64>(slot + Slot.TxLeft);
  const fragment = <u64>load<u32>(slot + Slot.TxFragment);
  const n = fragment == 0 || left <= fragment ? left : fragment;
  let byte0 = <u32>load<u8>(slot + Slot.TxOpcode);
  if ((state & TxState.Rsv1First) != 0) byte0 |= FrameBit.Rsv1;
  let after = state & ~TxState.Rsv1First;
  if (n == left) {
    // The piece's last frame: FIN ends the message, unless more pieces of it are to come.
    if ((state & TxState.More) == 0) {
      byte0 |= FrameBit.Fin;
      after = 0;
    } else after = TxState.Open;
  }
  const size = writeHeaderAt(slot, byte0, n, dst);
  store<u8>(slot + Slot.TxState, after);
  store<u8>(slot + Slot.TxOpcode, <u8>Opcode.Continuation);
  store<u64>(slot + Slot.TxLeft, left - n);
  setResult(Result.FrameLength, <u32>n);
  setResult(Result.FrameLengthHigh, <u32>(n >> 32));
  return <i32>size;
}

/** Write a close frame with `code` (0: none) and a UTF-8 `reason`, and mark the close as sent. */
export function closeFrame(slot: usize, code: u32, reason: usize, reasonLength: u32, dst: usize): i32 {
  if (hasFlag(slot, ConnFlag.CloseSent)) return CallError.AlreadyClosing;
  const error = closeError(code, reason, reasonLength);
  if (error < 0) return error;
  if (needsKey(slot)) return CallError.EntropyExhausted;
  const payloadLength: u32 = code == 0 ? 0 : 2 + reasonLength;
  const size = writeHeaderAt(slot, FrameBit.Fin | Opcode.Close, payloadLength, dst);
  if (code != 0) {
    memory.copy(dst + size + 2, reason, reasonLength);
    store<u16>(dst + size, bswap<u16>(<u16>code));
  }
  maskWith(slot, dst + size, payloadLength);
  setFlag(slot, ConnFlag.CloseSent);
  return <i32>(size + payloadLength);
}
