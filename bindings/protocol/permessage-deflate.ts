// permessage-deflate (RFC 7692) for one connection, over a codec the runtime supplies (node:zlib on Node
// and Bun). Each message is deflated or inflated by a fresh raw-deflate stream whose preset dictionary is the
// earlier messages' bytes (context takeover, §7.2.3.3) or nothing (no context takeover), so no zlib state
// outlives a message: an idle connection holds at most its history bytes. Deflating and inflating are
// synchronous for messages of at most SYNC_DEFLATE_BYTES / SYNC_INFLATE_BYTES (the common case, where a
// thread-pool round trip would cost more than the work); larger ones go off the event loop to the codec's async
// calls (zlib's thread pool), so neither a decompression bomb of 16 MiB nor the echo of one (a few KiB that
// inflate to 16 MiB, compressed again to send) stalls every other connection while zlib works. One message per
// connection is inflated or deflated this way at a time (the connection holds its later input and sends
// meanwhile, bindings/protocol/connection.ts and held-sends.ts), so zlib jobs are bounded by the connections.
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

/** How an async inflate ends: the output, null past `maxOutput`, or zlib's error for corrupt data. */
export type InflateCallback = (error: Error | null, output: Uint8Array | null) => void;

/** How an async deflate ends: the output (ending in 00 00 ff ff), or zlib's error. */
export type DeflateCallback = (error: Error | null, output: Uint8Array | null) => void;

/**
 * Raw deflate as the runtime's zlib provides it. An inflate's output is the message's own bytes, exactly
 * (never a view of a buffer holding more): the connection hands it to the application as it is when it is
 * of the host's byte type.
 */
export interface DeflateCodec {
  /** Raw-deflate `input` in one stream ended by Z_SYNC_FLUSH (so the output ends with 00 00 ff ff). */
  deflate(input: Uint8Array, call: DeflateCall): Uint8Array;
  /**
   * Raw-inflate `input` in one stream, flushing with Z_SYNC_FLUSH; null when more than `maxOutput` bytes
   * would come out (having produced at most about `maxOutput` plus one output chunk); throws on corrupt data.
   */
  inflate(input: Uint8Array, call: InflateCall): Uint8Array | null;
  /**
   * Optional: the same inflate off the event loop. `done` runs once, later (never inside this call), unless
   * the returned cancel function runs first, which stops the work and frees the zlib stream.
   */
  inflateAsync?(input: Uint8Array, call: InflateCall, done: InflateCallback): () => void;
  /**
   * Optional: the same deflate off the event loop, reading `input` where it is. `done` runs once, later (never
   * inside this call), unless the returned cancel function runs first, which stops the work and frees the
   * zlib stream.
   */
  deflateAsync?(input: Uint8Array, call: DeflateCall, done: DeflateCallback): () => void;
}

/** A message inflated off the event loop: its payload, or why it failed. */
export type InflateDone = (result: Uint8Array | DeflateError) => void;

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
/**
 * Largest inflated message inflated on the event loop (about 50 µs of zlib work; docs/DEFLATE.md "Inflating
 * off the event loop"): a larger one, or one whose compressed payload alone is larger, goes to the codec's
 * async inflate. A message that turns out larger has cost at most this much before it is handed over.
 */
export const SYNC_INFLATE_BYTES = 64 * 1024;
/**
 * Largest message deflated on the event loop (about 0.5 ms of zlib for 64 KiB of JSON-like text at level 5,
 * docs/DEFLATE.md): a longer one goes to the codec's async deflate, its sends behind it waiting.
 */
export const SYNC_DEFLATE_BYTES = 64 * 1024;

const EMPTY = new Uint8Array(0);
/**
 * Published messages up to this long are kept by reference in a context-takeover connection's history until
 * it next compresses (shared by every subscriber); of a longer one, only the end the history needs is copied.
 */
