// Incremental UTF-8 validation (RFC 3629, as RFC 6455 §8.1 requires of text). The state carries an
// incomplete sequence across chunks and fragments; a byte that can start no valid continuation fails at
// once, so a bad message is rejected in the call that holds its first bad byte, not at its end.
//
// Three layers, all giving the same answer as `utf8StepReference` below:
// - a table DFA (Hoehrmann-style: byte class, then class x state), one byte at a time, with an ASCII
//   skip of 8 bytes per u64 load; this is all the `mvp` build has (WAMR's interpreter on ESP32);
// - in the `simd` build, Keiser & Lemire's "lookup" validator ("Validating UTF-8 In Less Than One
//   Instruction Per Byte", 2021, as in simdjson/simdutf) over whole 16-byte blocks, 64 bytes per ASCII
//   check; it starts only on a character boundary (the DFA finishes a sequence left open by the previous
//   call first) and the DFA re-reads the last character it saw, so the returned state is exact. Each block
//   after the first reads its 3 bytes of context with unaligned loads (nothing before the call's start is
//   read). Built a third time with relaxed SIMD (build/engine.relaxed.wasm, scripts/build.mjs), the three
//   table lookups are `i8x16.relaxed_swizzle`, one x86 `pshufb` instead of V8's `paddusb` + `pshufb`; the
//   bindings run that module as the simd build where the runtime validates it (Bun, Chromium, Node >= 22).

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

/** The definition the tables below encode, one readable branch per rule; slow, kept as the reference. */
export function utf8StepReference(state: u32, ptr: usize, len: usize): u32 {
  const end = ptr + len;
  while (ptr < end) {
    const b = <u32>load<u8>(ptr++);
    if (state == UTF8_ACCEPT) {
      if (b < 0x80) continue;
      state = leadState(b);
    } else {
      state = continuationState(state, b);
    }
    if (state == UTF8_REJECT) return state;
  }
  return state;
}

// The DFA is shift-based (after Per Vognsen's): state k lives at bit offset 6k, and the row of a byte
// class holds every state's next state in 6-bit fields, so a step is `state = row >> state`. The row load
// does not wait for the state, which leaves one shift on the critical path per byte instead of a
// dependent table load; wasm's shift count is mod 64, so the fields above need no mask until the end.
// Offsets: ACCEPT 0, error 6, then 6x the reference states above (12..48), which is what callers store.
const ERROR: u64 = 6;

// Byte class x 8 (a row's offset): 0 ASCII, 1 80-8F, 2 90-9F, 3 A0-BF, 4 never valid (C0 C1 F5-FF),
// 5 C2-DF, 6 E0, 7 E1-EC EE EF, 8 ED, 9 F0, 10 F1-F3, 11 F4.
const BYTE_CLASS = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
  16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
  24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
  24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
  32, 32, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40,
  40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40,
  48, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 64, 56, 56,
  72, 80, 80, 80, 88, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
]);

// Per class, the next state of each of the 9 states (reference transitions, generated and checked
// against `utf8StepReference` by test/assembly/utf8.test.ts through the exports).
const ROWS = memory.data<u64>([
  0x0006186186186180, // ASCII
  0x001218c192300186, // 80-8F
  0x000648c192300186, // 90-9F
  0x0006486312300186, // A0-BF
  0x0006186186186186, // never valid
  0x000618618618618c, // C2-DF
  0x000618618618619e, // E0
  0x0006186186186192, // E1-EC EE EF
  0x00061861861861a4, // ED
  0x00061861861861aa, // F0
  0x0006186186186198, // F1-F3
  0x00061861861861b0, // F4
]);

const HIGH_BITS: u64 = 0x8080808080808080;

// @ts-ignore: decorator
@inline function row(ptr: usize): u64 {
  return load<u64>(ROWS + <usize>load<u8>(BYTE_CLASS + <usize>load<u8>(ptr)));
}

