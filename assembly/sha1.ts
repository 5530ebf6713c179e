// SHA-1 (FIPS 180-4), streaming over 64-byte blocks in static scratch. RFC 6455 §4.2.2 uses it only to
// prove the server read the key (Sec-WebSocket-Accept), not for security, so code size wins over speed.

/** H0-H4 as native u32s, then the 64-byte block, which the rounds reuse as their 16-word W ring. */
const STATE: usize = memory.data(20 + 64, 16);
const BLOCK: usize = STATE + 20;
let filled: u32 = 0;
let total: u64 = 0;

/** Start a new digest. */
export function sha1Start(): void {
  store<u32>(STATE, 0x67452301);
  store<u32>(STATE, 0xefcdab89, 4);
  store<u32>(STATE, 0x98badcfe, 8);
  store<u32>(STATE, 0x10325476, 12);
  store<u32>(STATE, 0xc3d2e1f0, 16);
  filled = 0;
  total = 0;
}

/** Hash `len` more bytes at `ptr`. */
export function sha1Update(ptr: usize, len: usize): void {
  total += len;
  for (let i: usize = 0; i < len; i++) {
    store<u8>(BLOCK + filled, load<u8>(ptr + i));
    if (++filled == 64) compress();
  }
}

/** Pad, and write the 20-byte digest at `dst`. */
export function sha1Finish(dst: usize): void {
  const bits = total << 3;
  store<u8>(BLOCK + filled++, 0x80);
  if (filled > 56) {
    memory.fill(BLOCK + filled, 0, 64 - filled);
    compress();
  }
  memory.fill(BLOCK + filled, 0, 56 - filled);
  store<u64>(BLOCK + 56, bswap<u64>(bits));
  compress();
  for (let i: usize = 0; i < 20; i += 4) store<u32>(dst + i, bswap<u32>(load<u32>(STATE + i)));
}

/** The SHA-1 of `len` bytes at `ptr`, written at `dst` (20 bytes). */
export function sha1Digest(ptr: usize, len: usize, dst: usize): void {
  sha1Start();
  sha1Update(ptr, len);
  sha1Finish(dst);
}

/** Run the 80 rounds over BLOCK and add the result into H. */
function compress(): void {
  let a = load<u32>(STATE);
  let b = load<u32>(STATE, 4);
  let c = load<u32>(STATE, 8);
  let d = load<u32>(STATE, 12);
  let e = load<u32>(STATE, 16);
  for (let t: u32 = 0; t < 80; t++) {
    const at = BLOCK + ((t & 15) << 2);
    let w: u32;
    if (t < 16) {
      w = bswap<u32>(load<u32>(at));
    } else {
      const i = t & 15;
      w = load<u32>(BLOCK + (((i + 13) & 15) << 2)) ^ load<u32>(BLOCK + (((i + 8) & 15) << 2));
      w = rotl<u32>(w ^ load<u32>(BLOCK + (((i + 2) & 15) << 2)) ^ load<u32>(at), 1);
    }
    store<u32>(at, w);
    let f: u32;
    let k: u32;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    const next = rotl<u32>(a, 5) + f + e + k + w;
    e = d;
    d = c;
    c = rotl<u32>(b, 30);
    b = a;
    a = next;
  }
  store<u32>(STATE, load<u32>(STATE) + a);
  store<u32>(STATE, load<u32>(STATE, 4) + b, 4);
  store<u32>(STATE, load<u32>(STATE, 8) + c, 8);
  store<u32>(STATE, load<u32>(STATE, 12) + d, 12);
  store<u32>(STATE, load<u32>(STATE, 16) + e, 16);
  filled = 0;
}
