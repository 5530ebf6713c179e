// The one table from engine error numbers to close codes and messages a user can act on.

/** Close status codes (RFC 6455 §7.4.1). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  NoStatus: 1005,
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
} as const;

/** Protocol violations the engine reports (assembly/errors.ts ReadError), with their close code. */
export const readErrors: Readonly<Record<number, { name: string; closeCode: number; message: string }>> = {
  1: { name: "ReservedOpcode", closeCode: 1002, message: "frame uses a reserved opcode" },
  2: { name: "ReservedBits", closeCode: 1002, message: "frame sets RSV bits without a negotiated extension" },
  3: { name: "ControlTooLong", closeCode: 1002, message: "control frame payload longer than 125 bytes" },
  4: { name: "ControlFragmented", closeCode: 1002, message: "control frame without FIN (fragmented)" },
  5: {
    name: "UnexpectedContinuation",
    closeCode: 1002,
    message: "continuation frame with no message started",
  },
  6: { name: "ExpectedContinuation", closeCode: 1002, message: "new data frame inside a fragmented message" },
  7: { name: "UnmaskedClientFrame", closeCode: 1002, message: "client frame not masked" },
  8: { name: "MaskedServerFrame", closeCode: 1002, message: "server frame masked" },
  9: { name: "LengthTopBit", closeCode: 1002, message: "64-bit payload length with the top bit set" },
  10: { name: "InvalidUtf8", closeCode: 1007, message: "text message is not valid UTF-8" },
  11: { name: "CloseLengthOne", closeCode: 1002, message: "close frame with a 1-byte payload" },
  12: { name: "InvalidCloseCode", closeCode: 1002, message: "close frame with an invalid status code" },
  13: { name: "InvalidCloseReason", closeCode: 1007, message: "close reason is not valid UTF-8" },
  14: { name: "MessageTooBig", closeCode: 1009, message: "message longer than maxPayload" },
};

/** Caller errors the engine returns as negative numbers (assembly/errors.ts CallError). */
export const callErrors: Readonly<Record<number, string>> = {
  [-1]: "invalid opcode for this call",
  [-2]: "control frame payload must be at most 125 bytes and unfragmented",
  [-3]: "entropy pool exhausted (the host must refill it)",
  [-4]: "invalid close code: use 1000-1003, 1007-1014 or 3000-4999 (or none, without a reason)",
  [-5]: "close reason longer than 123 bytes (UTF-8)",
  [-6]: "close reason is not valid UTF-8",
  [-7]: "the connection is closing: a close frame was already sent",
  [-8]: "invalid connection slot",
  [-9]: "not enough Wasm memory for init",
  [-10]: "invalid argument",
};

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
  const message = callErrors[result] ?? `engine error ${result}`;
  throw result === -4 || result === -5 || result === -6 || result === -1 || result === -2 || result === -10
    ? new TypeError(`${what}: ${message}`)
    : new Error(`${what}: ${message}`);
}