const SHARED_HISTORY_BYTES = 64 * 1024;

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
  /**
   * Messages compressed alone elsewhere (published to many connections) sent since the history was last
   * brought up to date: kept by reference (the same bytes for every subscriber) and folded into the history
   * only when this connection compresses a message of its own, so a publish costs a subscriber no copy.
   * Only those the history limit still covers are kept.
   */
  private sentAloneSince: Uint8Array[] = [];
  private sentAloneBytes = 0;
  private receiveHistory: Uint8Array = EMPTY;
  private parts: Uint8Array[] = [];
  private partBytes = 0;
  /** Stops the inflate running off the event loop, if one is. */
  private cancelInflate: (() => void) | null = null;
  /** Stops the deflate running off the event loop, if one is. */
  private cancelDeflate: (() => void) | null = null;

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

  /**
   * Bytes this connection keeps between messages (histories and a message being received; published
   * messages its history refers to count too, though every subscriber shares them).
   */
  get retainedBytes(): number {
    return this.sendHistory.length + this.sentAloneBytes + this.receiveHistory.length + this.partBytes;
  }

  /** Whether a message of `length` bytes is sent compressed. */
  shouldCompress(length: number): boolean {
    // zlib cannot deflate raw with an 8-bit window: a peer that asked for one gets uncompressed messages.
    return length >= this.threshold && this.session.sendWindowBits >= 9;
  }

  /** Whether a message of `length` bytes is compressed off the event loop (`compressAsync`). */
  compressesAsync(length: number): boolean {
    return (
      length > SYNC_DEFLATE_BYTES && this.shouldCompress(length) && this.codec.deflateAsync !== undefined
    );
  }

  /** The payload of a compressed message (RSV1 on its first frame): deflated, tail removed. */
  compress(data: Uint8Array): Uint8Array {
    return withoutTail(this.codec.deflate(data, this.nextDeflate(data)));
  }

  /**
   * The same off the event loop: `done` gets the payload or zlib's error later, unless the returned function
   * (or `release`) cancels it first. The history moves on at once: nothing else is compressed before this
   * message is sent (later sends wait behind it).
   */
  compressAsync(data: Uint8Array, done: (result: Uint8Array | Error) => void): () => void {
    let running: (() => void) | null = null;
    const stop = (): void => {
      const cancel = running;
      running = null;
      if (this.cancelDeflate === stop) this.cancelDeflate = null;
      cancel?.();
    };
    running = this.codec.deflateAsync!(data, this.nextDeflate(data), (error, output) => {
      running = null;
      if (this.cancelDeflate === stop) this.cancelDeflate = null;
      done(error ?? withoutTail(output!));
    });
    this.cancelDeflate = stop;
    return stop;
  }

  /**
   * Which connections may be sent the same compressed bytes as this one: equal keys, equal window, level and
   * memLevel. A message compressed alone (no dictionary) with this key is valid for every such connection,
   * with context takeover or not: it refers to nothing before it, so the peer's window may hold anything.
   */
  get sharedKey(): number {
    return this.session.sendWindowBits | (this.level << 4) | (this.memLevel << 8);
  }

  /** The payload of `data` compressed alone (no dictionary, the history untouched), tail removed. */
  compressAlone(data: Uint8Array): Uint8Array {
    return withoutTail(this.codec.deflate(data, this.aloneCall()));
  }

  /**
   * The same off the event loop when the message is longer than SYNC_DEFLATE_BYTES and the codec can:
   * `done` gets the payload or zlib's error later, unless the returned function cancels it first. Null when
   * it is compressed on the event loop instead (`compressAlone`). Not tied to this connection: its `release`
   * does not cancel it (the result is shared).
   */
  compressAloneAsync(data: Uint8Array, done: (result: Uint8Array | Error) => void): (() => void) | null {
    if (data.length <= SYNC_DEFLATE_BYTES || !this.codec.deflateAsync) return null;
    return this.codec.deflateAsync(data, this.aloneCall(), (error, output) =>
      done(error ?? withoutTail(output!)),
    );
  }

  /**
   * A message compressed alone elsewhere (`compressAlone`, shared by many connections) was sent on this
   * connection: with context takeover the peer's window now holds its bytes, so the history moves on too.
   */
  sentAlone(data: Uint8Array): void {
    const limit = this.sendHistoryLimit;
    if (limit === 0) return;
    if (data.length > SHARED_HISTORY_BYTES) {
      // Only its end counts; a long message is not kept alive for it.
      this.sendHistory = slide(EMPTY, data, limit);
      this.sentAloneSince = [];
      this.sentAloneBytes = 0;
      return;
    }
    const since = this.sentAloneSince;
    since.push(data);
    this.sentAloneBytes += data.length;
    while (this.sentAloneBytes - since[0].length >= limit) this.sentAloneBytes -= since.shift()!.length;
  }

  private aloneCall(): DeflateCall {
    return { windowBits: this.session.sendWindowBits, level: this.level, memLevel: this.memLevel };
  }

  /** The settings to deflate `data` with (the history so far as its dictionary); the history moves on. */
  private nextDeflate(data: Uint8Array): DeflateCall {
    if (this.sentAloneBytes > 0) this.foldSentAlone();
    const call: DeflateCall = {
      windowBits: this.session.sendWindowBits,
      level: this.level,
      memLevel: this.memLevel,
      dictionary: this.sendHistory.length > 0 ? this.sendHistory : undefined,
    };
    if (this.sendHistoryLimit > 0) this.sendHistory = slide(this.sendHistory, data, this.sendHistoryLimit);
    return call;
  }

  /** Bring the history up to date with the messages sent alone since (`sentAlone`). */
  private foldSentAlone(): void {
    let history = this.sendHistory;
    for (const data of this.sentAloneSince) history = slide(history, data, this.sendHistoryLimit);
    this.sendHistory = history;
    this.sentAloneSince = [];
    this.sentAloneBytes = 0;
  }

  /** Keep a compressed chunk of the message being received (copied: the caller's bytes are reused). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.parts.push(copyOf(chunk));
    this.partBytes += chunk.length;
  }

  /** The received message's payload inflated; DeflateError 1009 past maxPayload, 1007 when corrupt. */
  finish(): Uint8Array {
    return this.inflateNow(this.takeInput(), this.maxPayload)!;
  }

  /**
   * Inflate the received message: returned at once when it inflates to at most `syncLimit` bytes (or the codec
   * has no async inflate); otherwise undefined, and `done` gets the payload or a DeflateError later, never
   * after `release`. Failures found at once are thrown as DeflateError (1009 past maxPayload, 1007 corrupt).
   */
  inflate(done: InflateDone, syncLimit = SYNC_INFLATE_BYTES): Uint8Array | undefined {
    const input = this.takeInput();
    if (!this.codec.inflateAsync) return this.inflateNow(input, this.maxPayload)!;
    // A compressed payload well past the limit inflates past it too (deflate's worst case, stored blocks,
    // adds 5 bytes per block), so only smaller ones are tried here.
    if (input.length <= syncLimit + 64) {
      const limit = Math.min(syncLimit, this.maxPayload);
      const output = this.inflateNow(input, limit, limit < this.maxPayload);
      if (output) return output;
    }
    const dictionary = this.receiveHistory.length > 0 ? this.receiveHistory : undefined;
    this.cancelInflate = this.codec.inflateAsync(
      input,
      { dictionary, maxOutput: this.maxPayload },
      (error, output) => {
        this.cancelInflate = null;
        let result: Uint8Array | DeflateError;
        try {
          result = this.inflated(error, output);
        } catch (caught) {
          if (!(caught instanceof DeflateError)) throw caught;
          result = caught;
        }
        done(result);
      },
    );
    return undefined;
  }

  /** A message is inflating off the event loop. */
  get inflating(): boolean {
    return this.cancelInflate !== null;
  }

  /** The received parts joined, with the tail restored; the parts are dropped. */
  private takeInput(): Uint8Array {
    const input = new Uint8Array(this.partBytes + 4);
    let at = 0;
    for (const part of this.parts) {
      input.set(part, at);
      at += part.length;
    }
    input.set(DEFLATE_TAIL, at);
    this.parts = [];
    this.partBytes = 0;
    return input;
  }

  /**
   * Inflate `input` on this thread to at most `maxOutput` bytes. Past it: null when `tryOnly` (the caller
   * inflates it again elsewhere), else DeflateError 1009.
   */
  private inflateNow(input: Uint8Array, maxOutput: number, tryOnly = false): Uint8Array | null {
    let output: Uint8Array | null;
    try {
      output = this.codec.inflate(input, {
        dictionary: this.receiveHistory.length > 0 ? this.receiveHistory : undefined,
        maxOutput,
      });
    } catch (error) {
      return this.inflated(error as Error, null);
    }
    if (tryOnly && (output === null || output.length > maxOutput)) return null;
    return this.inflated(null, output);
  }

  /** The outcome of an inflate as a payload (history updated), or a DeflateError thrown. */
  private inflated(error: Error | null, output: Uint8Array | null): Uint8Array {
    if (error)
      throw new DeflateError(
        "compressed message is not valid deflate data",
        CloseCode.InvalidPayload,
        error.message,
        (error as { errno?: number }).errno,
      );
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
    this.cancelInflate?.();
    this.cancelInflate = null;
    this.cancelDeflate?.();
    this.sendHistory = this.receiveHistory = EMPTY;
    this.sentAloneSince = [];
    this.sentAloneBytes = 0;
    this.parts = [];
    this.partBytes = 0;
  }
}

function copyOf(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}

/** A deflate's output without the sync-flush tail (RFC 7692 §7.2.1). */
function withoutTail(output: Uint8Array): Uint8Array {
  return endsWithTail(output) ? output.subarray(0, output.length - 4) : output;
}

function endsWithTail(bytes: Uint8Array): boolean {
  const n = bytes.length;
  return n >= 4 && bytes[n - 4] === 0 && bytes[n - 3] === 0 && bytes[n - 2] === 0xff && bytes[n - 1] === 0xff;
}
