// Loads the engine from bytes (no fs, no fetch: any runtime) and keeps typed views on its memory.
import { BuildConstant, Result as ResultBytes, type EngineExports } from "./abi.js";
import { defaults } from "../policies/config.js";
import { check } from "./errors.js";

/** The engine's numbers-only exports (assembly/index.ts), generated. */
export type { EngineExports } from "./abi.js";

/** Which build runs: `simd` where the runtime validates Wasm SIMD, else `mvp`. */
export type EngineBuild = "simd" | "mvp";

/** Sizes of the engine's slot table and I/O area. */
export interface EngineOptions {
  /** Connection slots in this instance (default: `defaults.engine[build]`). */
  maxConnections?: number;
  /** Bytes of the I/O area the host reads into and writes frames from (default: `defaults.engine[build]`). */
  ioBytes?: number;
}

/** Offsets of the u32 result fields (assembly/layout.ts Result), in u32 units. */
export const Result = Object.fromEntries(
  Object.entries(ResultBytes).map(([name, offset]) => [name, offset >>> 2]),
) as { readonly [K in keyof typeof ResultBytes]: number };

/** One instance of the engine with its memory views. Views stay valid: memory never grows after init. */
export class Engine {
  /** The build this instance runs. */
  readonly build: EngineBuild;
  /** The raw exports. */
  readonly exports: EngineExports;
  /** Linear memory as bytes. */
  readonly u8: Uint8Array;
  /** Linear memory as u32 words (for result fields and event records). */
  readonly u32: Uint32Array;
  /** u32 index of the result fields. */
  readonly result: number;
  /** Address of the event records. */
  readonly events: number;
  /** Address of the replies `feed` produces. */
  readonly out: number;
  /** Address and size of the entropy pool. */
  readonly entropy: number;
  readonly entropyBytes: number;
  /** Address of the handshake results. */
  readonly handshake: number;
  /** Address and size of the I/O area. */
  readonly io: number;
  readonly ioBytes: number;
  /** Slots in this instance. */
  readonly maxConnections: number;

  constructor(module: WebAssembly.Module, build: EngineBuild, options: EngineOptions = {}) {
    this.build = build;
    this.exports = new WebAssembly.Instance(module, {}).exports as unknown as EngineExports;
    const e = this.exports;
    const maxConnections = options.maxConnections ?? defaults.engine[build].maxConnections;
    const ioBytes = options.ioBytes ?? defaults.engine[build].ioBytes;
    const needed = e.memoryNeeded(maxConnections, ioBytes);
    const have = e.memory.buffer.byteLength;
    if (needed > have) e.memory.grow(Math.ceil((needed - have) / 65536));
    check(e.init(maxConnections, ioBytes), `init(${maxConnections} connections, ${ioBytes} bytes of I/O)`);
    this.u8 = new Uint8Array(e.memory.buffer);
    this.u32 = new Uint32Array(e.memory.buffer);
    this.result = e.resultPtr() >>> 2;
    this.events = e.eventsPtr();
    this.out = e.outPtr();
    this.entropy = e.entropyPtr();
    this.entropyBytes = e.buildConstant(BuildConstant.EntropyBytes);
    this.handshake = e.handshakePtr();
    this.io = this.u32[this.result + Result.IoPtr];
    this.ioBytes = this.u32[this.result + Result.IoBytes];
    this.maxConnections = maxConnections;
    this.refillEntropy();
  }

  /** Read a result field of the last call. */
  resultField(field: number): number {
    return this.u32[this.result + field];
  }

  /** Top the entropy pool up from the runtime's CSPRNG when it runs low. */
  refillEntropy(): void {
    if (this.u32[this.result + Result.EntropyLeft] >= this.entropyBytes >>> 1) return;
    crypto.getRandomValues(this.u8.subarray(this.entropy, this.entropy + this.entropyBytes));
    this.exports.entropyFilled(this.entropyBytes);
  }
}

const compiled = new Map<EngineBuild | "relaxed", WebAssembly.Module>();

/**
 * Compile (once per build) and pick the build: `simd` if this runtime validates it. When it does and
 * `relaxed` (the simd build with relaxed SIMD: UTF-8 table lookups as one x86 `pshufb`) validates too, that
 * module runs as the `simd` build; it has the same ABI, sizes and results.
 */
export function compileEngine(
  simd: Uint8Array<ArrayBuffer>,
  mvp: Uint8Array<ArrayBuffer>,
  prefer?: EngineBuild,
  relaxed?: Uint8Array<ArrayBuffer>,
): [WebAssembly.Module, EngineBuild] {
  const build: EngineBuild = prefer ?? (WebAssembly.validate(simd) ? "simd" : "mvp");
  const variant = build === "simd" && relaxed && WebAssembly.validate(relaxed) ? "relaxed" : build;
  let module = compiled.get(variant);
  if (!module) {
    module = new WebAssembly.Module(variant === "relaxed" ? relaxed! : build === "simd" ? simd : mvp);
    compiled.set(variant, module);
  }
  return [module, build];
}
