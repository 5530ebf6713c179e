// The permessage-deflate codec over node:zlib: raw deflate/inflate with Z_SYNC_FLUSH. Small messages are
// one-shot sync calls (faster than a zlib stream on the thread pool for 1 KiB and 64 KiB messages,
// docs/DEFLATE.md); a large one runs on a zlib stream, off the event loop: an inflate counting its output and
// stopped as soon as that passes the limit, a deflate reading the message where it is. No zlib state is kept
// between messages.
import * as zlib from "node:zlib";
import type {
  DeflateCall,
  DeflateCallback,
  DeflateCodec,
  InflateCall,
  InflateCallback,
} from "../../bindings/protocol/permessage-deflate.js";

const SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;
const MAX_CHUNK = 16 * 1024;
// Output per thread-pool job of an async inflate: a 16 MiB message is 256 jobs, and the limit is checked
// after each one (measured: 64 KiB stalls the event loop less than 16 KiB, and 256 KiB gains nothing).
const ASYNC_CHUNK = 64 * 1024;
// Output per job of an async deflate (measured, Node 20: 16 MiB of zeros stalled the event loop at most
// 1.6-1.8 ms between jobs with 16 KiB against 5.5-6 ms with 64 KiB; 8 MiB of JSON-like text 3 ms either way).
const ASYNC_DEFLATE_CHUNK = 16 * 1024;

/** An output chunk size near the expected output: small messages allocate little. */
function chunkSize(expected: number): number {
  let size = 1024;
  while (size < expected && size < MAX_CHUNK) size <<= 1;
  return size;
}

/** `bytes` as a Buffer of their own: as they are when they fill their ArrayBuffer, else copied out of it. */
function ownBytes(bytes: Buffer): Buffer {
  if (bytes.length === 0 || bytes.byteLength === bytes.buffer.byteLength) return bytes;
  const own = Buffer.allocUnsafe(bytes.length);
  own.set(bytes);
  return own;
}

function isTooLarge(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";
}

/** zlib jobs of one kind that run at most `max` at a time, process-wide, the rest waiting in order. */
class Turns {
  private readonly max: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** zlib streams not yet closed (each is closed when its message is done or cancelled). */
  openStreams = 0;

  constructor(max: number) {
    this.max = max;
  }

  /** Jobs waiting for their turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Run `job` in its turn: it starts the work, calls the `finished` it is given once, and returns a function
   * that stops the work. The function returned here cancels: unqueued, or stopped if it started.
   */
  run(job: (finished: () => void) => () => void): () => void {
    let stop: (() => void) | null = null;
    let over = false;
    const finish = (): void => {
      if (over) return;
      over = true;
      this.running--;
      this.next();
    };
    const start = (): void => {
      stop = job(finish);
    };
    this.waiting.push(start);
    this.next();
    return () => {
      if (over) return;
      if (!stop) {
        over = true;
        this.waiting.splice(this.waiting.indexOf(start), 1);
        return;
      }
      stop();
      finish();
    };
  }

  private next(): void {
    while (this.running < this.max && this.waiting.length > 0) {
      this.running++;
      this.waiting.shift()!();
    }
  }
}

// Async inflates run one at a time, process-wide, the rest waiting in order. More at once would not finish
// sooner (they share zlib's thread pool and interleave there) but each would hold its output so far:
// 20 bombs at once held 20 × maxPayload (RSS 55 → 384 MiB in the deflatebomb attack, measured) where one
// at a time holds one, as the synchronous inflate did.
const inflates = new Turns(1);
// Async deflates run two at a time: their input is held anyway (the message being sent) and their output is
// smaller, but each live stream holds zlib's state (about 256 KiB at windowBits 15, memLevel 8), so they are
// bounded; two, so one long message does not hold every other connection's back.
const deflates = new Turns(2);

/** zlib streams of async inflates not yet closed (each is closed when its message is done or cancelled). */
export function openInflateStreams(): number {
  return inflates.openStreams;
}

/** Async inflates waiting for their turn. */
export function waitingInflates(): number {
  return inflates.queued;
}

/** zlib streams of async deflates not yet closed. */
export function openDeflateStreams(): number {
  return deflates.openStreams;
}

