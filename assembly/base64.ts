// Base64 (RFC 4648 §4: standard alphabet, `=` padding): encoding for Sec-WebSocket-Key and -Accept, and
// a validator for the key a client sends (RFC 6455 §4.2.1: base64 that decodes to 16 bytes).

/** "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" */
const ALPHABET = memory.data<u8>([
  65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 97, 98,
  99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121,
  122, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 43, 47,
]);
const PAD: u8 = 0x3d; // '='

/** Encode `len` bytes at `src` as padded base64 at `dst`; returns the characters written. */
export function base64Encode(src: usize, len: u32, dst: usize): u32 {
  let out = dst;
  for (let i: u32 = 0; i < len; i += 3) {
    const left = len - i;
    let group = <u32>load<u8>(src + i) << 16;
    if (left > 1) group |= <u32>load<u8>(src + i + 1) << 8;
    if (left > 2) group |= <u32>load<u8>(src + i + 2);
    store<u8>(out, load<u8>(ALPHABET + (group >> 18)));
    store<u8>(out, load<u8>(ALPHABET + ((group >> 12) & 63)), 1);
    store<u8>(out, left > 1 ? load<u8>(ALPHABET + ((group >> 6) & 63)) : PAD, 2);
    store<u8>(out, left > 2 ? load<u8>(ALPHABET + (group & 63)) : PAD, 3);
    out += 4;
  }
  return <u32>(out - dst);
}

/** True for a character of the base64 alphabet. */
function isBase64Char(c: u32): bool {
  return c - 0x41 < 26 || c - 0x61 < 26 || c - 0x30 < 10 || c == 0x2b || c == 0x2f;
}

/**
 * The number of bytes the padded base64 text at `src` decodes to, or -1 when it is not padded base64
 * (length not a multiple of 4, a character outside the alphabet, `=` other than at the end). As in ws and
 * python-websockets, the unused bits before the padding are not required to be zero.
 */
export function base64DecodedLength(src: usize, len: u32): i32 {
  if ((len & 3) != 0) return -1;
  let pad: u32 = 0;
  if (len > 0 && load<u8>(src + len - 1) == PAD) pad = load<u8>(src + len - 2) == PAD ? 2 : 1;
  for (let i: u32 = 0; i < len - pad; i++) {
    if (!isBase64Char(load<u8>(src + i))) return -1;
  }
  return <i32>((len >> 2) * 3 - pad);
}
