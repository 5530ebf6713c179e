// UTF-8 validation (RFC 3629, RFC 6455 §8.1) on both builds: every DFA transition, the malformed sequences
// RFC 3629 §10 and Unicode's "well-formed" table name, each placed across the SIMD block boundaries, and
// inputs ending at the very end of memory so a read past them traps. Node's buffer.isUtf8 is the oracle.
import { isUtf8 } from "node:buffer";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileEngine } from "../../bindings/engine/engine.js";
import { loadEngine, type Build } from "./load.js";

const UTF8_ACCEPT = 0;
const UTF8_REJECT = 1;

/** Malformed sequences and the index of the first byte that can no longer be valid UTF-8. */
const malformed: [string, number[], number][] = [
  ["C0 80 (overlong NUL)", [0xc0, 0x80], 0],
  ["C1 BF (overlong)", [0xc1, 0xbf], 0],
  ["E0 80 80 (overlong)", [0xe0, 0x80, 0x80], 1],
  ["E0 9F BF (overlong)", [0xe0, 0x9f, 0xbf], 1],
  ["F0 80 80 80 (overlong)", [0xf0, 0x80, 0x80, 0x80], 1],
  ["F0 8F BF BF (overlong)", [0xf0, 0x8f, 0xbf, 0xbf], 1],
  ["ED A0 80 (U+D800)", [0xed, 0xa0, 0x80], 1],
  ["ED BF BF (U+DFFF)", [0xed, 0xbf, 0xbf], 1],
  ["ED A0 80 ED B0 80 (surrogate pair)", [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80], 1],
  ["F4 90 80 80 (U+110000)", [0xf4, 0x90, 0x80, 0x80], 1],
  ["F5 80 80 80", [0xf5, 0x80, 0x80, 0x80], 0],
  ["F8 88 80 80 80 (5 bytes)", [0xf8, 0x88, 0x80, 0x80, 0x80], 0],
  ["FE", [0xfe], 0],
  ["FF", [0xff], 0],
  ["lone 80", [0x80], 0],
  ["lone BF", [0xbf], 0],
  ["C2 then ASCII", [0xc2, 0x41], 1],
  ["E1 80 then ASCII", [0xe1, 0x80, 0x41], 2],
  ["F1 80 80 then lead", [0xf1, 0x80, 0x80, 0xc2], 3],
  ["two-byte then extra continuation", [0xc2, 0xa9, 0x80], 2],
  ["four-byte then extra continuation", [0xf0, 0x9f, 0x98, 0x80, 0x80], 4],
];

/** Valid sequences at the edges of each range. */
const wellFormed: [string, number[]][] = [
  ["U+0000", [0x00]],
  ["U+007F", [0x7f]],
  ["U+0080", [0xc2, 0x80]],
  ["U+07FF", [0xdf, 0xbf]],
  ["U+0800", [0xe0, 0xa0, 0x80]],
  ["U+D7FF", [0xed, 0x9f, 0xbf]],
  ["U+E000", [0xee, 0x80, 0x80]],
  ["U+FFFF", [0xef, 0xbf, 0xbf]],
  ["U+10000", [0xf0, 0x90, 0x80, 0x80]],
  ["U+10FFFF", [0xf4, 0x8f, 0xbf, 0xbf]],
];

/** Truncated sequences: valid so far, incomplete at the end. */
const truncated: number[][] = [[0xc2], [0xe0], [0xe0, 0xa0], [0xed, 0x9f], [0xf0], [0xf0, 0x90], [0xf4, 0x8f, 0xbf]];

const BOUNDARY_LENGTHS = [15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 79, 80, 127, 128, 129, 191, 192, 255, 256, 257];

/** Some completion (at most 3 bytes) makes `bytes` valid: the oracle for "not rejected yet". */
function validPrefix(bytes: number[]): boolean {
  const completions = [[], [0x80], [0x90], [0xa0], [0x80, 0x80], [0x90, 0x80], [0xa0, 0x80], [0x80, 0x80, 0x80], [0x90, 0x80, 0x80]];
  return completions.some((tail) => isUtf8(Uint8Array.from([...bytes, ...tail])));
}

/** Valid text of exactly `n` bytes: whole `char`s, padded with ASCII. */
function textOfLength(char: string, n: number): Buffer {
  const size = Buffer.byteLength(char);
  return Buffer.concat([Buffer.from(char.repeat(Math.floor(n / size))), Buffer.from("a".repeat(n % size))]);
}

