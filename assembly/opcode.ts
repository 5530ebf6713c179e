// Frame opcodes (RFC 6455 §5.2) and the first-byte flags of a frame header.

/** Frame opcodes. */
export namespace Opcode {
  // @ts-ignore: decorator
  @inline export const Continuation: u32 = 0x0;
  // @ts-ignore: decorator
  @inline export const Text: u32 = 0x1;
  // @ts-ignore: decorator
  @inline export const Binary: u32 = 0x2;
  // @ts-ignore: decorator
  @inline export const Close: u32 = 0x8;
  // @ts-ignore: decorator
  @inline export const Ping: u32 = 0x9;
  // @ts-ignore: decorator
  @inline export const Pong: u32 = 0xa;
}

/** Bits of a frame's first byte. */
export namespace FrameBit {
  // @ts-ignore: decorator
  @inline export const Fin: u32 = 0x80;
  // @ts-ignore: decorator
  @inline export const Rsv1: u32 = 0x40;
  // @ts-ignore: decorator
  @inline export const Rsv2: u32 = 0x20;
  // @ts-ignore: decorator
  @inline export const Rsv3: u32 = 0x10;
  /** The mask bit of the second byte. */
  // @ts-ignore: decorator
  @inline export const Mask: u32 = 0x80;
}

/** Largest payload of a control frame (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD: u32 = 125;

/** True for the opcodes RFC 6455 defines (all others are reserved). */
// @ts-ignore: decorator
@inline export function isKnownOpcode(opcode: u32): bool {
  return opcode <= Opcode.Binary || (opcode >= Opcode.Close && opcode <= Opcode.Pong);
}

/** True for control opcodes (0x8-0xF). */
// @ts-ignore: decorator
@inline export function isControl(opcode: u32): bool {
  return (opcode & 0x8) != 0;
}
