// The engine self-test: the shared frame vectors (test/vectors/frames.json, inlined by
// scripts/build-page.mjs) run through WireConnection in this browser, for both builds, the way
// test/assembly/frames.test.ts runs them in Node: whole, split at every offset, byte by byte, streamed.
import { defaults } from "../../../bindings/policies/config.js";
import { createEngine } from "../../../bindings/engine/embedded.js";
import type { Engine, EngineBuild } from "../../../bindings/engine/engine.js";
import {
  bytesOf,
  expectedOf,
  runPieces,
  splitOffsets,
  type FrameVector,
} from "../../../test/vectors/frame-vectors.js";

export type { FrameVector };

/** The outcome for one build. */
export interface SelfTestResult {
  build: EngineBuild;
  passed: number;
  failed: number;
  /** Feeds made (every split and byte-by-byte run counts once). */
  runs: number;
  /** "vector name: what differed" for each failure. */
  failures: string[];
  milliseconds: number;
}

/** The first way `vector` fails on `engine`, or null when every split passes. */
function check(engine: Engine, vector: FrameVector): { failure: string | null; runs: number } {
  const input = bytesOf(vector.input);
  const expected = JSON.stringify(expectedOf(vector));
  let runs = 0;
  const verify = (label: string, pieces: Uint8Array[], fragments: "message" | "stream" = "message") => {
    runs++;
    const got = runPieces(engine, vector, pieces, fragments);
    const events = JSON.stringify(got.events);
    if (events !== expected) return `${label}: events ${events.slice(0, 200)}`;
    if (fragments === "message" && vector.reply !== undefined && got.reply !== vector.reply) {
      return `${label}: reply ${got.reply.slice(0, 80)}`;
    }
    return null;
  };
  let failure = verify("whole", [input]);
  for (const at of failure ? [] : splitOffsets(input.length)) {
    failure = verify(`split at ${at}`, [input.subarray(0, at), input.subarray(at)]);
    if (failure) break;
  }
  if (!failure && input.length <= 70_000) {
    const bytes = Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1));
    failure = verify("byte by byte", bytes);
  }
  failure ??= verify("streamed fragments", [input], "stream");
  return { failure, runs };
}

/** Run every vector on one build, yielding to the page between vectors. */
export async function selfTest(
  vectors: FrameVector[],
  build: EngineBuild,
  progress?: (done: number) => void,
): Promise<SelfTestResult> {
  const started = performance.now();
  const engine = createEngine({ maxConnections: 1, ioBytes: defaults.engine[build].ioBytes }, build);
  const result: SelfTestResult = { build, passed: 0, failed: 0, runs: 0, failures: [], milliseconds: 0 };
  for (const [index, vector] of vectors.entries()) {
    let outcome: { failure: string | null; runs: number };
    try {
      outcome = check(engine, vector);
    } catch (error) {
      outcome = { failure: `threw ${String(error)}`, runs: 1 };
    }
    result.runs += outcome.runs;
    if (outcome.failure) {
      result.failed++;
      result.failures.push(`${vector.name}: ${outcome.failure}`);
    } else result.passed++;
    if (index % 8 === 7) {
      progress?.(index + 1);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  result.milliseconds = performance.now() - started;
  return result;
}
