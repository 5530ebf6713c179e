// The send queue shared by every client host: messages sent while a client is not open (reconnecting, or
// still connecting in the browser) are held in order, bounded by `maxQueued`, and counted in bufferedAmount
// until the next open delivers them. Holds values only; no transport.
import { defaults } from "./config.js";

const encoder = new TextEncoder();

/** Bytes `data` takes on the wire as a payload: a string's UTF-8 length, a Blob's size, else its byteLength. */
export function byteSize(data: string | Blob | { readonly byteLength: number }): number {
  if (typeof data === "string") return encoder.encode(data).length;
  return typeof Blob !== "undefined" && data instanceof Blob
    ? data.size
    : (data as ArrayBufferView).byteLength;
}

/** Messages held while a client is not open, in the order sent. */
export class SendQueue<T> {
  private items: T[] = [];
  private held = 0;
  private readonly max: number;

  constructor(maxQueued: number = defaults.maxQueued) {
    this.max = maxQueued;
  }

  /** Messages held. */
  get length(): number {
    return this.items.length;
  }

  /** Payload bytes held (part of the client's bufferedAmount). */
  get bytes(): number {
    return this.held;
  }

  /** Hold `item`, of `bytes` payload bytes; a RangeError once `maxQueued` messages are held. */
  push(item: T, bytes: number): void {
    if (this.items.length >= this.max)
      throw new RangeError(
        `send queue full: ${this.items.length} messages held while not open (maxQueued ${this.max})`,
      );
    this.items.push(item);
    this.held += bytes;
  }

  /** Everything held, in order, for the connection that just opened; the queue is empty after. */
  take(): T[] {
    const items = this.items;
    this.clear();
    return items;
  }

  /** Drop everything held (the client closed). */
  clear(): void {
    this.items = [];
    this.held = 0;
  }
}
