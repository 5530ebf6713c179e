// permessage-deflate (RFC 7692) for one connection, over a codec the runtime supplies (node:zlib on Node,
// Bun's zlib on Bun). Every call is synchronous and one-shot: each message is deflated or inflated by a
// fresh raw-deflate stream whose preset dictionary is the earlier messages' bytes (context takeover,
// §7.2.3.3) or nothing (no context takeover). So no zlib stream outlives a call: an idle connection holds
// at most its history bytes, never zlib state, and zlib work never queues (it runs inside send/receive,
// one message at a time), so 10,000 connections cannot pile up zlib jobs or their buffers.
import { CloseCode } from "../engine/abi.js";
import { defaults } from "../policies/config.js";
import type { DeflateSession } from "./extensions.js";

/** The bytes a sync flush ends with (RFC 7692 §7.2.1), removed before sending, restored before inflating. */
export const DEFLATE_TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** Settings of one deflate call. */
export interface DeflateCall {
  /** 9-15 (zlib's raw deflate cannot use 8). */
  windowBits: number;
  level: number;
  memLevel: number;
  /** Bytes the message may refer back to: the end of the earlier messages (context takeover). */
  dictionary?: Uint8Array;
}

/** Settings of one inflate call. */
export interface InflateCall {
  /** The earlier messages' last bytes, as the peer's window holds them (context takeover). */
  dictionary?: Uint8Array;
  /** Stop and return null once the output would pass this many bytes. */
  maxOutput: number;
}

/** Raw deflate as the runtime's zlib provides it; both calls are synchronous. */
export interface DeflateCodec {
  /** Raw-deflate `input` in one stream ended by Z_SYNC_FLUSH (so the output ends with 00 00 ff ff). */
  deflate(input: Uint8Array, call: DeflateCall): Uint8Array;
  /**
   * Raw-inflate `input` in one stream, flushing with Z_SYNC_FLUSH; null when more than `maxOutput` bytes
   * would come out (having produced at most about `maxOutput` plus one output chunk); throws on corrupt data.
   */
  inflate(input: Uint8Array, call: InflateCall): Uint8Array | null;
}

/** Tuning of one connection's compressor (defaults as in docs/DEFLATE.md). */
export interface DeflateTuning {
  /** Largest inflated message accepted, bytes (1009 beyond). */
  maxPayload: number;
  /** Messages shorter than this are sent uncompressed (default 1024). */
  threshold?: number;
  level?: number;
  memLevel?: number;
  /** History the compressor may refer to with context takeover (default 4096, at most the window). */
  historyBytes?: number;
}

/** Why an inflate failed, with the close code to fail the connection with. */
export class DeflateError extends Error {
  readonly closeCode: number;
  /** What zlib said ("" when the limit was passed). */
  readonly zlibMessage: string;
  /** zlib's error number (Z_DATA_ERROR is -3), when zlib failed. */
  readonly errno: number | undefined;
  constructor(message: string, closeCode: number, zlibMessage = "", errno?: number) {
    super(`${message}${zlibMessage ? `: ${zlibMessage}` : ""} (${closeCode})`);
    this.name = "DeflateError";
    this.closeCode = closeCode;
    this.zlibMessage = zlibMessage;
    this.errno = errno;
  }
}

/** Defaults of DeflateTuning. */
export const DEFAULT_THRESHOLD = defaults.deflate.threshold;
export const DEFAULT_HISTORY_BYTES = defaults.deflate.historyBytes;
/** zlib level 5, not zlib's default 6 (bindings/policies/config.ts says why). */
export const DEFAULT_LEVEL = defaults.deflate.level;

const EMPTY = new Uint8Array(0);

/** The last `limit` bytes of `history` followed by `data`, in a new array (or `history` unchanged). */
function slide(history: Uint8Array, data: Uint8Array, limit: number): Uint8Array {
  // A copy, never a view: Buffer's slice is a view that would keep the whole message (or zlib's chunk) alive.
  if (data.length >= limit) return copyOf(data.subarray(data.length - limit));
  const keep = Math.min(history.length, limit - data.length);
  const next = new Uint8Array(keep + data.length);
  next.set(history.subarray(history.length - keep), 0);
  next.set(data, keep);
  return next;
}

