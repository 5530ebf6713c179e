// Micro benchmarks of the engine's two byte loops, unmasking (RFC 6455 §5.3) and UTF-8 validation
// (§8.1), for both builds beside what Node users run today: bufferutil's native unmask and ws's pure-JS
// loop, Node's buffer.isUtf8 (simdutf), utf-8-validate (native), ws's pure-JS validator and a fatal
// TextDecoder, with Buffer.copy of the same size as the physical limit. Each engine row is measured with
// the data already in Wasm memory, and again including the copy a host pays to get it there (and back,
// for unmask). Prints throughput and the ratios the targets name; `runMicro()` returns the rows.
//
//   taskset -c 1 npx tsx bench/micro.ts          (pinned to one core for stable numbers)
//   BENCH_MICRO_MS=100 npx tsx bench/micro.ts     (shorter: ms of samples per row, default 300)
//   BENCH_MICRO_OPS=utf8 taskset -c 1 npx bun bench/micro.ts   (UTF-8 rows only, on Bun)
import { isUtf8 } from "node:buffer";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { do_not_optimize, measure } from "mitata";

const require = createRequire(import.meta.url);

export type MicroOp = "unmask" | "utf8";
export type MicroInput = "random" | "ascii" | "mixed";

/** One measured implementation at one size. */
export interface MicroRow {
  op: MicroOp;
  input: MicroInput;
  size: number;
  impl: string;
  nsPerOp: number;
  gbPerSecond: number;
}

export interface MicroOptions {
  sizes?: number[];
  /** Milliseconds of samples per row (mitata's min_cpu_time). */
  ms?: number;
  /** Which loops to measure (default both). */
  ops?: MicroOp[];
}

export const MICRO_SIZES = [16, 125, 1024, 16 * 1024, 1024 * 1024];

type ByteLoop = (ptr: number, len: number, ...rest: number[]) => number;
interface Engine {
  build: "simd" | "relaxed" | "mvp";
  unmask: ByteLoop;
  isUtf8: ByteLoop;
  bytes: Uint8Array;
  /** A free, 64-byte aligned address above __heap_base with room for the largest input. */
  data: number;
}

/** Instantiate a build and grow its memory (from outside, as a Node host may) to hold the inputs. */
function loadEngine(build: "simd" | "relaxed" | "mvp", largest: number): Engine {
  const url = new URL(`../build/engine.${build}.wasm`, import.meta.url);
  const bytes = readFileSync(url);
  // `relaxed` (the simd build with relaxed SIMD): Node 20's V8 11.3 has it behind a flag; Bun validates it.
  if (build === "relaxed" && !WebAssembly.validate(bytes))
    setFlagsFromString("--experimental-wasm-relaxed-simd");
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  const e = instance.exports as Record<string, unknown>;
  const memory = e.memory as WebAssembly.Memory;
  const data = (((e.__heap_base as WebAssembly.Global).value as number) + 63) & ~63;
  const needed = data + largest + 64;
  if (needed > memory.buffer.byteLength) memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
  return {
    build,
    unmask: e.unmask as ByteLoop,
    isUtf8: e.isUtf8 as ByteLoop,
    bytes: new Uint8Array(memory.buffer),
    data,
  };
}

/** A fresh copy of a ws module with its native and built-in accelerations switched off. */
function wsPureJs<T>(file: string, hide: () => () => void): T {
  const path = join(dirname(require.resolve("ws")), "lib", file);
  const cached = require.cache[path];
  delete require.cache[path];
  const restore = hide();
  try {
    return require(path) as T;
  } finally {
    restore();
    if (cached) require.cache[path] = cached;
    else delete require.cache[path];
  }
}

function withEnv(name: string): () => () => void {
  return () => {
    const before = process.env[name];
    process.env[name] = "1";
    return () => {
      if (before === undefined) delete process.env[name];
      else process.env[name] = before;
    };
  };
}

/** ws's `_unmask` loop: ws uses it when bufferutil is absent (WS_NO_BUFFER_UTIL). */
const onBun = typeof Bun !== "undefined";

/** ws's pure-JS loops are loaded by swapping require.cache entries, which Bun's loader does not allow. */
const wsUnmask = onBun
  ? undefined
  : wsPureJs<{ unmask(buffer: Buffer, mask: Buffer): void }>("buffer-util.js", withEnv("WS_NO_BUFFER_UTIL"))
      .unmask;

/** ws's `_isValidUTF8` (Markus Kuhn's checker): what ws runs without buffer.isUtf8 and utf-8-validate. */
const wsIsValidUtf8 = onBun
  ? undefined
  : wsPureJs<{ isValidUTF8(buf: Buffer): boolean }>("validation.js", () => {
      const buffer = require("node:buffer") as { isUtf8?: unknown };
      const saved = buffer.isUtf8;
      buffer.isUtf8 = undefined;
      const restoreEnv = withEnv("WS_NO_UTF_8_VALIDATE")();
      return () => {
        buffer.isUtf8 = saved;
        restoreEnv();
      };
    }).isValidUTF8;

