// Frames parsed per second: small masked client frames arriving at a server, 64 KiB per read.
// One implementation per process (ws picks bufferutil at load), so bench/run.ts runs this once per impl:
//   npx tsx bench/frames.ts <wasm-simd|wasm-mvp|bindings-simd|ws|ws-js> <payloadBytes>
import { createRequire } from "node:module";
import { Role, WireConnection } from "../bindings/protocol/connection.js";
import { createEngine } from "../bindings/engine/embedded.js";
import { Result } from "../bindings/engine/engine.js";

const require = createRequire(import.meta.url);

/** A 64 KiB-ish buffer of masked binary frames with `payload` bytes each, and how many frames it holds. */
export function frameBuffer(payload: number, total = 65536): { bytes: Uint8Array; frames: number } {
  const header = payload < 126 ? 6 : 8;
  const size = header + payload;
  const frames = Math.max(1, Math.floor(total / size));
  const bytes = new Uint8Array(frames * size);
  for (let i = 0; i < frames; i++) {
    const at = i * size;
    bytes[at] = 0x82;
    if (payload < 126) bytes[at + 1] = 0x80 | payload;
    else bytes.set([0x80 | 126, payload >> 8, payload & 255], at + 1);
    bytes.set([1, 2, 3, 4], at + header - 4);
    for (let j = 0; j < payload; j++) bytes[at + header + j] = j ^ 0x55;
  }
  return { bytes, frames };
}

/** Feed the buffer repeatedly for about `ms` and return frames per second. */
function measure(feedOnce: () => void, frames: number, ms: number): number {
  for (let i = 0; i < 50; i++) feedOnce();
  let rounds = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 20; i++) feedOnce();
    rounds += 20;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return (rounds * frames) / (elapsed / 1000);
}

function wasmRaw(build: "simd" | "mvp", bytes: Uint8Array): () => void {
  // The mvp build keeps slots and I/O in its small static pool (as on a device): reads go through it in
  // pool-sized pieces.
  const engine = createEngine({ maxConnections: 1, ioBytes: build === "simd" ? 128 * 1024 : 4096 }, build);
  const e = engine.exports;
  e.open(0, Role.Server, 0, 2 ** 53);
  return () => {
    for (let offset = 0; offset < bytes.length; offset += engine.ioBytes) {
      const piece = bytes.subarray(offset, offset + engine.ioBytes);
      engine.u8.set(piece, engine.io);
      let done = 0;
      while (done < piece.length) {
        e.feed(0, engine.io + done, piece.length - done);
        done += engine.resultField(Result.Consumed);
      }
    }
  };
}

function bindings(bytes: Uint8Array): () => void {
  const engine = createEngine({ maxConnections: 1 }, "simd");
  let messages = 0;
  const conn = new WireConnection(
    { engine, slot: 0 },
    {
      message: () => void messages++,
      ping() {},
      pong() {},
      close() {},
      error: (e) => {
        throw e;
      },
      closed() {},
      write() {},
    },
    { role: Role.Server, maxPayload: 2 ** 53, alloc: (n) => Buffer.allocUnsafe(n) },
  );
  const buffer = Buffer.from(bytes);
  return () => conn.receive(buffer);
}

function wsReceiver(bytes: Uint8Array): () => void {
  const { Receiver } = require("ws") as {
    Receiver: new (o: object) => NodeJS.WritableStream & { on(e: string, f: () => void): void };
  };
  const receiver = new Receiver({ isServer: true, maxPayload: 0, binaryType: "nodebuffer" });
  receiver.on("message", () => {});
  const source = Buffer.from(bytes);
  // ws unmasks in place too, so each round gets a fresh copy, as a socket read would.
  return () => receiver.write(Buffer.from(source));
}

export function runFrames(impl: string, payload: number, ms = 1000): number {
  const { bytes, frames } = frameBuffer(payload);
  const feedOnce =
    impl === "wasm-simd" || impl === "wasm-mvp"
      ? wasmRaw(impl === "wasm-simd" ? "simd" : "mvp", bytes)
      : impl === "bindings-simd"
        ? bindings(bytes)
        : wsReceiver(bytes);
  return measure(feedOnce, frames, ms);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const [impl = "wasm-simd", payload = "16"] = process.argv.slice(2);
  console.log(
    JSON.stringify({ impl, payload: Number(payload), framesPerSecond: runFrames(impl, Number(payload)) }),
  );
}
