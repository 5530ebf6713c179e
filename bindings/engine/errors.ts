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
export class WebSocketProtocolError extends RangeError {
  /** The close code sent to the peer. */
  readonly closeCode: number;
  /** The engine's name for the broken rule. */
  readonly rule: string;
  /** ws's error code for the rule (`WS_ERR_*`), so code written for ws's errors can switch on it. */
  readonly code: string;
  constructor(reason: number, closeCode: number, detail = "") {
    const entry = readErrors[reason];
    super(`${entry ? entry.message : `protocol error ${reason}`}${detail} (${closeCode})`);
    this.name = "WebSocketProtocolError";
    this.closeCode = closeCode;
    this.rule = entry ? entry.name : String(reason);
    this.code = wsErrorCodes[this.rule] ?? "WS_ERR_PROTOCOL";
  }
}

/** ws's `err.code` (lib/receiver.js) for each rule; a RangeError, as ws's frame errors are. */
const wsErrorCodes: Readonly<Record<string, string>> = {
  ReservedOpcode: "WS_ERR_INVALID_OPCODE",
  ReservedBits: "WS_ERR_UNEXPECTED_RSV_1",
  ControlTooLong: "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
  ControlFragmented: "WS_ERR_EXPECTED_FIN",
  UnexpectedContinuation: "WS_ERR_INVALID_OPCODE",
  ExpectedContinuation: "WS_ERR_INVALID_OPCODE",
  UnmaskedClientFrame: "WS_ERR_EXPECTED_MASK",
  MaskedServerFrame: "WS_ERR_UNEXPECTED_MASK",
  LengthTopBit: "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH",
  InvalidUtf8: "WS_ERR_INVALID_UTF8",
  CloseLengthOne: "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
  InvalidCloseCode: "WS_ERR_INVALID_CLOSE_CODE",
  InvalidCloseReason: "WS_ERR_INVALID_UTF8",
  MessageTooBig: "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
  InflatedTooBig: "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
  InvalidCompressedData: "Z_DATA_ERROR",
};

/** Throw a clear error for a negative engine return value; returns the value otherwise. */
export function check(result: number, what: string): number {
  if (result >= 0) return result;
  const entry = callErrors[result];
  const message = entry?.message ?? `engine error ${result}`;
  throw entry?.argument ? new TypeError(`${what}: ${message}`) : new Error(`${what}: ${message}`);
}