/** Load a package's native build or fail: a silent JS fallback would make the baseline meaningless. */
function native<T>(name: string): T {
  return require("node-gyp-build")(dirname(require.resolve(name))) as T;
}

const bufferutil = onBun ? undefined : native<{ unmask(buffer: Buffer, mask: Buffer): void }>("bufferutil");
const utf8Validate = onBun ? undefined : native<(buf: Buffer) => boolean>("utf-8-validate");

const MIXED =
  "Café déjà vu, naïve façade — Привет, как дела? Съешь ещё этих мягких булок. " +
  "你好，世界！日本語のテキストも少し。한국어도 조금 🙂🚀🎉 ";

/** Valid UTF-8 of exactly `size` bytes: the mixed-script text cut at a character boundary, padded with ASCII. */
function textOf(input: "ascii" | "mixed", size: number): Buffer {
  const out = Buffer.alloc(size, 0x20);
  if (input === "ascii") {
    for (let i = 0; i < size; i++) out[i] = 0x20 + ((i * 7) % 95);
    return out;
  }
  let at = 0;
  for (;;) {
    for (const ch of MIXED) {
      const n = Buffer.byteLength(ch);
      if (at + n > size) return out;
      out.write(ch, at);
      at += n;
    }
  }
}

async function nsPerOp(fn: () => unknown, ms: number): Promise<number> {
  const stats = await measure(fn, { min_cpu_time: ms * 1e6 });
  return stats.avg;
}

/** Every row, as { op, input, size, impl, nsPerOp, gbPerSecond }. */
export async function runMicro(options: MicroOptions = {}): Promise<MicroRow[]> {
  const sizes = options.sizes ?? MICRO_SIZES;
  const ms = options.ms ?? 300;
  const largest = Math.max(...sizes);
  const engines = [loadEngine("simd", largest), loadEngine("relaxed", largest), loadEngine("mvp", largest)];
  const ops = options.ops ?? ["unmask", "utf8"];
  const rows: MicroRow[] = [];
  const add = async (op: MicroOp, input: MicroInput, size: number, impl: string, fn: () => unknown) => {
    const ns = await nsPerOp(fn, ms);
    rows.push({ op, input, size, impl, nsPerOp: ns, gbPerSecond: size / ns });
  };

  for (const size of sizes) {
    if (ops.includes("unmask")) {
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i++) payload[i] = (i * 131 + 7) & 0xff;
      const out = Buffer.alloc(size);
      const maskingKey = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
      const key = maskingKey.readUInt32LE(0);
      for (const e of engines) {
        const { bytes, data, unmask } = e;
        bytes.set(payload, data);
        await add("unmask", "random", size, `${e.build}`, () => unmask(data, size, key, 0));
        await add("unmask", "random", size, `${e.build} +copy`, () => {
          bytes.set(payload, data);
          unmask(data, size, key, 0);
          out.set(bytes.subarray(data, data + size));
        });
      }
      if (bufferutil)
        await add("unmask", "random", size, "bufferutil", () => bufferutil.unmask(payload, maskingKey));
      if (wsUnmask) await add("unmask", "random", size, "ws-js", () => wsUnmask(payload, maskingKey));
      await add("unmask", "random", size, "Buffer.copy", () => payload.copy(out));
    }

    for (const input of ops.includes("utf8") ? (["ascii", "mixed"] as const) : []) {
      const text = textOf(input, size);
      if (!isUtf8(text)) throw new Error(`bench input ${input}/${size} is not valid UTF-8`);
      for (const e of engines) {
        const { bytes, data } = e;
        const valid = e.isUtf8;
        bytes.set(text, data);
        if (valid(data, size) !== 1) throw new Error(`${e.build} rejects the ${input} input of ${size} B`);
        await add("utf8", input, size, `${e.build}`, () => valid(data, size));
        await add("utf8", input, size, `${e.build} +copy`, () => {
          bytes.set(text, data);
          return valid(data, size);
        });
      }
      const decoder = new TextDecoder("utf-8", { fatal: true });
      await add("utf8", input, size, "buffer.isUtf8", () => isUtf8(text));
      if (utf8Validate) await add("utf8", input, size, "utf-8-validate", () => utf8Validate(text));
      if (wsIsValidUtf8) await add("utf8", input, size, "ws-js", () => wsIsValidUtf8(text));
      await add("utf8", input, size, "TextDecoder", () => do_not_optimize(decoder.decode(text)));
    }
  }
  return rows;
}

