// Incremental UTF-8 validation (RFC 3629, as RFC 6455 §8.1 requires of text). The state carries an
// incomplete sequence across chunks and fragments; a byte that can start no valid continuation fails at
// once, so a bad message is rejected at its first bad byte, not at its end.

/** Between characters: everything so far was valid and complete. */
export const UTF8_ACCEPT: u32 = 0;
/** A byte that can never be part of valid UTF-8 was seen. */
export const UTF8_REJECT: u32 = 1;

// Inside a sequence: how many continuation bytes remain, and for the first one, its narrowed range.
const NEED1: u32 = 2;
const NEED2: u32 = 3;
const NEED3: u32 = 4;
/** After E0: A0-BF (no overlongs), then one more. */
const AFTER_E0: u32 = 5;
/** After ED: 80-9F (no surrogates), then one more. */
const AFTER_ED: u32 = 6;
/** After F0: 90-BF (no overlongs), then two more. */
const AFTER_F0: u32 = 7;
/** After F4: 80-8F (nothing above U+10FFFF), then two more. */
const AFTER_F4: u32 = 8;

function leadState(b: u32): u32 {
  if (b < 0xc2) return UTF8_REJECT;
  if (b < 0xe0) return NEED1;
  if (b == 0xe0) return AFTER_E0;
  if (b == 0xed) return AFTER_ED;
  if (b < 0xf0) return NEED2;
  if (b == 0xf0) return AFTER_F0;
  if (b < 0xf4) return NEED3;
  if (b == 0xf4) return AFTER_F4;
  return UTF8_REJECT;
}

function continuationState(state: u32, b: u32): u32 {
  let lo: u32 = 0x80;
  let hi: u32 = 0xbf;
  let next = state - 1;
  if (state == AFTER_E0) {
    lo = 0xa0;
    next = NEED1;
  } else if (state == AFTER_ED) {
    hi = 0x9f;
    next = NEED1;
  } else if (state == AFTER_F0) {
    lo = 0x90;
    next = NEED2;
  } else if (state == AFTER_F4) {
    hi = 0x8f;
    next = NEED2;
  }
  if (b < lo || b > hi) return UTF8_REJECT;
  return next == 1 ? UTF8_ACCEPT : next;
}

/** Validate `len` bytes at `ptr` continuing from `state`; returns the new state (UTF8_REJECT on error). */
export function utf8Step(state: u32, ptr: usize, len: usize): u32 {
  const end = ptr + len;
  while (ptr < end) {
    if (state == UTF8_ACCEPT) {
      while (ptr + 8 <= end && (load<u64>(ptr) & 0x8080808080808080) == 0) ptr += 8;
      if (ptr >= end) break;
      const b = <u32>load<u8>(ptr++);
      if (b < 0x80) continue;
      state = leadState(b);
      if (state == UTF8_REJECT) return state;
    } else {
      state = continuationState(state, <u32>load<u8>(ptr++));
      if (state == UTF8_REJECT) return state;
    }
  }
  return state;
}
