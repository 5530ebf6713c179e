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
  TooManyFragments: EngineHostError.TooManyFragments,
} as const;

/**
 * A protocol violation by the peer: the connection was failed with `closeCode`. The message and `code` are
 * ws's for the rule (the error table's `@wsMessage`/`@wsCode`, assembly/errors.ts), so code written against
 * ws's errors reads ours alike; `rule` names the engine's rule and `closeCode` the code sent.
 */
export class WebSocketProtocolError extends RangeError {
  /** The close code sent to the peer. */
  readonly closeCode: number;
  /** The engine's name for the broken rule. */
  readonly rule: string;
  /** ws's error code for the rule (`WS_ERR_*`, `Z_DATA_ERROR` for corrupt deflate data). */
  readonly code: string;
  /** zlib's error number for corrupt deflate data (as ws passes zlib's error on). */
  errno?: number;
  /**
   * @param reason the ReadError (or HostError) id
   * @param value what the message names: the number the engine's Error event reports, a host's detail
   */
  constructor(reason: number, closeCode: number, value: number | string = 0) {
    const entry = readErrors[reason];
    super(
      entry ? entry.wsMessage.replace("{value}", String(value)) : `protocol error ${reason} (${closeCode})`,
    );
    this.name = "WebSocketProtocolError";
    this.closeCode = closeCode;
    this.rule = entry ? entry.name : String(reason);
    this.code = entry?.wsCode || "WS_ERR_PROTOCOL";
  }
}

/** Throw a clear error for a negative engine return value; returns the value otherwise. */
export function check(result: number, what: string): number {
  if (result >= 0) return result;
  const entry = callErrors[result];
  const message = entry?.message ?? `engine error ${result}`;
  throw entry?.argument ? new TypeError(`${what}: ${message}`) : new Error(`${what}: ${message}`);
}
