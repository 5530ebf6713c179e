// The permessage-deflate codec over node:zlib: one-shot raw deflate/inflate with Z_SYNC_FLUSH. Sync
// one-shot calls measured faster than zlib streams on the thread pool for 1 KiB and 64 KiB messages
// (docs/DEFLATE.md), and hold no zlib state between messages.
import * as zlib from "node:zlib";
import type { DeflateCall, DeflateCodec, InflateCall } from "../../bindings/protocol/permessage-deflate.js";

const SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;
const MAX_CHUNK = 16 * 1024;

/** An output chunk size near the expected output: small messages allocate little. */
function chunkSize(expected: number): number {
  let size = 1024;
  while (size < expected && size < MAX_CHUNK) size <<= 1;
  return size;
}

function isTooLarge(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE";
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
};
