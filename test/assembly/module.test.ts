// What WAMR on an ESP32 and every other host require of the .wasm files, checked with wabt.
import { readFileSync } from "node:fs";
import wabtInit from "wabt";
import { beforeAll, describe, expect, it } from "vitest";

const wasm = (build: string) => readFileSync(new URL(`../../build/engine.${build}.wasm`, import.meta.url));
let wabt: Awaited<ReturnType<typeof wabtInit>>;
beforeAll(async () => {
  wabt = await wabtInit();
});

function disassemble(build: string): string {
  const module = wabt.readWasm(wasm(build), { readDebugNames: false, simd: true });
  return module.toText({ foldExprs: false, inlineExport: false });
}

describe.each(["simd", "mvp"])("%s build module", (build) => {
  it("has an empty import section", () => {
    const module = new WebAssembly.Module(wasm(build));
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    expect(disassemble(build)).not.toMatch(/\(import /);
  });

  it("never grows its memory from inside", () => {
    expect(disassemble(build)).not.toMatch(/memory\.grow/);
  });

  it("exports __heap_base and __data_end as immutable i32 globals", () => {
    const text = disassemble(build);
    for (const name of ["__heap_base", "__data_end"]) {
      const exported = text.match(new RegExp(`\\(export "${name}" \\(global (\\d+)\\)\\)`));
      expect(exported, name).not.toBeNull();
      const global = text.match(new RegExp(`\\(global \\(;${exported![1]};\\) (\\S+) `));
      expect(global![1], `${name} is immutable`).toBe("i32");
    }
  });

  it("exports __heap_base and __data_end equal and a multiple of 16, so WAMR shrinks its memory to them", () => {
    // WAMR's loader rounds __data_end up to 16 and shrinks linear memory only if it stays ≤ __heap_base.
    const e = new WebAssembly.Instance(new WebAssembly.Module(wasm(build)), {}).exports;
    const heapBase = (e.__heap_base as WebAssembly.Global).value as number;
    expect((e.__data_end as WebAssembly.Global).value).toBe(heapBase);
    expect(heapBase % 16).toBe(0);
  });

  it("has no start function (nothing runs at instantiation)", () => {
    expect(disassemble(build)).not.toMatch(/\(start /);
  });
});

describe("mvp build budgets", () => {
  it("uses no SIMD instructions (WAMR on Xtensa has none)", () => {
    expect(disassemble("mvp")).not.toMatch(/v128|i8x16|i16x8|i32x4|i64x2|f32x4|f64x2/);
  });

  it("contains no memory.size, so WAMR shrinks its memory to __heap_base", () => {
    expect(disassemble("mvp")).not.toMatch(/memory\.size/);
  });

  it("is at most 16 KiB", () => {
    expect(wasm("mvp").length).toBeLessThanOrEqual(16 * 1024);
  });

  it("fits 4 connections with 1 KiB receive buffers in 16 KiB of linear memory, in its static pool", () => {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(wasm("mvp")), {});
    const e = instance.exports as Record<string, unknown> & { memory: WebAssembly.Memory };
    const heapBase = (e.__heap_base as WebAssembly.Global).value as number;
    expect((e.init as (m: number, io: number) => number)(4, 4096)).toBe(0);
    const slots = new Uint32Array(e.memory.buffer)[((e.resultPtr as () => number)() >>> 2) + 4];
    expect(slots).toBeLessThan(heapBase);
    // WAMR shrinks linear memory to __heap_base rounded up to 4 KiB.
    expect(Math.ceil(heapBase / 4096) * 4096).toBeLessThanOrEqual(16 * 1024);
    expect((e.buildConstant as (i: number) => number)(4)).toBeLessThanOrEqual(512);
  });
});
