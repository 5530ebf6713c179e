// The permessage-deflate codec on Bun: Bun's node:zlib has the same one-shot raw deflate/inflate calls
// (preset dictionary, Z_SYNC_FLUSH, maxOutputLength) and InflateRaw streams that run off the event loop
// (measured: 20 bombs of 64 MiB on streams with 64 KiB chunks stalled it 4-6 ms at most, against 155-253 ms
// inflated synchronously), so the Node codec serves as is.
export { nodeDeflateCodec as bunDeflateCodec } from "../node/deflate.js";