/** The DFA over [ptr, end) from a DFA state (ACCEPT 0, error 6, 12..48); returns one, masked. */
function dfa(state: u64, ptr: usize, end: usize): u64 {
  while (ptr + 8 <= end) {
    if ((state & 63) == 0) {
      // Between characters: skip ASCII, 32 then 8 bytes per test.
      while (ptr + 32 <= end && ((load<u64>(ptr) | load<u64>(ptr, 8) | load<u64>(ptr, 16) | load<u64>(ptr, 24)) & HIGH_BITS) == 0) ptr += 32;
      if (ptr + 8 > end) break;
      if ((load<u64>(ptr) & HIGH_BITS) == 0) {
        ptr += 8;
        continue;
      }
    }
    state = row(ptr) >> state;
    state = row(ptr + 1) >> state;
    state = row(ptr + 2) >> state;
    state = row(ptr + 3) >> state;
    state = row(ptr + 4) >> state;
    state = row(ptr + 5) >> state;
    state = row(ptr + 6) >> state;
    state = row(ptr + 7) >> state;
    ptr += 8;
    if ((state & 63) == ERROR) return ERROR;
  }
  while (ptr < end) state = row(ptr++) >> state;
  return state & 63;
}

/** A caller's state (UTF8_ACCEPT, UTF8_REJECT or a partial 12..48) after the DFA over [ptr, end). */
// @ts-ignore: decorator
@inline function scalarStep(state: u32, ptr: usize, end: usize): u32 {
  if (state == UTF8_REJECT) return state;
  const next = dfa(<u64>state, ptr, end);
  return next == ERROR ? UTF8_REJECT : <u32>next;
}

/** Validate `len` bytes at `ptr` continuing from `state`; returns the new state (UTF8_REJECT on error). */
export function utf8Step(state: u32, ptr: usize, len: usize): u32 {
  const end = ptr + len;
  if (ASC_FEATURE_SIMD) {
    if (len < 32 || state == UTF8_REJECT) return scalarStep(state, ptr, end);
    // Finish the sequence the previous call left open, so that blocks start on a character boundary.
    let s = <u64>state;
    while ((s & 63) > ERROR) s = row(ptr++) >> s;
    s &= 63;
    if (s == ERROR) return UTF8_REJECT;
    if (!blocksValid(ptr, end)) return UTF8_REJECT;
    // Everything is valid; only whether the last character is complete remains.
    return scalarStep(UTF8_ACCEPT, lastCharStart(end), end);
  }
  return scalarStep(state, ptr, end);
}

/** Where the last character before `end` starts (or `end` when a 4-byte one ends there), for the DFA. */
// @ts-ignore: decorator
@inline function lastCharStart(end: usize): usize {
  if ((load<u8>(end - 1) & 0xc0) != 0x80) return end - 1;
  if ((load<u8>(end - 2) & 0xc0) != 0x80) return end - 2;
  if ((load<u8>(end - 3) & 0xc0) != 0x80) return end - 3;
  return end;
}

// Keiser & Lemire's error bits: which rule a (previous byte, byte) pair breaks, looked up by the high and
// low nibble of the previous byte and the high nibble of the byte; a pair is bad when all three agree.
const TOO_SHORT: u8 = 1 << 0; // lead then ASCII or lead
const TOO_LONG: u8 = 1 << 1; // ASCII then continuation
const OVERLONG_3: u8 = 1 << 2; // E0 80-9F
const TOO_LARGE: u8 = 1 << 3; // F4 90-BF, F5-FF then 90-BF
const SURROGATE: u8 = 1 << 4; // ED A0-BF
const OVERLONG_2: u8 = 1 << 5; // C0 C1
const TOO_LARGE_1000: u8 = 1 << 6; // F5-FF then 80-8F
const OVERLONG_4: u8 = 1 << 6; // F0 80-8F
const TWO_CONTS: u8 = 1 << 7; // continuation then continuation (fine only as a 3rd or 4th byte)
const CARRY: u8 = TOO_SHORT | TOO_LONG | TWO_CONTS;

/**
 * Whether [ptr, end) is valid UTF-8 apart from a possibly incomplete last character, given that `ptr` is
 * on a character boundary and at least 19 bytes long (so that the last, overlapping block's three bytes
 * of context lie after `ptr`).
 */
