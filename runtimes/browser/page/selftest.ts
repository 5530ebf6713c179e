// The engine self-test: the shared frame vectors (test/vectors/frames.json, inlined by
// scripts/build-page.mjs) run through WireConnection in this browser, for both builds, the way
// test/assembly/frames.test.ts runs them in Node: whole, split at every offset, byte by byte, streamed.
import { WireConnection, Role } from "../../../bindings/connection.js";
import { createEngine } from "../../../bindings/embedded.js";
import type { Engine, EngineBuild } from "../../../bindings/engine.js";

type Segment = string | { hex: string; repeat: number };
type Expected =
  | { message: "text" | "binary"; payload: Segment[] }
  | { ping: string }
  | { pong: string }
  | { close: number; reason: string }
  | { error: number; rule: string }
  | { closed: true };

/** One vector of test/vectors/frames.json. */
export interface FrameVector {
  name: string;
  role: "server" | "client";
  maxPayload?: number;
  input: Segment[];
  events: Expected[];
  reply?: string;
}

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

function hexOf(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

function bytesOf(segments: Segment[]): Uint8Array {
  const hex = segments.map((s) => (typeof s === "string" ? s : s.hex.repeat(s.repeat))).join("");
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
  return bytes;
}

/** Expected events as one comparable string (payloads expanded to hex). */
function expectedOf(vector: FrameVector): string {
  return JSON.stringify(
    vector.events.map((e) =>
      "payload" in e ? { message: e.message, payload: hexOf(bytesOf(e.payload)) } : e,
    ),
  );
}

/** Feed `pieces` through a fresh connection in slot 0; the events (as a string) and the reply bytes. */
function run(
  engine: Engine,
  vector: FrameVector,
  pieces: Uint8Array[],
  fragments: "message" | "stream",
): { events: string; reply: string } {
  const events: object[] = [];
  const replies: string[] = [];
  let streamed: string[] = [];
  const conn = new WireConnection(
    { engine, slot: 0 },
    {
      message: (data, isBinary) =>
        events.push({ message: isBinary ? "binary" : "text", payload: hexOf(data) }),
      fragment: (data, isBinary, first, last) => {
        if (first) streamed = [];
        streamed.push(hexOf(data));
        if (last) events.push({ message: isBinary ? "binary" : "text", payload: streamed.join("") });
      },
      ping: (data) => events.push({ ping: hexOf(data) }),
      pong: (data) => events.push({ pong: hexOf(data) }),
      close: (code, reason) => events.push({ close: code, reason }),
      error: (error) => events.push({ error: error.closeCode, rule: error.rule }),
      closed: () => events.push({ closed: true }),
      write: (bytes) => replies.push(hexOf(bytes)),
    },
    {
      role: vector.role === "server" ? Role.Server : Role.Client,
      maxPayload: vector.maxPayload ?? 2 ** 53,
      fragments,
    },
  );
  for (const piece of pieces) conn.receive(piece);
  return { events: JSON.stringify(events), reply: replies.join("") };
}

/** Split offsets: all of them for small inputs, the edges and a stride for large ones (as in Node). */
function splitOffsets(length: number): number[] {
  if (length <= 600) return Array.from({ length: length + 1 }, (_, i) => i);
  const offsets = new Set<number>();
  for (let i = 0; i <= 40; i++) offsets.add(i).add(length - i);
  for (let i = 0; i < length; i += 997) offsets.add(i);
  return [...offsets].filter((i) => i >= 0 && i <= length);
}

/** The first way `vector` fails on `engine`, or null when every split passes. */
function check(engine: Engine, vector: FrameVector): { failure: string | null; runs: number } {
  const input = bytesOf(vector.input);
  const expected = expectedOf(vector);
  let runs = 0;
  const verify = (label: string, pieces: Uint8Array[], fragments: "message" | "stream" = "message") => {
    runs++;
    const got = run(engine, vector, pieces, fragments);
    if (got.events !== expected) return `${label}: events ${got.events.slice(0, 200)}`;
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
  const engine = createEngine({ maxConnections: 1, ioBytes: build === "simd" ? 192 * 1024 : 4096 }, build);
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
