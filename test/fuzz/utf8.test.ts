// Property tests of UTF-8 validation on both builds: agreement with Node's buffer.isUtf8 (simdutf) on
// random bytes, mixed-script text, corrupted text and lengths at the SIMD block edges; and incrementality:
// split at every offset, fed byte by byte or in random pieces, the state is ACCEPT at the end iff the whole
// is valid, and turns REJECT exactly in the call holding the first bad byte, never earlier.
import { isUtf8 } from "node:buffer";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadEngine, type Build } from "../assembly/load.js";

const UTF8_ACCEPT = 0;
const UTF8_REJECT = 1;
const NUM_RUNS = 300;

/**
 * Index of the first byte after which no continuation can make `bytes` valid UTF-8 (RFC 3629 §4's
 * table, read one byte at a time), -1 if there is none; and whether it ends between characters.
 */
function firstBadByte(bytes: Uint8Array): { index: number; complete: boolean } {
  let need = 0;
  let lo = 0x80;
  let hi = 0xbf;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (need > 0) {
      if (b < lo || b > hi) return { index: i, complete: false };
      need--;
      lo = 0x80;
      hi = 0xbf;
      continue;
    }
    if (b < 0x80) continue;
    if (b < 0xc2 || b > 0xf4) return { index: i, complete: false };
    need = b < 0xe0 ? 1 : b < 0xf0 ? 2 : 3;
    if (b === 0xe0) lo = 0xa0;
    else if (b === 0xed) hi = 0x9f;
    else if (b === 0xf0) lo = 0x90;
    else if (b === 0xf4) hi = 0x8f;
  }
  return { index: -1, complete: need === 0 };
}

const codePoint = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.integer({ min: 0xa0, max: 0xff }), // Latin-1 accents
  fc.integer({ min: 0x400, max: 0x4ff }), // Cyrillic
  fc.integer({ min: 0x4e00, max: 0x9fff }), // CJK
  fc.integer({ min: 0x1f300, max: 0x1faff }), // emoji
  fc.constantFrom(0, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff),
  fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff),
);
const text = fc
  .array(codePoint, { maxLength: 120 })
  .map((cps) => new Uint8Array(Buffer.from(String.fromCodePoint(...cps))));

const adversarial = fc.constantFrom(
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xed, 0xa0],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xe0, 0x9f, 0xbf],
  [0xf0, 0x80, 0x80, 0x80],
  [0xf0, 0x8f, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff],
  [0x80],
  [0xbf],
  [0xc2],
  [0xe1, 0x80],
  [0xf1, 0x80, 0x80],
);
/** Valid text with malformed sequences inserted or bytes overwritten, sometimes truncated. */
const corrupted = fc
  .tuple(
    text,
    fc.array(fc.tuple(fc.nat(), adversarial), { minLength: 1, maxLength: 3 }),
    fc.nat(),
    fc.boolean(),
  )
  .map(([valid, inserts, cut, truncate]) => {
    let bytes = [...valid];
    for (const [at, seq] of inserts) bytes.splice(at % (bytes.length + 1), 0, ...seq);
    if (truncate) bytes = bytes.slice(0, cut % (bytes.length + 1));
    return new Uint8Array(bytes);
  });
const highBytes = fc.uint8Array({ maxLength: 300 }).map((a) => a.map((b) => b | (b & 1 ? 0x80 : 0)));
const BLOCK_EDGES = [
  15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256, 257,
];
/** Text (valid or corrupted) cut or padded with ASCII to a length at a SIMD block edge. */
const atBlockEdge = fc
  .tuple(fc.oneof(text, corrupted), fc.constantFrom(...BLOCK_EDGES), fc.nat(8))
  .map(([bytes, len, lead]) => {
    const out = new Uint8Array(len + lead).fill(0x61);
    out.set(bytes.subarray(0, len), lead);
    return out;
  });
/** Input followed by a long ASCII run, which the SIMD path skips 64 bytes at a time. */
const thenAscii = fc
  .tuple(fc.oneof(text, corrupted), fc.integer({ min: 60, max: 200 }))
  .map(([bytes, run]) => new Uint8Array([...bytes, ...new Uint8Array(run).fill(0x20)]));
const anyInput = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  highBytes,
  text,
  corrupted,
  atBlockEdge,
  thenAscii,
);

/** Longer text alternating ASCII runs (some long enough to be skipped 64 bytes at a time) with script runs. */
const runs = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 200 }).map((n) => new Uint8Array(n).fill(0x61)),
      fc.oneof(text, text, corrupted),
    ),
    { minLength: 1, maxLength: 24 },
  )
  .map((parts) => new Uint8Array(parts.flatMap((part) => [...part])));

