// The bytes Node and Bun users get: Buffers, and one shared empty Buffer for every empty message, ping or
// pong payload and close reason, as ws gives its `EMPTY_BUFFER` (no allocation for them; it has no bytes
// anyone could change).

/** The one empty Buffer our events give. */
export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

// Taken once: the global `Buffer` is a getter (Node keeps it for ES modules' deprecation path), which
// optimized code calls on every message it allocates.
const allocUnsafe = Buffer.allocUnsafe;
const NodeBuffer = Buffer;

/**
 * Buffer.allocUnsafe, `EMPTY_BUFFER` for no bytes: the `alloc` of the Node and Bun hosts. Its `adopts`: any
 * Buffer is already the type handed out (an inflated message joined into a new Buffer by node:zlib is
 * delivered as it is, bindings/protocol/connection.ts `deliverInflated`).
 */
export const allocBuffer = Object.assign(
  (size: number): Buffer => (size === 0 ? EMPTY_BUFFER : allocUnsafe(size)),
  { adopts: (bytes: Uint8Array): boolean => bytes instanceof NodeBuffer },
);
