// The engine builds, embedded as base64 at build time so every runtime loads them without fs or fetch.
import { mvpBase64, relaxedBase64, simdBase64 } from "../../build/wasm.js";
import { compileEngine, Engine, type EngineBuild, type EngineOptions } from "./engine.js";

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

interface EngineBytes {
  simd: Uint8Array<ArrayBuffer>;
  mvp: Uint8Array<ArrayBuffer>;
  /** The simd build with relaxed SIMD, run in its place where the runtime validates it. */
  relaxed: Uint8Array<ArrayBuffer>;
}

let bytes: EngineBytes | undefined;

/** The raw module bytes of the builds. */
export function engineBytes(): EngineBytes {
  bytes ??= {
    simd: decodeBase64(simdBase64),
    mvp: decodeBase64(mvpBase64),
    relaxed: decodeBase64(relaxedBase64),
  };
  return bytes;
}

/** A new engine instance from the embedded builds (`simd` where supported unless `build` says otherwise). */
export function createEngine(options: EngineOptions = {}, build?: EngineBuild): Engine {
  const { simd, mvp, relaxed } = engineBytes();
  const [module, chosen] = compileEngine(simd, mvp, build, relaxed);
  return new Engine(module, chosen, options);
}
