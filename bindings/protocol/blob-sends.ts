// Blob payloads, as WHATWG WebSocket.send(blob) takes them: a Blob is read asynchronously, so it and every
// send (and a close) made after it wait, in order, until it is read. Runtime-neutral: Blob is a global in
// Node ≥ 18, Bun and browsers. Nothing here runs unless a Blob is sent.

/** A send waiting behind a Blob: `data` is the Blob itself until it is read. */
export interface PendingSend {
  data: string | Uint8Array | Blob;
  binary: boolean;
  fragmentSize: number;
  callback?: (error?: Error) => void;
  /** Compress when permessage-deflate was negotiated (default true). */
  compress?: boolean;
  /** Last piece of its message (`fin: false` sends a message in pieces; default true). */
  fin?: boolean;
  /** A close requested behind the Blobs: code and reason instead of data. */
  close?: { code?: number; reason: string };
}

/** Whether `data` is a Blob (or File). */
export function isBlob(data: unknown): data is Blob {
  return typeof Blob !== "undefined" && data instanceof Blob;
}

const encoder = new TextEncoder();

function sizeOf(data: PendingSend["data"]): number {
  if (typeof data === "string") return encoder.encode(data).length;
  return isBlob(data) ? data.size : data.byteLength;
}

/** What the sends held behind a Blob get when the connection closes while it is read (ws's words). */
export const CLOSED_WHILE_READING = "The socket was closed while the blob was being read";

/** Sends held in order while a Blob ahead of them is read. */
export class BlobSends {
  private items: PendingSend[] = [];
  private reading: PendingSend | null = null;
  /** The connection is gone: the Blob being read settles what is held, then nothing more is sent. */
  private closed = false;
  private readonly send: (item: PendingSend) => void;
  private readonly failed: (error: Error) => void;
  private readonly writable: () => boolean;
  /** Payload bytes held (a Blob counts its size), part of `bufferedAmount`. */
  bytes = 0;

  /**
   * `send` gets each item once everything before it went; `failed` a Blob that could not be read;
   * `writable` says whether the socket can still take bytes when a Blob has been read.
   */
  constructor(send: (item: PendingSend) => void, failed: (error: Error) => void, writable: () => boolean) {
    this.send = send;
    this.failed = failed;
    this.writable = writable;
  }

  /** Something is held: later sends must queue behind it. */
  get waiting(): boolean {
    return this.items.length > 0;
  }

  /** Hold a send (or close) until what is ahead of it went; a Blob starts being read. */
  push(item: PendingSend): void {
    this.items.push(item);
    if (!item.close) this.bytes += sizeOf(item.data);
    this.next();
  }

  /**
   * The connection is gone: drop everything held. As ws does, the Blob being read finishes first, then each
   * callback gets the reader's error, or CLOSED_WHILE_READING when it was read.
   */
  clear(): void {
    this.closed = true;
    if (this.reading === null) this.drop(new Error(CLOSED_WHILE_READING));
  }

  private drop(error: Error): void {
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    this.reading = null;
    for (const item of items) item.callback?.(error);
  }

  private next(): void {
    while (this.items.length > 0 && this.reading === null) {
      const head = this.items[0];
      if (isBlob(head.data)) return this.read(head, head.data);
      this.items.shift();
      if (!head.close) this.bytes -= sizeOf(head.data);
      this.send(head);
    }
  }

  private read(item: PendingSend, blob: Blob): void {
    this.reading = item;
    blob.arrayBuffer().then(
      (buffer) => {
        if (this.closed || !this.writable()) return this.drop(new Error(CLOSED_WHILE_READING));
        this.reading = null;
        item.data = new Uint8Array(buffer);
        this.next();
      },
      (reason: unknown) => {
        // The reader's own error (a DOMException NotReadableError for a file changed since), as ws reports
        // it: to this send's callback and those behind it, then (if still open) as the connection's error.
        const error =
          reason instanceof Error ? reason : new Error(`could not read the Blob given to send(): ${reason}`);
        this.drop(error);
        if (!this.closed) this.failed(error);
      },
    );
  }
}
