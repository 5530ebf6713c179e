// Text as it travels: UTF-8 bytes in, the same characters out. TextDecoder's default strips a leading U+FEFF
// (byte-order mark), which would change a message that begins with one; ws, Bun and browsers keep it.

/** A UTF-8 decoder that keeps a leading U+FEFF (one per stream of fragments). */
export function utf8Decoder(): TextDecoder {
  return new TextDecoder("utf-8", { ignoreBOM: true });
}

/** The shared decoder for whole messages and close reasons (the engine validated the bytes). */
export const utf8 = utf8Decoder();
