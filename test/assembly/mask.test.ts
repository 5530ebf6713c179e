// Masking (RFC 6455 §5.3) on both builds against a byte-at-a-time JS reference: every length through the
// SIMD, u64, u32 and byte paths, every key offset, every alignment, and continuation across chunks.
import { describe, expect, it } from "vitest";
import { loadEngine, type Build } from "./load.js";

const maskingKey = [0x37, 0xfa, 0x21, 0x3d];
const key = maskingKey[0] | (maskingKey[1] << 8) | (maskingKey[2] << 16) | ((maskingKey[3] << 24) >>> 0);

function masked(payload: Uint8Array, offset: number): Uint8Array {
  return payload.map((b, i) => b ^ maskingKey[(i + offset) & 3]);
}

function payloadOf(len: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 131 + len * 7 + 1) & 0xff);
}

describe.each<Build>(["simd", "mvp"])("%s build unmask", (build) => {
  const engine = loadEngine(build);
  const { exports: e } = engine;

  it("matches the reference at every length 0-300, key offset 0-3 and alignment 0-7, touching nothing else", () => {
    const failures: string[] = [];
    const guard = new Uint8Array(16).fill(0xee);
    for (let len = 0; len <= 300; len++) {
      const payload = payloadOf(len);
      for (let offset = 0; offset < 4; offset++) {
        const want = masked(payload, offset);
        for (let align = 0; align < 8; align++) {
          const at = engine.io + 16 + align;
          engine.write(at - 16, guard);
          engine.write(at, payload);
          engine.write(at + len, guard);
          e.unmask(at, len, key, offset);
          const got = engine.read(at - 16, len + 32);
          const same = got.every((b, i) => b === (i < 16 || i >= len + 16 ? 0xee : want[i - 16]));
          if (!same) failures.push(`len ${len} offset ${offset} align ${align}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("is its own inverse", () => {
    for (const len of [0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 100, 1000, 4000]) {
      const payload = payloadOf(len);
      engine.write(engine.io + 3, payload);
      e.unmask(engine.io + 3, len, key, 1);
      e.unmask(engine.io + 3, len, key, 1);
      expect(engine.read(engine.io + 3, len)).toEqual(payload);
    }
  });

  it("masks a payload split at every offset the same as in one piece, continuing the key offset", () => {
    const len = 200;
    const payload = payloadOf(len);
    for (let split = 0; split <= len; split++) {
      engine.write(engine.io, payload);
      e.unmask(engine.io, split, key, 2);
      e.unmask(engine.io + split, len - split, key, (2 + split) & 3);
      expect(engine.read(engine.io, len), `split ${split}`).toEqual(masked(payload, 2));
    }
  });

  it("reads and writes nothing past the end of memory", () => {
    for (const len of [1, 9, 17, 65, 1000]) {
      const at = engine.tail + 65536 - len;
      const payload = payloadOf(len);
      engine.write(at, payload);
      e.unmask(at, len, key, 3);
      expect(engine.read(at, len)).toEqual(masked(payload, 3));
    }
  });
});
