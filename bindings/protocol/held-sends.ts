// Sends held in order behind one that is made ready off the event loop: a Blob being read (WHATWG
// send(blob)), a long message being compressed on zlib's thread pool (permessage-deflate.ts), or a long
// published message being compressed there once for many connections (pubsub.ts PublishedFrame). Every
// send, published frame and close made after it waits, so messages go out in the order they were sent. From
// a compression on until nothing waits, the connection also holds its input (connection.ts `holdInput`), so
// nothing the engine answers by itself (pongs, the reply to a close) overtakes a message being compressed; a
// Blob being read does not hold it (as in ws, the peer's frames are read meanwhile). Nothing here runs
// unless something has to wait.
import { CLOSED_WHILE_READING, isBlob, readBlob } from "./blob-sends.js";
import type { PublishedFrame } from "./pubsub.js";

/** A send waiting its turn: `data` is the Blob itself until it is read. */
export interface PendingSend {
  data: string | Uint8Array | Blob;
  binary: boolean;
  fragmentSize: number;
  callback?: (error?: Error) => void;
  /** Compress when permessage-deflate was negotiated (default true). */
  compress?: boolean;
  /** Last piece of its message (`fin: false` sends a message in pieces; default true). */
  fin?: boolean;
  /** A close requested behind the held sends: code and reason instead of data. */
  close?: { code?: number; reason: string };
  /** `data` is the message's payload compressed already (RSV1): it is framed as it is. */
  compressed?: boolean;
  /** A published message framed for many connections (`data` unused): it goes as it is once ready. */
  frame?: PublishedFrame;
  /** With `frame`: skip it, rather than fail the connection, if the output is past its budget then. */
  drop?: boolean;
  /** With a `frame` not ready when held: stop waiting for it (the connection closed). */
  leave?: () => void;
}

/** What the sends held behind a message being compressed get when the connection closes (ws's words). */
export const CLOSED_WHILE_COMPRESSING = "The socket was closed while data was being compressed";

/** What held sends ask of their connection. */
export interface HeldSendsHost {
  /** Hold the connection's input: a message is being compressed. */
  holdInput(): void;
  /** Nothing waits any more: replay the input held meanwhile. */
  releaseInput(): void;
  /** Send an item whose turn came, its data (or frame) ready. */
  sendHeld(item: PendingSend): void;
  /** A Blob could not be read, or a message not compressed: the connection fails. */
  heldFailed(error: Error): void;
  /** The socket can still take bytes. */
  readonly heldWritable: boolean;
  /**
   * Start compressing `item` off the event loop if it should be: `done` gets its payload (or zlib's error)
   * later, and the returned function cancels; null when it goes as it is.
   */
  compressHeld(item: PendingSend, done: (result: Uint8Array | Error) => void): (() => void) | null;
}

const encoder = new TextEncoder();

/** Application data of a held item: what it adds to `bufferedAmount`. */
function weight(item: PendingSend): number {
  if (item.close) return 0;
  return item.frame ? item.frame.payload.length : sizeOf(item.data);
}

function sizeOf(data: PendingSend["data"]): number {
  if (typeof data === "string") return encoder.encode(data).length;
  return isBlob(data) ? data.size : data.byteLength;
}

/** One connection's held sends, in order. */
export class HeldSends {
  private readonly host: HeldSendsHost;
  private items: PendingSend[] = [];
  /** The head is being read (a Blob) or compressed (its own, or a published frame), off the event loop. */
  private busy: "reading" | "compressing" | null = null;
  private cancelCompress: (() => void) | null = null;
  /** The connection's input is held since a compression began. */
  private holdingInput = false;
  /** The connection is gone: nothing more is sent. */
  private closed = false;
  /** Payload bytes held (a Blob counts its size), part of `bufferedAmount`. */
  bytes = 0;

  constructor(host: HeldSendsHost) {
    this.host = host;
  }

  /** Something is held: later sends must queue behind it. */
  get waiting(): boolean {
    return this.items.length > 0;
  }

