// A reference reader of RFC 6455 frames, written from the RFC and independent of the engine and the
// bindings: given every byte a peer sent and how the receiving end is configured, it says what that end
// must deliver (messages, pings, pongs, in order) and how the connection ends. It reads whole inputs
// with plain loops and Buffers, choosing clarity over speed. permessage-deflate (RFC 7692) is modelled with
// node:zlib, as the only thing not re-implemented here. Where the RFC leaves a choice, the outcome lists
// every close code it allows. The project's choices it follows (docs/ENGINE.md, assembly/reader.ts):
// a message too big fails at the frame header that announces it, text fails at the first invalid byte,
// a close frame's reply echoes its code and reason, and minimal length encoding is not enforced.
import * as zlib from "node:zlib";

/** The receiving end, as the peer's bytes meet it. */
export interface ModelConfig {
  /** "server": frames must be masked; "client": frames must not be. */
  role: "server" | "client";
  /** Largest message, bytes (1009 beyond); with deflate, the inflated size. */
  maxPayload: number;
  /** permessage-deflate negotiated: the bytes of earlier compressed messages kept as the inflate dictionary. */
  deflate: { historyBytes: number } | null;
}

/** Something the receiving end delivers to its application. */
export type ModelEvent = { kind: "text" | "binary"; data: Buffer } | { kind: "ping" | "pong"; data: Buffer };

/** How the input ends the connection. */
export type ModelOutcome =
  /** A valid close frame: the end replies with the same payload and reports `code` (1005: none). */
  | { kind: "close"; code: number; reason: Buffer; payload: Buffer }
  /** The peer broke a rule: the end fails the connection with one of `codes`. */
  | { kind: "fail"; codes: number[]; rule: string }
  /** The input stops with the connection still open (possibly inside a frame). */
  | { kind: "open" };

/** The model's answer for one input. */
export interface ModelResult {
  events: ModelEvent[];
  outcome: ModelOutcome;
  /** Payload bytes of a message begun and not finished (a streaming end may have delivered a prefix). */
  partial: { kind: "text" | "binary"; data: Buffer } | null;
}

const CONTINUATION = 0x0;
const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Close codes a close frame may carry (RFC 6455 §7.4.1-7.4.2, IANA registry up to 1014). */
export function isSendableCloseCode(code: number): boolean {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

/** Wire bytes a compressed message of `maxPayload` inflated bytes may take: the engine's limit for them. */
export function compressedWireLimit(maxPayload: number): number {
  return maxPayload + Math.ceil(maxPayload / 16384) * 5 + 64;
}

/**
 * Where a UTF-8 byte sequence first goes wrong (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF): the index of the first byte that cannot be part of valid text, `bytes.length` when the text
 * is valid but ends inside a character (`incomplete`), or -1 when valid and complete.
 */
export function utf8Error(bytes: Uint8Array): { at: number; incomplete: boolean } | null {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b < 0x80) need = 0;
    else if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b === 0xe0) [need, lo] = [2, 0xa0];
    else if (b === 0xed) [need, hi] = [2, 0x9f];
    else if (b >= 0xe1 && b <= 0xef) need = 2;
    else if (b === 0xf0) [need, lo] = [3, 0x90];
    else if (b === 0xf4) [need, hi] = [3, 0x8f];
    else if (b >= 0xf1 && b <= 0xf3) need = 3;
    else return { at: i, incomplete: false };
    for (let k = 1; k <= need; k++) {
      if (i + k >= bytes.length) return { at: bytes.length, incomplete: true };
      const c = bytes[i + k];
      const [min, max] = k === 1 ? [lo, hi] : [0x80, 0xbf];
      if (c < min || c > max) return { at: i + k, incomplete: false };
    }
    i += need + 1;
  }
  return null;
}

/** Inflate one compressed message (RFC 7692 §7.2.2: append 00 00 ff ff) with the history as dictionary. */
function inflate(payload: Buffer, history: Buffer): Buffer {
  return zlib.inflateRawSync(Buffer.concat([payload, TAIL]), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
    windowBits: 15,
    dictionary: history.length > 0 ? history : undefined,
  });
}

