// The frame writer (RFC 6455 §5.2): headers for every frame type, client-side masking with keys from the
// host's entropy pool, automatic fragmenting, and close frames with a validated code and reason.
import { isValidCloseCode } from "./close";
import { ConnFlag, hasFlag, Role, setFlag, Slot } from "./connection";
import { hasEntropy, takeEntropy } from "./entropy";
import { CallError } from "./errors";
import { mask, nextOffset } from "./mask";
import { FrameBit, isControl, isKnownOpcode, MAX_CONTROL_PAYLOAD, Opcode } from "./opcode";
import { UTF8_ACCEPT, utf8Step } from "./utf8";

/** Longest frame header: 2 bytes, 8 of extended length, 4 of masking key. */
export const MAX_HEADER_BYTES: u32 = 14;
/** Longest close reason: a control payload less the 2-byte code. */
export const MAX_CLOSE_REASON: u32 = MAX_CONTROL_PAYLOAD - 2;

/** True when this slot must mask what it sends (clients do, RFC 6455 §5.3). */
// @ts-ignore: decorator
@inline function masks(slot: usize): bool {
  return load<u8>(slot + Slot.Role) == Role.Client;
}

/** Check a frame's first byte and length against the slot; 0 or a CallError. */
function checkFrame(slot: usize, byte0: u32, payloadLength: u64): i32 {
  const opcode = byte0 & 0xf;
  if (!isKnownOpcode(opcode) || opcode == Opcode.Close) return CallError.InvalidOpcode;
  const rsv = byte0 & (FrameBit.Rsv1 | FrameBit.Rsv2 | FrameBit.Rsv3);
  if (rsv != 0 && !(rsv == FrameBit.Rsv1 && hasFlag(slot, ConnFlag.Rsv1Allowed))) return CallError.InvalidArgument;
  if (isControl(opcode) && (payloadLength > MAX_CONTROL_PAYLOAD || (byte0 & FrameBit.Fin) == 0))
    return CallError.ControlTooLong;
  if (hasFlag(slot, ConnFlag.CloseSent)) return CallError.AlreadyClosing;
  if (masks(slot) && !hasEntropy(4)) return CallError.EntropyExhausted;
  return 0;
}

/**
 * Write a frame header at `dst` and return its length. A client header ends with a fresh masking key,
 * which is also kept in the slot for `maskWith`. The caller has checked entropy.
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
    const key = load<u32>(takeEntropy(4));
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
  mask(ptr, len, load<u32>(slot + Slot.TxMaskingKey), offset);
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

/** Write one frame (not close: see `closeFrame`); returns its size or a negative CallError. */
export function frame(slot: usize, byte0: u32, src: usize, len: u32, dst: usize): i32 {
  const error = checkFrame(slot, byte0, len);
  if (error < 0) return error;
  return <i32>writeFrameAt(slot, byte0, src, len, dst);
}

/**
 * Write a whole data message from `src` as frames of at most `maxFragment` payload bytes (0: one frame).
 * `dst` must not overlap `src` and must hold `len` plus 14 bytes per frame. Returns the bytes written.
 */
export function message(slot: usize, opcode: u32, src: usize, len: u32, dst: usize, maxFragment: u32): i32 {
  if (opcode != Opcode.Text && opcode != Opcode.Binary) return CallError.InvalidOpcode;
  const fragment = maxFragment == 0 ? len : maxFragment;
  const frames = len == 0 ? 1 : (len + fragment - 1) / fragment;
  if (masks(slot) && !hasEntropy(frames << 2)) return CallError.EntropyExhausted;
  if (hasFlag(slot, ConnFlag.CloseSent)) return CallError.AlreadyClosing;
  let written: u32 = 0;
  let done: u32 = 0;
  let byte0 = opcode;
  do {
    const n = min(fragment, len - done);
    const fin = done + n == len ? FrameBit.Fin : 0;
    written += writeFrameAt(slot, byte0 | fin, src + done, n, dst + written);
    done += n;
    byte0 = Opcode.Continuation;
  } while (done < len);
  return <i32>written;
}

/** Write just a frame header for a payload the host streams through `maskWith`; size or CallError. */
export function header(slot: usize, byte0: u32, payloadLength: u64, dst: usize): i32 {
  const error = checkFrame(slot, byte0, payloadLength);
  if (error < 0) return error;
  return <i32>writeHeaderAt(slot, byte0, payloadLength, dst);
}

/** Write a close frame with `code` (0: none) and a UTF-8 `reason`, and mark the close as sent. */
export function closeFrame(slot: usize, code: u32, reason: usize, reasonLength: u32, dst: usize): i32 {
  if (hasFlag(slot, ConnFlag.CloseSent)) return CallError.AlreadyClosing;
  if (code == 0 ? reasonLength != 0 : !isValidCloseCode(code)) return CallError.InvalidCloseCode;
  if (reasonLength > MAX_CLOSE_REASON) return CallError.CloseReasonTooLong;
  if (utf8Step(UTF8_ACCEPT, reason, reasonLength) != UTF8_ACCEPT) return CallError.CloseReasonNotUtf8;
  if (masks(slot) && !hasEntropy(4)) return CallError.EntropyExhausted;
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
