// A raw engine instance for engine tests: build/engine.<build>.wasm instantiated directly (no bindings),
// with one connection slot, its I/O area, and a spare 64 KiB page at the very end of memory where an input
// can sit so that any read past it traps.
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";

/** `relaxed` is the simd build with relaxed SIMD, which the bindings run in its place where it validates. */
export type Build = "simd" | "relaxed" | "mvp";

/** The engine's numbers-only exports. */
export type RawExports = { memory: WebAssembly.Memory } & Record<string, (...args: number[]) => number>;

export interface RawEngine {
  exports: RawExports;
  memory: WebAssembly.Memory;
  /** Address and size of the I/O area from `init`. */
  io: number;
  ioBytes: number;
  /** Address of the spare last page (64 KiB up to the end of memory). */
  tail: number;
  /** Copy `bytes` into memory at `at`. */
  write(at: number, bytes: Uint8Array): void;
  /** Read `len` bytes at `at`. */
  read(at: number, len: number): Uint8Array;
  /** Read the u32 at `at`. */
  u32(at: number): number;
  /** Put `bytes` in the entropy pool (at its start) and announce them. */
  fillEntropy(bytes: Uint8Array): void;
}

/** Instantiate a fresh engine of `build` with one connection slot. */
export function loadEngine(build: Build): RawEngine {
  const bytes = readFileSync(new URL(`../../build/engine.${build}.wasm`, import.meta.url));
  // Node 20's V8 (11.3) has relaxed SIMD behind a flag; later V8, JSC and Chromium validate it as is.
  if (build === "relaxed" && !WebAssembly.validate(bytes)) setFlagsFromString("--experimental-wasm-relaxed-simd");
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  const e = instance.exports as unknown as RawExports;
  const memory = e.memory;
  const ioBytes = build === "mvp" ? 4096 : 65536;
  if (build !== "mvp") {
    const needed = e.memoryNeeded(1, ioBytes);
    const have = memory.buffer.byteLength;
    if (needed > have) memory.grow(Math.ceil((needed - have) / 65536));
  }
  if (e.init(1, ioBytes) !== 0) throw new Error(`init failed for ${build}`);
  memory.grow(1);
  const u32 = (at: number) => new DataView(memory.buffer).getUint32(at, true);
  const engine: RawEngine = {
    exports: e,
    memory,
    io: u32(e.resultPtr() + 20),
    ioBytes,
    tail: memory.buffer.byteLength - 65536,
    write: (at, data) => new Uint8Array(memory.buffer).set(data, at),
    read: (at, len) => new Uint8Array(memory.buffer).slice(at, at + len),
    u32,
    fillEntropy(data) {
      new Uint8Array(memory.buffer).set(data, e.entropyPtr());
      e.entropyFilled(data.length);
    },
  };
  return engine;
}
