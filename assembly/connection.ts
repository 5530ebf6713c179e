// One connection's state: a fixed-size slot in linear memory. No managed objects; fields are plain loads
// and stores at the offsets below, so a slot costs SLOT_BYTES whatever the build.
import { CallError } from "./errors";
import { POOL, POOL_BYTES, Result, result, setResult } from "./layout";

/** Bytes of one connection slot (state, header buffer, control-frame buffer). */
export const SLOT_BYTES: u32 = 256;

/** Field offsets inside a slot. */
export namespace Slot {
  /** u8 ReadState. */
  // @ts-ignore: decorator
  @inline export const State: usize = 0;
  /** u8 Role. */
  // @ts-ignore: decorator
  @inline export const Role: usize = 1;
  /** u8 ConnFlag bits. */
  // @ts-ignore: decorator
  @inline export const Flags: usize = 2;
  /** u8 header bytes buffered at Header. */
  // @ts-ignore: decorator
  @inline export const HeaderLength: usize = 3;
  /** u8[14] a frame header split across reads. */
  // @ts-ignore: decorator
  @inline export const Header: usize = 4;
  /** u8 opcode of the frame being read. */
  // @ts-ignore: decorator
  @inline export const FrameOpcode: usize = 18;
  /** u8 first header byte of the frame being read (FIN, RSV). */
  // @ts-ignore: decorator
  @inline export const FrameByte0: usize = 19;
  /** u32 masking key of the frame being read. */
  // @ts-ignore: decorator
  @inline export const MaskingKey: usize = 20;
  /** u8 opcode of the data message in progress (0: none). */
  // @ts-ignore: decorator
  @inline export const MessageOpcode: usize = 24;
  /** u8 incremental UTF-8 validator state. */
  // @ts-ignore: decorator
  @inline export const Utf8State: usize = 25;
  /** u8 control payload bytes buffered at Control. */
  // @ts-ignore: decorator
  @inline export const ControlLength: usize = 26;
  /** u8 MessageBit flags of the next data event. */
  // @ts-ignore: decorator
  @inline export const Pending: usize = 27;
  /** u32 masking key for `maskChunk` (client writer). */
  // @ts-ignore: decorator
  @inline export const TxMaskingKey: usize = 28;
  /** u64 payload length of the frame being read. */
  // @ts-ignore: decorator
  @inline export const PayloadLength: usize = 32;
  /** u64 payload bytes of the frame being read still to come. */
  // @ts-ignore: decorator
  @inline export const Remaining: usize = 40;
  /** u64 bytes of the data message so far (for maxPayload). */
  // @ts-ignore: decorator
  @inline export const MessageLength: usize = 48;
  /** u64 largest message accepted (1009 beyond). */
  // @ts-ignore: decorator
  @inline export const MaxPayload: usize = 56;
  /** u32 bytes already masked by `maskChunk` (its key offset). */
  // @ts-ignore: decorator
  @inline export const TxMaskOffset: usize = 64;
  /** u32 largest payload of one frame of the message being written (0: the rest in one frame). */
  // @ts-ignore: decorator
  @inline export const TxFragment: usize = 68;
  /** u8 opcode of the next frame the message writer writes (the message's, then Continuation). */
  // @ts-ignore: decorator
  @inline export const TxOpcode: usize = 72;
  /** u8 TxState bits of the message writer. */
  // @ts-ignore: decorator
  @inline export const TxState: usize = 73;
  /** u8[28] the Sec-WebSocket-Accept value a client expects (set by buildRequest). */
  // @ts-ignore: decorator
  @inline export const ExpectedAccept: usize = 80;
  /** u32 the masking key the host gave (`useMaskKey`, with ConnFlag.HostMaskKey), as its bytes read little-endian. */
  // @ts-ignore: decorator
  @inline export const TxHostKey: usize = 108;
  /** u64 payload bytes of the message being written not yet given to a frame. */
  // @ts-ignore: decorator
  @inline export const TxLeft: usize = 112;
  /** u8[128] a control frame's payload split across reads. */
  // @ts-ignore: decorator
  @inline export const Control: usize = 128;
}

/** What the frame reader expects next. */
export namespace ReadState {
  // @ts-ignore: decorator
  @inline export const Header: u8 = 0;
  // @ts-ignore: decorator
  @inline export const Payload: u8 = 1;
  // @ts-ignore: decorator
  @inline export const ControlPayload: u8 = 2;
  /** The close handshake finished: input is ignored. */
  // @ts-ignore: decorator
  @inline export const Closed: u8 = 3;
  /** A protocol error failed the connection: input is ignored. */
  // @ts-ignore: decorator
  @inline export const Failed: u8 = 4;
}

/** Bits of Slot.TxState: where the message writer is in the message it writes. */
export namespace TxState {
  /** `beginMessage` was called and frames of it remain to be written (`nextFrame`). */
  // @ts-ignore: decorator
  @inline export const Framing: u8 = 1;
  /** The next frame is the message's first and carries RSV1 (compressed, RFC 7692 §6). */
  // @ts-ignore: decorator
  @inline export const Rsv1First: u8 = 2;
  /** The piece being framed is not the message's last: its last frame has no FIN. */
  // @ts-ignore: decorator
  @inline export const More: u8 = 4;
  /** A message sent in pieces is open: the next `beginMessage` continues it with continuation frames. */
  // @ts-ignore: decorator
  @inline export const Open: u8 = 8;
}

