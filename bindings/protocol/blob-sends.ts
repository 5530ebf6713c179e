// Blob payloads, as WHATWG WebSocket.send(blob) takes them: a Blob is read asynchronously, so it and every
// send (and a close) made after it wait, in order, until it is read (held-sends.ts holds them). Runtime-neutral:
// Blob is a global in Node ≥ 18, Bun and browsers.

/** Whether `data` is a Blob (or File). */
export function isBlob(data: unknown): data is Blob {
  return typeof Blob !== "undefined" && data instanceof Blob;
}

/** What the sends held behind a Blob get when the connection closes while it is read (ws's words). */
export const CLOSED_WHILE_READING = "The socket was closed while the blob was being read";

/** A Blob's bytes; rejects with the reader's own error (a DOMException NotReadableError for a file changed since). */
export function readBlob(blob: Blob): Promise<Uint8Array> {
  return blob.arrayBuffer().then((buffer) => new Uint8Array(buffer));
}