/** Async deflates waiting for their turn. */
export function waitingDeflates(): number {
  return deflates.queued;
}

/** Inflate on a zlib stream (zlib's thread pool), in turn; see DeflateCodec.inflateAsync. */
function inflateAsync(input: Uint8Array, call: InflateCall, done: InflateCallback): () => void {
  return inflates.run((finished) => {
    const stream = zlib.createInflateRaw({
      finishFlush: SYNC_FLUSH,
      windowBits: 15,
      dictionary: call.dictionary,
      chunkSize: ASYNC_CHUNK,
    });
    return runStream(stream, inflates, input, call.maxOutput, true, (error, output) => {
      finished();
      done(error, output);
    });
  });
}

/** Deflate on a zlib stream (zlib's thread pool), in turn; see DeflateCodec.deflateAsync. */
function deflateAsync(input: Uint8Array, call: DeflateCall, done: DeflateCallback): () => void {
  return deflates.run((finished) => {
    const stream = zlib.createDeflateRaw({
      finishFlush: SYNC_FLUSH,
      windowBits: call.windowBits,
      level: call.level,
      memLevel: call.memLevel,
      dictionary: call.dictionary,
      chunkSize: ASYNC_DEFLATE_CHUNK,
    });
    return runStream(stream, deflates, input, Infinity, false, (error, output) => {
      finished();
      done(error, output);
    });
  });
}

/**
 * Feed `input` to a zlib stream of its own and gather its output: `done` gets it, null as soon as it passes
 * `maxOutput`, or zlib's error. The returned function stops it (then `done` never runs). With `exact`, the
 * output is a Buffer of its own (a message inflated), never a view of a larger chunk buffer.
 */
function runStream(
  stream: zlib.InflateRaw | zlib.DeflateRaw,
  turns: Turns,
  input: Uint8Array,
  maxOutput: number,
  exact: boolean,
  done: (error: Error | null, output: Uint8Array | null) => void,
): () => void {
  turns.openStreams++;
  const chunks: Buffer[] = [];
  let total = 0;
  let settled = false;
  const settle = (error: Error | null, output: Uint8Array | null): void => {
    if (settled) return;
    settled = true;
    stream.destroy();
    done(error, output);
  };
  stream.on("data", (chunk: Buffer) => {
    total += chunk.length;
    if (total > maxOutput) return settle(null, null);
    chunks.push(chunk);
  });
  // The chunks joined once: an inflated message's join is the Buffer the application gets
  // (bindings/protocol/connection.ts `deliverInflated`); a single chunk is a view of a larger chunk buffer.
  stream.on("end", () => {
    if (chunks.length !== 1) return settle(null, Buffer.concat(chunks, total));
    settle(null, exact ? ownBytes(chunks[0]) : chunks[0]);
  });
  stream.on("error", (error: Error) => settle(error, null));
  stream.on("close", () => turns.openStreams--);
  stream.end(input);
  return () => {
    settled = true;
    stream.destroy();
  };
}

/** node:zlib as a DeflateCodec. */
export const nodeDeflateCodec: DeflateCodec = {
  deflate(input: Uint8Array, call: DeflateCall): Uint8Array {
    return zlib.deflateRawSync(input, {
      finishFlush: SYNC_FLUSH,
      windowBits: call.windowBits,
      level: call.level,
      memLevel: call.memLevel,
      dictionary: call.dictionary,
      chunkSize: chunkSize((input.length >>> 1) + 64),
    });
  },
  inflate(input: Uint8Array, call: InflateCall): Uint8Array | null {
    const size = chunkSize(Math.min(input.length * 4, call.maxOutput + 1));
    try {
      const output = zlib.inflateRawSync(input, {
        finishFlush: SYNC_FLUSH,
        windowBits: 15,
        dictionary: call.dictionary,
        maxOutputLength: Math.max(1, call.maxOutput),
        chunkSize: size,
      });
      // Node joins several output chunks into a new Buffer (the message's own); one chunk it returns as a
      // view of its chunk buffer. Bun returns a Buffer of its own either way.
      return output.length > size ? output : ownBytes(output);
    } catch (error) {
      if (isTooLarge(error)) return null;
      throw error;
    }
  },
  inflateAsync,
  deflateAsync,
};
