// What a send, a ping, a pong or a close reason takes, and its bytes: the value types of the send side,
// shared by sessions, server connections and clients.

/** Data a connection can send: a Blob is read first, and later sends wait for it (WHATWG order). */
export type SendData = string | ArrayBuffer | ArrayBufferView | Blob;

/** Data of a ping, a pong or a close reason (no Blob: those go out at once). */
export type ControlData = string | ArrayBuffer | ArrayBufferView;

/** Completion of a send, ping or pong: no error once written to the socket. */
export type WriteCallback = (error?: Error) => void;

/** Bytes `data` takes on the wire as a payload (the send queue's measure, shared with every client). */
export { byteSize } from "../policies/send-queue.js";

const encoder = new TextEncoder();

/** Bytes of any `SendData` but a Blob (strings are left to the engine's encoder). */
export function sendBytes(data: SendData): string | Uint8Array {
  if (typeof data === "string" || data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("send() takes a string, an ArrayBuffer or an ArrayBufferView");
}

/** Bytes for ping/pong payloads and close reasons given as strings or bytes. */
export function controlBytes(data: ControlData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (typeof data === "string") return encoder.encode(data);
  return sendBytes(data) as Uint8Array;
}

/**
 * A received message's bytes as an ArrayBuffer of their own: the one they fill, when they do (a message the
 * host made for this delivery and holds nowhere else: nothing copied, as ws does), else a copy of them.
 */
export function toArrayBuffer(data: Uint8Array): ArrayBuffer {
  if (data.length > 0 && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength)
    return data.buffer as ArrayBuffer;
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

/** The error of a write the socket closed before it happened. */
export function notWritten(): Error {
  return new Error("socket closed before the data was written");
}
