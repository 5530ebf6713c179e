// The permessage-deflate codec over node:zlib: raw deflate/inflate with Z_SYNC_FLUSH. Deflating and small
// inflates are one-shot sync calls (faster than a zlib stream on the thread pool for 1 KiB and 64 KiB
// messages, docs/DEFLATE.md); a large inflate runs on a zlib stream, off the event loop, counting its output
// and stopped as soon as that passes the limit. No zlib state is kept between messages.
import * as zlib from "node:zlib";
import type {
  DeflateCall,
  DeflateCodec,
  InflateCall,
  InflateCallback,
} from "../../bindings/protocol/permessage-deflate.js";

const SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;
const MAX_CHUNK = 16 * 1024;
// Output per thread-pool job of an async inflate: a 16 MiB message is 256 jobs, and the limit is checked
// after each one (measured: 64 KiB stalls the event loop less than 16 KiB, and 256 KiB gains nothing).
const ASYNC_CHUNK = 64 * 1024;

/** An output chunk size near the expected output: small messages allocate little. */
function chunkSize(expected: number): number {
  let size = 1024;
  while (size < expected && size < MAX_CHUNK) size <<= 1;
  return size;
}

function isTooLarge(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";
}

// Async inflates run one at a time, process-wide, the rest waiting in order. More at once would not finish
// sooner (they share zlib's thread pool and interleave there) but each would hold its output so far:
// 20 bombs at once held 20 × maxPayload (RSS 55 → 384 MiB in the deflatebomb attack, measured) where one
// at a time holds one, as the synchronous inflate did.
const MAX_RUNNING = 1;
let running = 0;
const waiting: Array<() => void> = [];
let openStreams = 0;

function startNext(): void {
  while (running < MAX_RUNNING && waiting.length > 0) {
    running++;
    waiting.shift()!();
  }
}

/** zlib streams of async inflates not yet closed (each is closed when its message is done or cancelled). */
export function openInflateStreams(): number {
  return openStreams;
}

/** Async inflates waiting for their turn. */
export function waitingInflates(): number {
  return waiting.length;
}

/** Inflate on a zlib stream (zlib's thread pool), in turn; see DeflateCodec.inflateAsync. */
function inflateAsync(input: Uint8Array, call: InflateCall, done: InflateCallback): () => void {
  let stop: (() => void) | null = null;
  let over = false;
  const finish = (): void => {
    over = true;
    running--;
    startNext();
  };
  const start = (): void => {
    stop = inflateOnStream(input, call, (error, output) => {
      finish();
      done(error, output);
    });
  };
  waiting.push(start);
  startNext();
  return () => {
    if (over) return;
    if (!stop) {
      over = true;
      waiting.splice(waiting.indexOf(start), 1);
      return;
    }
    stop();
    finish();
  };
}

/** Inflate `input` on a zlib stream of its own; the returned function stops it (then `done` never runs). */
function inflateOnStream(input: Uint8Array, call: InflateCall, done: InflateCallback): () => void {
  const stream = zlib.createInflateRaw({
    finishFlush: SYNC_FLUSH,
    windowBits: 15,
    dictionary: call.dictionary,
    chunkSize: ASYNC_CHUNK,
  });
  openStreams++;
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
    if (total > call.maxOutput) return settle(null, null);
    chunks.push(chunk);
  });
  stream.on("end", () => settle(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total)));
  stream.on("error", (error: Error) => settle(error, null));
  stream.on("close", () => openStreams--);
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
    try {
      return zlib.inflateRawSync(input, {
        finishFlush: SYNC_FLUSH,
        windowBits: 15,
        dictionary: call.dictionary,
        maxOutputLength: Math.max(1, call.maxOutput),
        chunkSize: chunkSize(Math.min(input.length * 4, call.maxOutput + 1)),
      });
    } catch (error) {
      if (isTooLarge(error)) return null;
      throw error;
    }
  },
  inflateAsync,
};