function blocksValid(ptr: usize, end: usize): bool {
  // The first block has nothing before it (a boundary: as if after ASCII); every later block reads the
  // three bytes before it with unaligned loads, which keeps V8's shuffle ports free for the table lookups.
  const first = v128.load(ptr);
  const zero = i8x16.splat(0);
  let error = blockErrors(
    first,
    i8x16.shuffle(zero, first, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30),
    i8x16.shuffle(zero, first, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29),
    i8x16.shuffle(zero, first, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28),
  );
  ptr += 16;
  while (ptr + 64 <= end) {
    if (i8x16.bitmask(v128.or(v128.or(v128.load(ptr), v128.load(ptr, 16)), v128.or(v128.load(ptr, 32), v128.load(ptr, 48)))) == 0) {
      // ASCII after a block ending inside a sequence is the only error an ASCII run can hold.
      error = v128.or(error, incomplete(v128.load(ptr - 16)));
      ptr += 64;
      while (
        ptr + 64 <= end &&
        i8x16.bitmask(v128.or(v128.or(v128.load(ptr), v128.load(ptr, 16)), v128.or(v128.load(ptr, 32), v128.load(ptr, 48)))) == 0
      )
        ptr += 64;
      continue;
    }
    // One block per iteration: V8 spills registers when four are written out.
    const stop = ptr + 64;
    do {
      error = v128.or(error, errorsAfter(ptr - 3));
      ptr += 16;
    } while (ptr < stop);
  }
  while (ptr + 16 <= end) {
    error = v128.or(error, errorsAfter(ptr - 3));
    ptr += 16;
  }
  // The last partial block: the 16 bytes ending at `end`, overlapping checked ones.
  if (ptr < end) error = v128.or(error, errorsAfter(end - 19));
  return !v128.any_true(error);
}

/** Non-zero lanes where the 16 bytes at `at + 3` (after the 3 at `at`) break a rule. */
// @ts-ignore: decorator
@inline function errorsAfter(at: usize): v128 {
  // Addressed from the lowest byte so that every load's offset folds into the x86 addressing mode.
  return blockErrors(v128.load(at, 3), v128.load(at, 2), v128.load(at, 1), v128.load(at));
}

/** Non-zero lanes where `block` breaks a rule, given the same block shifted by one, two and three bytes. */
// @ts-ignore: decorator
@inline function blockErrors(block: v128, prev1: v128, prev2: v128, prev3: v128): v128 {
  const low = i8x16.splat(0x0f);
  const byte1High = lookup(
    i8x16(
      TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
      TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
      TOO_SHORT | OVERLONG_2,
      TOO_SHORT,
      TOO_SHORT | OVERLONG_3 | SURROGATE,
      TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
    ),
    v128.and(i16x8.shr_u(prev1, 4), low),
  );
  const byte1Low = lookup(
    i8x16(
      CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
      CARRY | OVERLONG_2,
      CARRY,
      CARRY,
      CARRY | TOO_LARGE,
      CARRY | TOO_LARGE | TOO_LARGE_1000,
      CARRY | TOO_LARGE | TOO_LARGE_1000,
      CARRY | TOO_LARGE | TOO_LARGE_1000,
      CARRY | TOO_LARGE | TOO_LARGE_1000,
      CARRY | TOO_LARGE | TOO_LARGE_1000,
      CARRY | TOO_LARGE | TOO_LARGE_1000,
      CARRY | TOO_LARGE | TOO_LARGE_1000,
      CARRY | TOO_LARGE | TOO_LARGE_1000,
      CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
      CARRY | TOO_LARGE | TOO_LARGE_1000,
      CARRY | TOO_LARGE | TOO_LARGE_1000,
    ),
    v128.and(prev1, low),
  );
  const byte2High = lookup(
    i8x16(
      TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
      TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
      TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
      TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
      TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
      TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
    ),
    v128.and(i16x8.shr_u(block, 4), low),
  );
  const special = v128.and(v128.and(byte1High, byte1Low), byte2High);
  // A continuation two or three bytes after an E0-EF or F0-FF lead is required there, not TWO_CONTS.
  const third = i8x16.sub_sat_u(prev2, i8x16.splat(<i8>(0xe0 - 0x80)));
  const fourth = i8x16.sub_sat_u(prev3, i8x16.splat(<i8>(0xf0 - 0x80)));
  const must23 = v128.and(v128.or(third, fourth), i8x16.splat(<i8>0x80));
  return v128.xor(must23, special);
}

/**
 * `table[index]` per lane, for indices 0-15 only (where relaxed_swizzle is fully specified, so both
 * variants give the same result): one x86 `pshufb` where relaxed SIMD is enabled.
 */
// @ts-ignore: decorator
@inline function lookup(table: v128, index: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(table, index);
  return i8x16.swizzle(table, index);
}

/** Non-zero lanes when `block` ends inside a sequence (a lead in its last 1, 2 or 3 bytes wants more). */
// @ts-ignore: decorator
@inline function incomplete(block: v128): v128 {
  return i8x16.sub_sat_u(
    block,
    i8x16(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, <i8>(0xf0 - 1), <i8>(0xe0 - 1), <i8>(0xc0 - 1)),
  );
}
