// The one table from engine error numbers to close codes and messages a user can act on.

import { callErrors, HostError as EngineHostError, ReadError, readErrors } from "./abi.js";

/** Close status codes (RFC 6455 §7.4.1; assembly/close.ts). */
export { CloseCode } from "./abi.js";

/** The tables, generated from assembly/errors.ts: read (and host) errors, call errors, handshake rules. */
export { callErrors, handshakeErrors, readErrors, type HandshakeRule } from "./abi.js";

/** Rules the bindings check themselves (permessage-deflate), as ids of the read error table. */
export const HostError = {
  InvalidUtf8: ReadError.InvalidUtf8,
  MessageTooBig: ReadError.MessageTooBig,
  InflatedTooBig: EngineHostError.InflatedTooBig,
  InvalidCompressedData: EngineHostError.InvalidCompressedData,
} as const;

/** A protocol violation by the peer: the connection was failed with `closeCode`. */
export class WebSocketProtocolError extends Error {
  /** The close code sent to the peer. */
  readonly closeCode: number;
  /** The engine's name for the broken rule. */
  readonly rule: string;
  constructor(reason: number, closeCode: number, detail = "") {
    const entry = readErrors[reason];
    super(`${entry ? entry.message : `protocol error ${reason}`}${detail} (${closeCode})`);
    this.name = "WebSocketProtocolError";
    this.closeCode = closeCode;
    this.rule = entry ? entry.name : String(reason);
  }
}

/** Throw a clear error for a negative engine return value; returns the value otherwise. */
export function check(result: number, what: string): number {
  if (result >= 0) return result;
  const entry = callErrors[result];
  const message = entry?.message ?? `engine error ${result}`;
  throw entry?.argument ? new TypeError(`${what}: ${message}`) : new Error(`${what}: ${message}`);
}
