// The frame vector format (frames.json) and how a vector is run through a WireConnection. Runtime-neutral
// (no Buffer, no fs): the Node tests and the browser page's engine self-test share it.
import { WireConnection, Role } from "../../bindings/protocol/connection.js";
import type { Engine } from "../../bindings/engine/engine.js";

/** Hex bytes, or a hex unit repeated. */
export type Segment = string | { hex: string; repeat: number };
/** An event a vector expects. */
export type Expected =
  | { message: "text" | "binary"; payload: Segment[] }
  | { ping: string }
  | { pong: string }
  | { close: number; reason: string }
  | { error: number; rule: string }
  | { closed: true };
/** One vector of frames.json. */
export interface FrameVector {
  name: string;
  role: "server" | "client";
  maxPayload?: number;
  input: Segment[];
  events: Expected[];
  /** Replies the engine queues (server role: unmasked, so exact). */
  reply?: string;
}
/** Observed events, data as hex so results compare as plain values. */
export type Observed =
  | { message: "text" | "binary"; payload: string }
  | { ping: string }
  | { pong: string }
  | { close: number; reason: string }
  | { error: number; rule: string }
  | { closed: true };

/** Bytes as lower-case hex. */
export function hexOf(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** Expand segments to bytes. */
export function bytesOf(segments: Segment[]): Uint8Array {
  const hex = segments.map((s) => (typeof s === "string" ? s : s.hex.repeat(s.repeat))).join("");
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
  return bytes;
}

/** What a vector expects, normalized like `Observed`. */
export function expectedOf(vector: FrameVector): Observed[] {
  return vector.events.map((e) =>
    "payload" in e ? { message: e.message, payload: hexOf(bytesOf(e.payload)) } : e,
  );
}

/** Split offsets to try: all of them for small inputs, the edges and a stride for large ones. */
export function splitOffsets(length: number): number[] {
  if (length <= 600) return Array.from({ length: length + 1 }, (_, i) => i);
  const offsets = new Set<number>();
  for (let i = 0; i <= 40; i++) offsets.add(i).add(length - i);
  for (let i = 0; i < length; i += 997) offsets.add(i);
  return [...offsets].filter((i) => i >= 0 && i <= length);
}

/** Feed `pieces` through a fresh connection in slot 0 and record what it reports and replies. */
export function runPieces(
  engine: Engine,
  vector: FrameVector,
  pieces: Uint8Array[],
  fragments: "message" | "stream" = "message",
): { events: Observed[]; reply: string } {
  const events: Observed[] = [];
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
  return { events, reply: replies.join("") };
}