/** One connection's compressor and decompressor state. */
export class PerMessageDeflate {
  readonly session: DeflateSession;
  private readonly codec: DeflateCodec;
  private readonly maxPayload: number;
  private readonly threshold: number;
  private readonly level: number;
  private readonly memLevel: number;
  private readonly sendHistoryLimit: number;
  private readonly receiveHistoryLimit: number;
  private sendHistory: Uint8Array = EMPTY;
  private receiveHistory: Uint8Array = EMPTY;
  private parts: Uint8Array[] = [];
  private partBytes = 0;

  constructor(session: DeflateSession, codec: DeflateCodec, tuning: DeflateTuning) {
    this.session = session;
    this.codec = codec;
    this.maxPayload = tuning.maxPayload;
    this.threshold = tuning.threshold ?? DEFAULT_THRESHOLD;
    this.level = tuning.level ?? DEFAULT_LEVEL;
    this.memLevel = tuning.memLevel ?? defaults.deflate.memLevel;
    const sendWindow = 1 << session.sendWindowBits;
    this.sendHistoryLimit = session.sendNoContextTakeover
      ? 0
      : Math.min(tuning.historyBytes ?? DEFAULT_HISTORY_BYTES, sendWindow);
    this.receiveHistoryLimit = session.receiveNoContextTakeover ? 0 : 1 << session.receiveWindowBits;
  }

  /** Bytes this connection keeps between messages (histories and a message being received). */
  get retainedBytes(): number {
    return this.sendHistory.length + this.receiveHistory.length + this.partBytes;
  }

  /** Whether a message of `length` bytes is sent compressed. */
  shouldCompress(length: number): boolean {
    // zlib cannot deflate raw with an 8-bit window: a peer that asked for one gets uncompressed messages.
    return length >= this.threshold && this.session.sendWindowBits >= 9;
  }

  /** The payload of a compressed message (RSV1 on its first frame): deflated, tail removed. */
  compress(data: Uint8Array): Uint8Array {
    const output = this.codec.deflate(data, {
      windowBits: this.session.sendWindowBits,
      level: this.level,
      memLevel: this.memLevel,
      dictionary: this.sendHistory.length > 0 ? this.sendHistory : undefined,
    });
    if (this.sendHistoryLimit > 0) this.sendHistory = slide(this.sendHistory, data, this.sendHistoryLimit);
    return endsWithTail(output) ? output.subarray(0, output.length - 4) : output;
  }

  /** Keep a compressed chunk of the message being received (copied: the caller's bytes are reused). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.parts.push(copyOf(chunk));
    this.partBytes += chunk.length;
  }

  /** The received message's payload inflated; DeflateError 1009 past maxPayload, 1007 when corrupt. */
  finish(): Uint8Array {
    const input = new Uint8Array(this.partBytes + 4);
    let at = 0;
    for (const part of this.parts) {
      input.set(part, at);
      at += part.length;
    }
    input.set(DEFLATE_TAIL, at);
    this.parts = [];
    this.partBytes = 0;
    let output: Uint8Array | null;
    try {
      output = this.codec.inflate(input, {
        dictionary: this.receiveHistory.length > 0 ? this.receiveHistory : undefined,
        maxOutput: this.maxPayload,
      });
    } catch (error) {
      throw new DeflateError(
        "compressed message is not valid deflate data",
        CloseCode.InvalidPayload,
        (error as Error).message,
        (error as { errno?: number }).errno,
      );
    }
    if (output === null || output.length > this.maxPayload)
      throw new DeflateError(
        `inflated message longer than maxPayload ${this.maxPayload}`,
        CloseCode.MessageTooBig,
      );
    if (this.receiveHistoryLimit > 0)
      this.receiveHistory = slide(this.receiveHistory, output, this.receiveHistoryLimit);
    return output;
  }

  /** Drop everything held (the connection ended). */
  release(): void {
    this.sendHistory = this.receiveHistory = EMPTY;
    this.parts = [];
    this.partBytes = 0;
  }
}

function copyOf(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}

function endsWithTail(bytes: Uint8Array): boolean {
  const n = bytes.length;
  return n >= 4 && bytes[n - 4] === 0 && bytes[n - 3] === 0 && bytes[n - 2] === 0xff && bytes[n - 1] === 0xff;
}
