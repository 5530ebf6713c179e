// The engine's exports: numbers in, numbers out. See docs/ENGINE.md for the ABI.
import { initSlots, requiredBytes, openSlot } from "./connection";
import { entropyFilled } from "./entropy";
import { ENTROPY, EVENTS, HANDSHAKE, OUT, RESULT } from "./layout";
import { mask } from "./mask";
export * from "./handshake";
import { utf8Step, UTF8_ACCEPT } from "./utf8";

export { entropyFilled };

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

/** Where static data ends; replaced by the `__heap_base` / `__data_end` global exports at build. */
export function heapBase(): usize {
  return __heap_base;
}
