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

describe.each(["simd", "mvp", "firmware"])("%s build module", (build) => {
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

describe.each(["mvp", "firmware"])("%s build budgets", (build) => {
  it("uses no SIMD instructions (WAMR on Xtensa has none)", () => {
    expect(disassemble(build)).not.toMatch(/v128|i8x16|i16x8|i32x4|i64x2|f32x4|f64x2/);
  });

  it("contains no memory.size, so WAMR shrinks its memory to __heap_base", () => {
    expect(disassemble(build)).not.toMatch(/memory\.size/);
  });

  it("is at most 16 KiB", () => {
    expect(wasm(build).length).toBeLessThanOrEqual(16 * 1024);
  });

  it("fits 4 connections with 1 KiB receive buffers in 16 KiB of linear memory, in its static pool", () => {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(wasm(build)), {});
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

describe("firmware build (the C host's: mvp without WebSockets over HTTP/2)", () => {
  const exports = (b: string) =>
    new WebAssembly.Instance(new WebAssembly.Module(wasm(b)), {}).exports as Record<string, unknown>;
  const heapBase = (b: string) => (exports(b).__heap_base as WebAssembly.Global).value as number;
  // The strings only RFC 8441 uses: the CONNECT header lines and pseudo-header names.
  const h2Strings = [":method: CONNECT", ":authority: ", ":status: ", "sec-websocket-version: 13\r\nsec-websocket-protocol"];
  const has = (b: string, text: string) => wasm(b).includes(Buffer.from(text, "latin1"));

  it("leaves out the RFC 8441 strings the mvp build carries, and their linear memory", () => {
    for (const text of h2Strings) {
      expect(has("mvp", text), text).toBe(true);
      expect(has("firmware", text), text).toBe(false);
    }
    // 187 bytes of strings, 40 of pseudo-header values, their alignment: 240 bytes less, rounded to 16.
    expect(heapBase("mvp") - heapBase("firmware")).toBeGreaterThanOrEqual(224);
  });

  it("keeps every export (one ABI), the three RFC 8441 ones answering CallError.NotBuilt", () => {
    const fw = exports("firmware") as Record<string, (...args: number[]) => number>;
    const mvp = exports("mvp") as Record<string, (...args: number[]) => number>;
    expect(fw.buildConstant(5)).toBe(0);
    expect(mvp.buildConstant(5)).toBe(1);
    const request = [":method: CONNECT", ":protocol: websocket", ":scheme: https", ":path: /", ":authority: a"];
    const lines = Buffer.from([...request, "sec-websocket-version: 13", "", ""].join("\r\n"), "latin1");
    for (const e of [fw, mvp])
      new Uint8Array((e.memory as unknown as WebAssembly.Memory).buffer).set(lines, e.handshakePtr() + 4096);
    expect(mvp.parseConnect(mvp.handshakePtr() + 4096, lines.length, 8192)).toBe(200);
    expect(fw.parseConnect(fw.handshakePtr() + 4096, lines.length, 8192)).toBe(-14);
    expect(fw.buildConnectRequest(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)).toBe(-14);
    expect(fw.parseConnectResponse(0, 0, 0, 0, 8192)).toBe(-14);
  });
});
