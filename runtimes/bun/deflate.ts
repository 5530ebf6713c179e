// The permessage-deflate codec on Bun: Bun's node:zlib has the same one-shot raw deflate/inflate calls
// (preset dictionary, Z_SYNC_FLUSH, maxOutputLength), so the Node codec serves as is.
export { nodeDeflateCodec as bunDeflateCodec } from "../node/deflate.js";