/** Read `input` (every byte the peer sent after the handshake) as the end described by `config` would. */
export function readFrames(input: Uint8Array, config: ModelConfig): ModelResult {
  const bytes = Buffer.from(input);
  const events: ModelEvent[] = [];
  let history = Buffer.alloc(0);
  // The message being received: its kind, whether compressed, its payload so far and announced length.
  let message: { kind: "text" | "binary"; compressed: boolean; parts: Buffer[]; announced: number } | null =
    null;
  let pos = 0;
  const partial = () => (message ? { kind: message.kind, data: Buffer.concat(message.parts) } : null);
  const fail = (codes: number[], rule: string): ModelResult => ({
    events,
    outcome: { kind: "fail", codes, rule },
    partial: partial(),
  });
  const open = (): ModelResult => ({ events, outcome: { kind: "open" }, partial: partial() });

  for (;;) {
    // Header: each rule is checked as soon as the bytes that break it are present.
    if (pos >= bytes.length) return open();
    const byte0 = bytes[pos];
    const fin = (byte0 & 0x80) !== 0;
    const rsv = (byte0 >> 4) & 7;
    const opcode = byte0 & 0x0f;
    const control = (opcode & 0x8) !== 0;
    if (![CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG].includes(opcode))
      return fail([1002], "reserved opcode");
    // RSV1 marks a compressed message on its first frame, only when deflate was negotiated (RFC 7692 §6).
    const firstData = opcode === TEXT || opcode === BINARY;
    if (rsv !== 0 && !(rsv === 4 && firstData && config.deflate)) return fail([1002], "RSV bits");
    if (control && !fin) return fail([1002], "fragmented control frame");
    if (opcode === CONTINUATION && !message) return fail([1002], "continuation without a message");
    if (firstData && message) return fail([1002], "new message inside a fragmented one");
    if (pos + 1 >= bytes.length) return open();
    const byte1 = bytes[pos + 1];
    const masked = (byte1 & 0x80) !== 0;
    if (config.role === "server" && !masked) return fail([1002], "unmasked client frame");
    if (config.role === "client" && masked) return fail([1002], "masked server frame");
    const length7 = byte1 & 0x7f;
    if (control && length7 > 125) return fail([1002], "control frame longer than 125");
    const lengthBytes = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    const headerEnd = pos + 2 + lengthBytes + (masked ? 4 : 0);
    if (headerEnd > bytes.length) return open();
    let length: number;
    if (length7 === 126) length = bytes.readUInt16BE(pos + 2);
    else if (length7 === 127) {
      const big = bytes.readBigUInt64BE(pos + 2);
      if (big >> 63n) return fail([1002], "64-bit length with the top bit set");
      length = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
    } else length = length7;
    const key = masked ? bytes.subarray(headerEnd - 4, headerEnd) : null;

    // A data frame's length counts toward its message's limit as soon as the header is read.
    if (!control) {
      const compressed: boolean = opcode === CONTINUATION ? message!.compressed : rsv === 4;
      const announced = (opcode === CONTINUATION ? message!.announced : 0) + length;
      const limit = config.deflate ? compressedWireLimit(config.maxPayload) : config.maxPayload;
      if (announced > limit) return fail([1009], "message longer than maxPayload");
      if (opcode !== CONTINUATION)
        message = { kind: opcode === TEXT ? "text" : "binary", compressed, parts: [], announced: 0 };
      message!.announced = announced;
    }

    // Payload: what is there of it, unmasked.
    const available = Math.min(length, bytes.length - headerEnd);
    const payload = Buffer.from(bytes.subarray(headerEnd, headerEnd + available));
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    const complete = available === length;
    pos = headerEnd + available;

    if (control) {
      if (!complete) return open();
      if (opcode === PING || opcode === PONG) {
        events.push({ kind: opcode === PING ? "ping" : "pong", data: payload });
        continue;
      }
      return closeFrame(payload, events, partial());
    }

    const m = message!;
    if (!m.compressed) {
      m.parts.push(payload);
      const data = Buffer.concat(m.parts);
      // With deflate negotiated, the host measures an uncompressed message as it arrives (the engine's wire
      // limit is looser): its first byte past maxPayload fails it, unless the engine finds bad text first.
      const tooBigAt = config.deflate && data.length > config.maxPayload ? config.maxPayload : -1;
      const error = m.kind === "text" ? utf8Error(data) : null;
      const badAt = error && (!error.incomplete || (complete && fin)) ? error.at : -1;
      if (badAt >= 0 && (tooBigAt < 0 || badAt <= tooBigAt)) {
        m.parts = [data.subarray(0, badAt)];
        return fail([1007], "invalid UTF-8 in text");
      }
      if (tooBigAt >= 0) {
        m.parts = [data.subarray(0, tooBigAt)];
        // Bad text after the limit's byte may be in the same read: the engine's check comes first then.
        return fail(badAt >= 0 ? [1009, 1007] : [1009], "uncompressed message longer than maxPayload");
      }
    } else m.parts.push(payload);
    if (!complete) return open();
    if (!fin) continue;

    let data: Buffer = Buffer.concat(m.parts);
    if (m.compressed) {
      try {
        data = inflate(data, history);
      } catch {
        // The host stops inflating at maxPayload: corrupt data past that point may fail as too big.
        return fail([1007, 1009], "invalid deflate data");
      }
      if (data.length > config.maxPayload) return fail([1009], "inflated message longer than maxPayload");
      if (m.kind === "text" && utf8Error(data)) return fail([1007], "invalid UTF-8 in compressed text");
      const keep = config.deflate!.historyBytes;
      if (keep > 0) history = Buffer.concat([history, data]).subarray(-keep);
    }
    events.push({ kind: m.kind, data });
    message = null;
  }
}

/** A complete close frame's payload: a clean close, or the rule it breaks. */
function closeFrame(payload: Buffer, events: ModelEvent[], partial: ModelResult["partial"]): ModelResult {
  const failed = (codes: number[], rule: string): ModelResult => ({
    events,
    outcome: { kind: "fail", codes, rule },
    partial,
  });
  if (payload.length === 1) return failed([1002], "close frame with a 1-byte payload");
  if (payload.length === 0)
    return { events, outcome: { kind: "close", code: 1005, reason: Buffer.alloc(0), payload }, partial };
  const code = payload.readUInt16BE(0);
  if (!isSendableCloseCode(code)) return failed([1002], `close code ${code}`);
  const reason = payload.subarray(2);
  if (utf8Error(reason)) return failed([1007], "close reason not UTF-8");
  return { events, outcome: { kind: "close", code, reason, payload }, partial };
}