/** `connectionState(conn)` is the ConnFlag bits shifted left by this, or'ed with the ReadState. */
export const STATE_FLAGS_SHIFT: u32 = 8;

/** Which end of the connection this slot is. */
export namespace Role {
  // @ts-ignore: decorator
  @inline export const Server: u8 = 0;
  // @ts-ignore: decorator
  @inline export const Client: u8 = 1;
}

/** Bits of Slot.Flags. */
export namespace ConnFlag {
  /** Answer pings with pongs from inside `feed`. */
  // @ts-ignore: decorator
  @inline export const AutoPong: u8 = 1;
  /** An extension using RSV1 (permessage-deflate) was negotiated. */
  // @ts-ignore: decorator
  @inline export const Rsv1Allowed: u8 = 2;
  /** A close frame was sent. */
  // @ts-ignore: decorator
  @inline export const CloseSent: u8 = 4;
  /** A close frame was received. */
  // @ts-ignore: decorator
  @inline export const CloseReceived: u8 = 8;
  /** The frame being read has had its first data event. */
  // @ts-ignore: decorator
  @inline export const FrameStarted: u8 = 16;
  /** Client frames are masked with the host's key (`useMaskKey`), not keys from the entropy pool. */
  // @ts-ignore: decorator
  @inline export const HostMaskKey: u8 = 32;
  /** Flags a host may set through `open`. */
  // @ts-ignore: decorator
  @inline export const OpenMask: u8 = 3;
}

let slots: usize = 0;
let slotCount: u32 = 0;

/** Bytes `init` needs for `maxConnections` slots and an I/O area of `ioBytes`. */
export function requiredBytes(maxConnections: u32, ioBytes: u32): u64 {
  return <u64>maxConnections * SLOT_BYTES + ((<u64>ioBytes + 15) & ~15);
}

/**
 * Set up `maxConnections` slots and an I/O area of `ioBytes` for the host's reads and writes: in the
 * static pool when they fit, else above __heap_base in memory the host has grown beforehand.
 */
export function initSlots(maxConnections: u32, ioBytes: u32): i32 {
  const needed = requiredBytes(maxConnections, ioBytes);
  let base: usize = POOL;
  if (needed > <u64>POOL_BYTES) {
    // A build with a static pool uses only the pool: WAMR keeps a full 64 KiB page for any module that
    // contains memory.size, so that instruction must not appear in it.
    if (POOL_BYTES > 0) {
      setResult(Result.RequiredBytes, <u32>min(needed, <u64>u32.MAX_VALUE));
      return CallError.OutOfMemory;
    }
    base = (__heap_base + 15) & ~15;
    const available = (<u64>memory.size() << 16) - <u64>base;
    if (needed > available) {
      setResult(Result.RequiredBytes, <u32>min(<u64>base + needed, <u64>u32.MAX_VALUE));
      return CallError.OutOfMemory;
    }
  }
  slots = base;
  slotCount = maxConnections;
  memory.fill(base, 0, <usize>maxConnections * SLOT_BYTES);
  setResult(Result.SlotsPtr, <u32>base);
  setResult(Result.IoPtr, <u32>(base + <usize>maxConnections * SLOT_BYTES));
  setResult(Result.IoBytes, ioBytes);
  setResult(Result.MaxConnections, maxConnections);
  return 0;
}

/** Address of slot `conn`, or 0 when `conn` is out of range. */
export function slotOf(conn: u32): usize {
  if (conn >= slotCount) return 0;
  return slots + <usize>conn * SLOT_BYTES;
}

/** True when the slot has all of `flag`. */
// @ts-ignore: decorator
@inline export function hasFlag(slot: usize, flag: u8): bool {
  return (load<u8>(slot + Slot.Flags) & flag) == flag;
}

/** Set `flag` on the slot. */
// @ts-ignore: decorator
@inline export function setFlag(slot: usize, flag: u8): void {
  store<u8>(slot + Slot.Flags, load<u8>(slot + Slot.Flags) | flag);
}

/** Clear `flag` on the slot. */
// @ts-ignore: decorator
@inline export function clearFlag(slot: usize, flag: u8): void {
  store<u8>(slot + Slot.Flags, load<u8>(slot + Slot.Flags) & ~flag);
}

/** Reset slot `conn` for a new connection. */
export function openSlot(conn: u32, role: u8, flags: u8, maxPayload: u64): i32 {
  const slot = slotOf(conn);
  if (slot == 0) return CallError.InvalidConnection;
  if (role > Role.Client) return CallError.InvalidArgument;
  memory.fill(slot, 0, SLOT_BYTES);
  store<u8>(slot + Slot.Role, role);
  store<u8>(slot + Slot.Flags, flags & ConnFlag.OpenMask);
  store<u64>(slot + Slot.MaxPayload, maxPayload);
  return 0;
}
