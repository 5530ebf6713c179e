// Static memory layout. Every region is a `memory.data` block sized by build constants (asc `--use NAME=value`,
// see asconfig.json), so the module never allocates and never grows its memory from inside.

/** Events one `feed` call may report before it stops and returns (the host then feeds the rest). */
export const EVENT_CAPACITY: i32 = isDefined(BUILD_EVENT_CAPACITY) ? BUILD_EVENT_CAPACITY : 64;
/** Bytes the engine may queue for sending during one `feed` call (pong and close replies). */
export const OUT_BYTES: i32 = isDefined(BUILD_OUT_BYTES) ? BUILD_OUT_BYTES : 1024;
/** Size of the entropy pool the host fills with random bytes (masking keys, handshake nonces). */
export const ENTROPY_BYTES: i32 = isDefined(BUILD_ENTROPY_BYTES) ? BUILD_ENTROPY_BYTES : 256;
/** Header lines one handshake may carry; more is answered with 431. */
export const MAX_HEADERS: i32 = isDefined(BUILD_MAX_HEADERS) ? BUILD_MAX_HEADERS : 64;
/** Static pool for connection slots and the I/O area; `init` falls back to memory above __heap_base. */
export const POOL_BYTES: i32 = isDefined(BUILD_POOL_BYTES) ? BUILD_POOL_BYTES : 0;
/**
 * 1: WebSockets over HTTP/2 (RFC 8441: `parseConnect`, `buildConnectRequest`, `parseConnectResponse`); 0 leaves
 * their code and constant strings out (the `firmware` build: the C host speaks HTTP/1.1 only), and those three
 * exports return CallError.NotBuilt.
 */
export const HTTP2: i32 = isDefined(BUILD_HTTP2) ? BUILD_HTTP2 : 1;

/** Bytes of one event record. */
export const EVENT_BYTES: i32 = 16;
/** Bytes of one header-table entry: name ptr, name len, value ptr, value len (u32 each; see HeaderEntry). */
export const HEADER_ENTRY_BYTES: i32 = 16;

/** Byte offsets of the u32 fields of a header-table entry. */
export namespace HeaderEntry {
  /** Address of the header's name, as sent. */
  // @ts-ignore: decorator
  @inline export const NamePtr: usize = 0;
  /** Length of the name. */
  // @ts-ignore: decorator
  @inline export const NameLength: usize = 4;
  /** Address of the value, trimmed of spaces and tabs. */
  // @ts-ignore: decorator
  @inline export const ValuePtr: usize = 8;
  /** Length of the value. */
  // @ts-ignore: decorator
  @inline export const ValueLength: usize = 12;
}

/** A span field's length field follows its pointer field by this many bytes (`HandshakeField.*Ptr`). */
export const SPAN_LENGTH_OFFSET: i32 = 4;

/** Bytes of a Sec-WebSocket-Accept value (base64 of a 20-byte SHA-1 digest). */
export const ACCEPT_BYTES: u32 = 28;

/** Bytes of the fixed handshake result fields before the header table (see handshake.ts). */
export const HANDSHAKE_FIELDS_BYTES: i32 = 128;

/** Bytes of the result fields (see Result). */
export const RESULT_BYTES: i32 = 64;

/** Results of the last call, read by the host straight from memory (see Result). */
export const RESULT: usize = memory.data(RESULT_BYTES, 16);
/** Event records written by `feed` (see Event). */
export const EVENTS: usize = memory.data(EVENT_CAPACITY * EVENT_BYTES, 16);
/** Bytes to send produced by `feed` (pong and close replies). */
export const OUT: usize = memory.data(OUT_BYTES, 16);
/** Random bytes written by the host; consumed from the end, `Result.EntropyLeft` counts what is left. */
export const ENTROPY: usize = memory.data(ENTROPY_BYTES, 16);
/** Handshake parse results (see Handshake) followed by the header table. */
export const HANDSHAKE: usize = memory.data(HANDSHAKE_FIELDS_BYTES + MAX_HEADERS * HEADER_ENTRY_BYTES, 16);
/** The static pool for slots and I/O (empty in builds that place them above __heap_base). */
export const POOL: usize = memory.data(POOL_BYTES > 0 ? POOL_BYTES : 16, 16);

/** Offsets of the u32 fields in RESULT. */
export namespace Result {
  /** Bytes of input the last `feed` consumed. */
  // @ts-ignore: decorator
  @inline export const Consumed: i32 = 0;
  /** Events the last `feed` wrote at EVENTS. */
  // @ts-ignore: decorator
  @inline export const EventCount: i32 = 4;
  /** Bytes the last `feed` wrote at OUT for the host to send. */
  // @ts-ignore: decorator
  @inline export const OutLength: i32 = 8;
  /** Random bytes left in the pool (the host refills with `entropyFilled`). */
  // @ts-ignore: decorator
  @inline export const EntropyLeft: i32 = 12;
  /** Address of the first connection slot (after `init`). */
  // @ts-ignore: decorator
  @inline export const SlotsPtr: i32 = 16;
  /** Address of the I/O area (after `init`). */
  // @ts-ignore: decorator
  @inline export const IoPtr: i32 = 20;
  /** Size of the I/O area. */
  // @ts-ignore: decorator
  @inline export const IoBytes: i32 = 24;
  /** Bytes of memory `init` needs (set when it fails for lack of memory). */
  // @ts-ignore: decorator
  @inline export const RequiredBytes: i32 = 28;
  /** Slots `init` set up. */
  // @ts-ignore: decorator
  @inline export const MaxConnections: i32 = 32;
  /** Payload bytes of the frame whose header `nextFrame` wrote (low 32 bits of a u64 with FrameLengthHigh). */
  // @ts-ignore: decorator
  @inline export const FrameLength: i32 = 36;
  /** High 32 bits of that payload length (0 below 4 GiB). */
  // @ts-ignore: decorator
  @inline export const FrameLengthHigh: i32 = 40;
}

/** Indexes of `buildConstant(index)`: the build constants a host reads at load. */
export namespace BuildConstant {
  /** EVENT_CAPACITY. */
  // @ts-ignore: decorator
  @inline export const EventCapacity: u32 = 0;
  /** OUT_BYTES. */
  // @ts-ignore: decorator
  @inline export const OutBytes: u32 = 1;
  /** ENTROPY_BYTES. */
  // @ts-ignore: decorator
  @inline export const EntropyBytes: u32 = 2;
  /** MAX_HEADERS. */
  // @ts-ignore: decorator
  @inline export const MaxHeaders: u32 = 3;
  /** SLOT_BYTES. */
  // @ts-ignore: decorator
  @inline export const SlotBytes: u32 = 4;
  /** HTTP2. */
  // @ts-ignore: decorator
  @inline export const Http2: u32 = 5;
}

/** Read a u32 field of RESULT. */
// @ts-ignore: decorator
@inline export function result(field: i32): u32 {
  return load<u32>(RESULT + <usize>field);
}

/** Write a u32 field of RESULT. */
// @ts-ignore: decorator
@inline export function setResult(field: i32, value: u32): void {
  store<u32>(RESULT + <usize>field, value);
}
