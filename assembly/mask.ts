// Masking (RFC 6455 §5.3): payload byte i is XORed with byte (i mod 4) of the masking key. The key is held as
// a little-endian u32, so byte j of the key is bits 8j..8j+7, and starting `offset` bytes into the key is a
// rotation; the same function unmasks.

/** XOR `len` bytes at `ptr` in place with `key`, starting `offset` (0-3) bytes into it. */
export function mask(ptr: usize, len: usize, key: u32, offset: u32): void {
  let k = rotr<u32>(key, (offset & 3) << 3);
  const end = ptr + len;
  if (ASC_FEATURE_SIMD) {
    // Unaligned v128 access costs nothing extra on the hosts that have SIMD, so no alignment prologue.
    const k128 = i32x4.splat(<i32>k);
    while (ptr + 64 <= end) {
      v128.store(ptr, v128.xor(v128.load(ptr), k128));
      v128.store(ptr, v128.xor(v128.load(ptr, 16), k128), 16);
      v128.store(ptr, v128.xor(v128.load(ptr, 32), k128), 32);
      v128.store(ptr, v128.xor(v128.load(ptr, 48), k128), 48);
      ptr += 64;
    }
    while (ptr + 16 <= end) {
      v128.store(ptr, v128.xor(v128.load(ptr), k128));
      ptr += 16;
    }
  } else if (len >= 64) {
    // WAMR on cores without unaligned loads (Xtensa) splits unaligned u64 access into bytes: align first.
    while (ptr & 7) {
      store<u8>(ptr, load<u8>(ptr) ^ <u8>k);
      k = rotr<u32>(k, 8);
      ptr++;
    }
  }
  const k64 = (<u64>k << 32) | <u64>k;
  if (!ASC_FEATURE_SIMD) {
    // Four words per iteration: an interpreter pays per loop trip, not per byte.
    while (ptr + 32 <= end) {
      store<u64>(ptr, load<u64>(ptr) ^ k64);
      store<u64>(ptr, load<u64>(ptr, 8) ^ k64, 8);
      store<u64>(ptr, load<u64>(ptr, 16) ^ k64, 16);
      store<u64>(ptr, load<u64>(ptr, 24) ^ k64, 24);
      ptr += 32;
    }
  }
  while (ptr + 8 <= end) {
    store<u64>(ptr, load<u64>(ptr) ^ k64);
    ptr += 8;
  }
  if (ptr + 4 <= end) {
    store<u32>(ptr, load<u32>(ptr) ^ k);
    ptr += 4;
  }
  while (ptr < end) {
    store<u8>(ptr, load<u8>(ptr) ^ <u8>k);
    k >>= 8;
    ptr++;
  }
}

/** The key to continue masking with after `len` more bytes from `offset`. */
// @ts-ignore: decorator
@inline export function nextOffset(offset: u32, len: u64): u32 {
  return <u32>((<u64>offset + len) & 3);
}
