// What ws's `send` takes besides our SendData: a message as the list of chunks binaryType "fragments"
// delivers (@types/ws's `RawData` includes `Buffer[]`, so an echo of any received message type-checks and
// works). Joined into one payload here, at the API, before the session sees it.
import type { SendData } from "../protocol/send-data.js";

/** SendData, or a message as a list of chunks. */
export type MessageData = SendData | readonly Uint8Array[];

/** One payload for `data`: a list of chunks joined (a one-chunk list is that chunk), anything else as is. */
export function joinChunks(data: MessageData): SendData {
  if (!Array.isArray(data)) return data as SendData;
  const chunks = data as readonly Uint8Array[];
  if (chunks.length === 1) return chunks[0];
  let size = 0;
  for (const chunk of chunks) size += chunk.byteLength;
  const joined = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.byteLength;
  }
  return joined;
}