describe.each<Build>(["simd", "relaxed", "mvp"])("%s build UTF-8 properties", (build) => {
  const engine = loadEngine(build);
  const { exports: e } = engine;
  const end = engine.tail + 65536;

  /** Continue from `state` over `bytes`, placed to end at the end of memory (a read past them traps). */
  const step = (state: number, bytes: Uint8Array) => {
    engine.write(end - bytes.length, bytes);
    return e.utf8Validate(state, end - bytes.length, bytes.length);
  };

  /** Feed `bytes` in pieces ending at `cuts`; check every state against the reference. */
  function feedChecked(bytes: Uint8Array, cuts: number[]): void {
    const { index } = firstBadByte(bytes);
    let state = UTF8_ACCEPT;
    let from = 0;
    for (const to of [...cuts, bytes.length]) {
      state = step(state, bytes.subarray(from, to));
      if (index >= 0 && index < to) {
        expect(state, `rejected in the piece ${from}..${to} holding byte ${index}`).toBe(UTF8_REJECT);
        return;
      }
      expect(state, `not rejected before byte ${index} (piece ${from}..${to})`).not.toBe(UTF8_REJECT);
      expect(state === UTF8_ACCEPT, `ACCEPT at ${to} iff between characters`).toBe(
        firstBadByte(bytes.subarray(0, to)).complete,
      );
      expect(state).toBeLessThan(256);
      from = to;
    }
    expect(state === UTF8_ACCEPT).toBe(isUtf8(bytes));
  }

  it("agrees with buffer.isUtf8, at any alignment", () => {
    fc.assert(
      fc.property(anyInput, fc.nat(15), (bytes, align) => {
        const want = isUtf8(bytes) ? 1 : 0;
        expect(step(UTF8_ACCEPT, bytes) === UTF8_ACCEPT ? 1 : 0).toBe(want);
        engine.write(engine.io + align, bytes);
        expect(e.isUtf8(engine.io + align, bytes.length)).toBe(want);
      }),
      { numRuns: NUM_RUNS * 3 },
    );
  });

  it("the reference decoder agrees with buffer.isUtf8", () => {
    fc.assert(
      fc.property(anyInput, (bytes) => {
        const { index, complete } = firstBadByte(bytes);
        expect(index < 0 && complete).toBe(isUtf8(bytes));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("split into two at every offset: rejects in the piece holding the first bad byte, accepts iff valid", () => {
    fc.assert(
      fc.property(anyInput, (bytes) => {
        for (let cut = 0; cut <= bytes.length; cut++) feedChecked(bytes, [cut]);
      }),
      { numRuns: NUM_RUNS / 3 },
    );
  });

  it("fed byte by byte: rejects at the first bad byte exactly", () => {
    fc.assert(
      fc.property(anyInput, (bytes) => {
        feedChecked(
          bytes,
          Array.from({ length: bytes.length }, (_, i) => i),
        );
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("long mixed-script texts in random pieces: every state equals the scalar DFA's (mvp) and the reference", () => {
    const scalar = build === "mvp" ? undefined : loadEngine("mvp");
    fc.assert(
      fc.property(runs, fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const offsets = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        feedChecked(bytes, offsets);
        if (!scalar) return;
        const at = scalar.tail;
        scalar.write(at, bytes);
        let mine = UTF8_ACCEPT;
        let theirs = UTF8_ACCEPT;
        let from = 0;
        for (const to of [...offsets, bytes.length]) {
          mine = step(mine, bytes.subarray(from, to));
          theirs = scalar.exports.utf8Validate(theirs, at + from, to - from);
          expect(mine, `piece ${from}..${to}`).toBe(theirs);
          from = to;
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("reads nothing before the input: any bytes there leave the answer unchanged", () => {
    fc.assert(
      fc.property(
        fc.oneof(runs, anyInput),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (bytes, before) => {
          const at = engine.io + 16;
          const want = isUtf8(bytes) ? UTF8_ACCEPT : null;
          engine.write(at - 16, before);
          engine.write(at, bytes);
          const got = e.utf8Validate(UTF8_ACCEPT, at, bytes.length);
          if (want === UTF8_ACCEPT) expect(got).toBe(UTF8_ACCEPT);
          else expect(got === UTF8_ACCEPT).toBe(false);
          expect(e.isUtf8(at, bytes.length)).toBe(isUtf8(bytes) ? 1 : 0);
        },
      ),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it("fed in random pieces (long ones take the SIMD path after a partial sequence)", () => {
    fc.assert(
      fc.property(anyInput, fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const offsets = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        feedChecked(bytes, offsets);
      }),
      { numRuns: NUM_RUNS * 3 },
    );
  });
});
