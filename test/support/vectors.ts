// Reads the shared byte vectors (test/vectors/*.json) and runs frame vectors through a WireConnection.
import { readFileSync } from "node:fs";
import { WireConnection, Role } from "../../bindings/connection.js";
import type { Engine } from "../../bindings/engine.js";
import type { WebSocketProtocolError } from "../../bindings/errors.js";

export type Segment = string | { hex: string; repeat: number };
export type Expected =
  | { message: "text" | "binary"; payload: Segment[] }
  | { ping: string }
  | { pong: string }
  | { close: number; reason: string }
  | { error: number; rule: string }
  | { closed: true };
export interface FrameVector {
  name: string;
  role: "server" | "client";
  maxPayload?: number;
  input: Segment[];
  events: Expected[];
  reply?: string;
}

/** Load a vector file from test/vectors. */
export function loadVectors<T>(name: string): T[] {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), "utf8")) as T[];
}

/** Expand segments to bytes. */
export function bytesOf(segments: Segment[]): Uint8Array {
  const hex = segments.map((s) => (typeof s === "string" ? s : s.hex.repeat(s.repeat))).join("");
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/** Normalized events: data as hex so results compare with toEqual. */
export type Observed =
  | { message: "text" | "binary"; payload: string }
  | { ping: string }
  | { pong: string }
  | { close: number; reason: string }
  | { error: number; rule: string }
  | { closed: true };

/** What a vector expects, normalized like `Observed`. */
export function expectedOf(vector: FrameVector): Observed[] {
  return vector.events.map((e) =>
    "payload" in e ? { message: e.message, payload: Buffer.from(bytesOf(e.payload)).toString("hex") } : e,
  );
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
  let streamed: Uint8Array[] = [];
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const conn = new WireConnection(
    { engine, slot: 0 },
    {
      message: (data, isBinary) => events.push({ message: isBinary ? "binary" : "text", payload: hex(data) }),
      fragment: (data, isBinary, first, last) => {
        if (first) streamed = [];
        streamed.push(data);
        if (last) events.push({ message: isBinary ? "binary" : "text", payload: streamed.map(hex).join("") });
      },
      ping: (data) => events.push({ ping: hex(data) }),
      pong: (data) => events.push({ pong: hex(data) }),
      close: (code, reason) => events.push({ close: code, reason }),
      error: (error: WebSocketProtocolError) => events.push({ error: error.closeCode, rule: error.rule }),
      closed: () => events.push({ closed: true }),
      write: (bytes) => replies.push(hex(bytes)),
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
