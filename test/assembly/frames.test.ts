// Every frame vector, for both builds: whole, split at every offset, and byte by byte.
import { describe, expect, it } from "vitest";
import { createEngine } from "../../bindings/engine/embedded.js";
import {
  bytesOf,
  expectedOf,
  loadVectors,
  runPieces,
  splitOffsets,
  type FrameVector,
} from "../support/vectors.js";

const vectors = loadVectors<FrameVector>("frames.json");

describe.each(["simd", "mvp"] as const)("frame vectors (%s build)", (build) => {
  const engine = createEngine({ maxConnections: 1, ioBytes: build === "simd" ? 192 * 1024 : 4096 }, build);

  it.each(vectors.map((v) => [v.name, v] as const))("%s", (_, vector) => {
    const input = bytesOf(vector.input);
    const expected = expectedOf(vector);
    const whole = runPieces(engine, vector, [input]);
    expect(whole.events).toEqual(expected);
    if (vector.reply !== undefined) expect(whole.reply).toBe(vector.reply);

    for (const at of splitOffsets(input.length)) {
      const split = runPieces(engine, vector, [input.subarray(0, at), input.subarray(at)]);
      expect(split.events, `split at ${at}`).toEqual(expected);
      if (vector.reply !== undefined) expect(split.reply, `split at ${at}`).toBe(vector.reply);
    }
    if (input.length <= 70_000) {
      const bytes = Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1));
      expect(runPieces(engine, vector, bytes).events, "byte by byte").toEqual(expected);
    }
    expect(runPieces(engine, vector, [input], "stream").events, "streamed fragments").toEqual(expected);
  });
});