const sizeName = (n: number) => (n >= 1 << 20 ? `${n >> 20} MiB` : n >= 1024 ? `${n >> 10} KiB` : `${n} B`);
const rate = (r: MicroRow) =>
  r.gbPerSecond >= 0.1 ? `${r.gbPerSecond.toFixed(2)} GB/s` : `${r.nsPerOp.toFixed(0)} ns`;

function find(rows: MicroRow[], op: MicroOp, input: MicroInput, size: number, impl: string): MicroRow {
  const row = rows.find((r) => r.op === op && r.input === input && r.size === size && r.impl === impl);
  if (!row) throw new Error(`no row ${op}/${input}/${size}/${impl}`);
  return row;
}

/** One table per (op, input): implementations down, sizes across. */
function printThroughput(rows: MicroRow[], sizes: number[]): void {
  const groups = [...new Set(rows.map((r) => `${r.op}/${r.input}`))];
  for (const group of groups) {
    const [op, input] = group.split("/") as [MicroOp, MicroInput];
    const impls = [...new Set(rows.filter((r) => r.op === op && r.input === input).map((r) => r.impl))];
    console.log(`\n## ${op === "unmask" ? "unmask" : "UTF-8 validation"}, ${input} bytes (GB/s, or ns/op)\n`);
    console.log(`| impl | ${sizes.map(sizeName).join(" | ")} |`);
    console.log(`| --- | ${sizes.map(() => "---:").join(" | ")} |`);
    for (const impl of impls) {
      const cells = sizes.map((s) => rate(find(rows, op, input, s, impl)));
      console.log(`| ${impl} | ${cells.join(" | ")} |`);
    }
  }
}

/** The ratios the targets name, as (baseline time / engine time): above 1 means the engine is faster. */
function printRatios(rows: MicroRow[], sizes: number[]): void {
  const ratio = (op: MicroOp, input: MicroInput, size: number, impl: string, baseline: string) =>
    find(rows, op, input, size, baseline).nsPerOp / find(rows, op, input, size, impl).nsPerOp;
  const lines: [string, MicroOp, MicroInput, string, string, string][] = [
    ["simd / bufferutil unmask", "unmask", "random", "simd", "bufferutil", "≥ 1.5 from 1 KiB"],
    ["simd / buffer.isUtf8, ASCII", "utf8", "ascii", "simd", "buffer.isUtf8", "≥ 2 ≤125 B, ≥ 0.8 16 KiB"],
    ["simd / buffer.isUtf8, mixed", "utf8", "mixed", "simd", "buffer.isUtf8", "≥ 2 ≤125 B, ≥ 0.8 16 KiB"],
    ["relaxed / buffer.isUtf8, ASCII", "utf8", "ascii", "relaxed", "buffer.isUtf8", "(relaxed SIMD)"],
    ["relaxed / buffer.isUtf8, mixed", "utf8", "mixed", "relaxed", "buffer.isUtf8", "(relaxed SIMD)"],
    ["mvp / ws-js UTF-8, ASCII", "utf8", "ascii", "mvp", "ws-js", "≥ 10 at 16 KiB"],
    ["mvp / ws-js UTF-8, mixed", "utf8", "mixed", "mvp", "ws-js", "≥ 10 at 16 KiB"],
    ["simd +copy / buffer.isUtf8, mixed", "utf8", "mixed", "simd +copy", "buffer.isUtf8", ""],
    ["simd +copy / bufferutil unmask", "unmask", "random", "simd +copy", "bufferutil", ""],
  ];
  console.log(`\n## Ratios (baseline time / engine time; > 1: engine faster)\n`);
  console.log(`| ratio | ${sizes.map(sizeName).join(" | ")} | target |`);
  console.log(`| --- | ${sizes.map(() => "---:").join(" | ")} | --- |`);
  for (const [name, op, input, impl, baseline, target] of lines) {
    const has = (name: string) => rows.some((r) => r.op === op && r.input === input && r.impl === name);
    if (!has(impl) || !has(baseline)) continue;
    const cells = sizes.map((s) => `${ratio(op, input, s, impl, baseline).toFixed(2)}×`);
    console.log(`| ${name} | ${cells.join(" | ")} | ${target} |`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ms = Number(process.env.BENCH_MICRO_MS ?? 300);
  const started = performance.now();
  const ops = (process.env.BENCH_MICRO_OPS?.split(",") as MicroOp[] | undefined) ?? ["unmask", "utf8"];
  const rows = await runMicro({ ms, ops });
  const runtime = onBun ? `bun ${Bun.version}` : `node ${process.version}`;
  console.log(`# Micro benchmarks (${runtime}, ${ms} ms per row, data in Wasm memory unless +copy)`);
  printThroughput(rows, MICRO_SIZES);
  printRatios(rows, MICRO_SIZES);
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s)`);
}