describe.each<Build>(["simd", "relaxed", "mvp"])("%s build UTF-8", (build) => {
  const engine = loadEngine(build);
  const { exports: e } = engine;

  /** Validate `bytes` placed so that they end exactly at the end of memory. */
  function atEnd(bytes: Uint8Array | number[], state = UTF8_ACCEPT): number {
    const at = engine.tail + 65536 - bytes.length;
    engine.write(at, Uint8Array.from(bytes));
    return e.utf8Validate(state, at, bytes.length);
  }

  it("agrees with every reference transition: each reachable state followed by each byte", () => {
    const prefixes = [[], [0xc2], [0xe0], [0xe1], [0xed], [0xe1, 0x80], [0xf0], [0xf1], [0xf4], [0xf1, 0x80], [0xf1, 0x80, 0x80]];
    const failures: string[] = [];
    for (const prefix of prefixes) {
      const state = atEnd(prefix);
      if (state > 255) failures.push(`state ${state} does not fit a byte`);
      for (let b = 0; b < 256; b++) {
        const bytes = [...prefix, b];
        const want = isUtf8(Uint8Array.from(bytes)) ? "accept" : validPrefix(bytes) ? "partial" : "reject";
        for (const got of [atEnd([b], state), atEnd(bytes)]) {
          const kind = got === UTF8_ACCEPT ? "accept" : got === UTF8_REJECT ? "reject" : "partial";
          if (kind !== want) failures.push(`${bytes.map((x) => x.toString(16)).join(" ")}: ${kind}, want ${want}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("agrees with buffer.isUtf8 on every two-byte input", () => {
    const failures: string[] = [];
    const pair = new Uint8Array(2);
    for (let b = 0; b < 65536; b++) {
      pair[0] = b >> 8;
      pair[1] = b & 0xff;
      if ((atEnd(pair) === UTF8_ACCEPT) !== isUtf8(pair)) failures.push(b.toString(16));
    }
    expect(failures).toEqual([]);
  });

  it.each(malformed)("rejects %s, alone and after ASCII or mixed text of every block-edge length", (_, bytes) => {
    expect(atEnd(bytes)).toBe(UTF8_REJECT);
    for (const fill of ["a", "é", "中", "😀"]) {
      for (const len of BOUNDARY_LENGTHS) {
        for (const shift of [0, 1, 2, 3]) {
          const input = [...textOfLength(fill, len - shift), ...bytes, ...Buffer.from("tail text ".repeat(4))];
          expect(isUtf8(Uint8Array.from(input))).toBe(false);
          expect(atEnd(input), `${fill} x ${len} - ${shift}`).toBe(UTF8_REJECT);
        }
      }
    }
  });

  it.each(wellFormed)("accepts %s alone and at every position across the block edges", (_, bytes) => {
    expect(atEnd(bytes)).toBe(UTF8_ACCEPT);
    for (const len of BOUNDARY_LENGTHS) {
      const input = [...Buffer.from("x".repeat(len)), ...bytes, ...Buffer.from("y".repeat(len))];
      expect(atEnd(input), `after ${len}`).toBe(UTF8_ACCEPT);
    }
  });

  it("leaves a truncated sequence partial (not rejected) at the end of a call, whatever its length", () => {
    for (const bytes of truncated) {
      for (const len of [0, ...BOUNDARY_LENGTHS]) {
        const input = [...textOfLength("é", len), ...bytes];
        const state = atEnd(input);
        expect(state, `${bytes} after ${len}`).toBeGreaterThan(UTF8_REJECT);
        expect(state).toBeLessThan(256);
        expect(e.isUtf8(engine.tail + 65536 - input.length, input.length)).toBe(0);
      }
    }
  });

  it("rejects a truncated sequence followed by a run of ASCII long enough to be skipped 64 bytes at a time", () => {
    const failures: string[] = [];
    for (const bytes of truncated) {
      for (let len = 0; len <= 136; len++) {
        for (const run of [64, 65, 127, 128, 200]) {
          const input = [...textOfLength("é", len), ...bytes, ...Buffer.from("a".repeat(run))];
          if (atEnd(input) !== UTF8_REJECT) failures.push(`${bytes} after ${len}, then ${run} ASCII`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("continues a sequence left open by the previous call into a long call (the SIMD entry path)", () => {
    const text = Buffer.from("😀 Привет 中文 ".repeat(20));
    for (let split = 0; split <= 40; split++) {
      const state = atEnd(text.subarray(0, split));
      expect(state).not.toBe(UTF8_REJECT);
      expect(atEnd(text.subarray(split), state), `split ${split}`).toBe(UTF8_ACCEPT);
      const broken = Buffer.concat([text.subarray(split), Buffer.from([0xc0])]);
      expect(atEnd(broken, state)).toBe(UTF8_REJECT);
    }
  });

  it("stays rejected once rejected", () => {
    expect(atEnd(Buffer.from("valid text ".repeat(10)), UTF8_REJECT)).toBe(UTF8_REJECT);
    expect(atEnd([0x41], UTF8_REJECT)).toBe(UTF8_REJECT);
    expect(atEnd([], UTF8_REJECT)).toBe(UTF8_REJECT);
  });
});

describe("relaxed build (the simd build with relaxed SIMD, run in its place where it validates)", () => {
  const wasm = (build: Build) => new Uint8Array(readFileSync(new URL(`../../build/engine.${build}.wasm`, import.meta.url)));
  loadEngine("relaxed"); // turns relaxed SIMD on in Node 20's V8 for this file

  it("has the simd build's exports and build constants", () => {
    const shape = (build: Build) => {
      const module = new WebAssembly.Module(wasm(build));
      const e = new WebAssembly.Instance(module, {}).exports as Record<string, (index: number) => number>;
      const constants = [0, 1, 2, 3, 4, 5].map((i) => e.buildConstant(i));
      return { exports: WebAssembly.Module.exports(module), constants };
    };
    expect(shape("relaxed")).toEqual(shape("simd"));
  });

  it("is picked for `simd` when the runtime validates it, and not otherwise", () => {
    const [simd, mvp, relaxed] = [wasm("simd"), wasm("mvp"), wasm("relaxed")];
    const [plain, build] = compileEngine(simd, mvp, "simd");
    expect(build).toBe("simd");
    const [picked, pickedBuild] = compileEngine(simd, mvp, undefined, relaxed);
    expect(pickedBuild).toBe("simd");
    expect(picked).not.toBe(plain);
    expect(compileEngine(simd, mvp, undefined, relaxed)[0]).toBe(picked);
    const invalid = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff]);
    expect(compileEngine(simd, mvp, "simd", invalid)[0]).toBe(plain);
    expect(compileEngine(simd, mvp, "mvp", relaxed)[1]).toBe("mvp");
  });
});