  /** Hold a send (or close) until what is ahead of it went; a Blob starts being read, a long message compressed. */
  push(item: PendingSend): void {
    this.items.push(item);
    this.bytes += weight(item);
    // Waiting from now on, wherever it is in the queue: a frame no connection waits for is not compressed.
    if (item.frame && !item.frame.ready) item.leave = item.frame.wait(() => this.frameReady(item));
    this.next();
  }

  /**
   * The connection is gone: drop everything held. As ws does, a Blob being read finishes first, then each
   * callback gets the reader's error, or CLOSED_WHILE_READING when it was read; a compression is stopped at
   * once, and each callback gets CLOSED_WHILE_COMPRESSING.
   */
  clear(): void {
    this.closed = true;
    if (this.busy === "reading") return;
    const compressing = this.busy === "compressing";
    this.cancelCompress?.();
    this.cancelCompress = null;
    this.drop(new Error(compressing ? CLOSED_WHILE_COMPRESSING : CLOSED_WHILE_READING));
  }

  private drop(error: Error): void {
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    this.busy = null;
    for (const item of items) {
      item.leave?.();
      item.callback?.(error);
    }
  }

  private next(): void {
    while (this.items.length > 0 && this.busy === null) {
      const head = this.items[0];
      if (head.frame) {
        if (!head.frame.ready) return this.awaitFrame();
      } else if (isBlob(head.data)) return this.read(head, head.data);
      else if (!head.close && !head.compressed && this.compress(head)) return;
      this.items.shift();
      this.bytes -= weight(head);
      this.host.sendHeld(head);
    }
    if (this.items.length > 0 || !this.holdingInput || this.closed) return;
    this.holdingInput = false;
    this.host.releaseInput();
  }

  private compress(item: PendingSend): boolean {
    const before = sizeOf(item.data);
    const cancel = this.host.compressHeld(item, (result) => this.compressed(item, result));
    if (!cancel) return false;
    this.holdInputWhileCompressing();
    // The host may have encoded a string: the same bytes, counted once.
    this.bytes += sizeOf(item.data) - before;
    this.busy = "compressing";
    this.cancelCompress = cancel;
    return true;
  }

  /** The head is a published frame still being compressed (for many connections): wait for it. */
  private awaitFrame(): void {
    this.holdInputWhileCompressing();
    this.busy = "compressing";
  }

  /** A held published frame is ready: if the queue waits for it, go on. */
  private frameReady(item: PendingSend): void {
    item.leave = undefined;
    if (this.items[0] !== item || this.busy !== "compressing" || this.cancelCompress !== null) return;
    this.busy = null;
    this.next();
  }

  private holdInputWhileCompressing(): void {
    if (this.holdingInput) return;
    this.holdingInput = true;
    this.host.holdInput();
  }

  private compressed(item: PendingSend, result: Uint8Array | Error): void {
    this.busy = null;
    this.cancelCompress = null;
    if (this.closed) return this.drop(new Error(CLOSED_WHILE_COMPRESSING));
    if (result instanceof Error) {
      this.drop(result);
      return this.host.heldFailed(result);
    }
    this.bytes += result.length - sizeOf(item.data);
    item.data = result;
    item.compressed = true;
    this.next();
  }

  private read(item: PendingSend, blob: Blob): void {
    this.busy = "reading";
    readBlob(blob).then(
      (bytes) => {
        if (this.closed || !this.host.heldWritable) return this.drop(new Error(CLOSED_WHILE_READING));
        this.busy = null;
        this.bytes += bytes.length - blob.size;
        item.data = bytes;
        this.next();
      },
      (reason: unknown) => {
        // The reader's own error, as ws reports it: to this send's callback and those behind it, then (if
        // still open) as the connection's error.
        const error =
          reason instanceof Error ? reason : new Error(`could not read the Blob given to send(): ${reason}`);
        this.drop(error);
        if (!this.closed) this.host.heldFailed(error);
      },
    );
  }
}
