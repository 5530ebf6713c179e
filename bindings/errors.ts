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
  64: { name: "InflatedTooBig", closeCode: 1009, message: "compressed message inflates past maxPayload" },
  65: {
    name: "InvalidCompressedData",
    closeCode: 1007,
    message: "compressed message is not valid deflate data",
  },
};

/** Rules the bindings check themselves (permessage-deflate), as ids of the table above. */
export const HostError = {
  InvalidUtf8: 10,
  MessageTooBig: 14,
  InflatedTooBig: 64,
  InvalidCompressedData: 65,
} as const;

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

/** A handshake rule (assembly/errors.ts HandshakeError): its name, the status a server answers, a message. */
export interface HandshakeRule {
  name: string;
  /** The HTTP status a server refuses a request with (0: a rule only responses break). */
  status: number;
  message: string;
}

/** Why a handshake failed, by HandshakeError id. */
export const handshakeErrors: Readonly<Record<number, HandshakeRule>> = {
  16: { name: "HeadTooLarge", status: 431, message: "handshake head longer than maxHeaderBytes" },
  17: { name: "TooManyHeaders", status: 431, message: "more header lines than the engine's MAX_HEADERS" },
  18: { name: "BareLineFeed", status: 400, message: "a line of the head ends with LF instead of CRLF" },
  19: { name: "BadRequestLine", status: 400, message: "request line is not `GET /path HTTP/1.1`" },
  20: { name: "HttpVersion", status: 400, message: "HTTP version is not HTTP/1.1 or a later 1.x" },
  21: { name: "BadHeaderLine", status: 400, message: "malformed header line (name, colon or control bytes)" },
  22: {
    name: "ObsoleteLineFolding",
    status: 400,
    message: "header line continued with obsolete line folding",
  },
  23: { name: "MethodNotGet", status: 405, message: "method is not GET" },
  24: { name: "HostMissing", status: 400, message: "no Host header" },
  25: { name: "HostRepeated", status: 400, message: "more than one Host header" },
  26: { name: "UpgradeMissing", status: 400, message: "no `Upgrade: websocket` header" },
  27: { name: "ConnectionMissing", status: 400, message: "no `upgrade` token in the Connection header" },
  28: { name: "VersionMissing", status: 400, message: "no Sec-WebSocket-Version header" },
  29: { name: "VersionRepeated", status: 400, message: "more than one Sec-WebSocket-Version header" },
  30: { name: "VersionUnsupported", status: 426, message: "Sec-WebSocket-Version is neither 13 nor 8" },
  31: { name: "KeyMissing", status: 400, message: "no Sec-WebSocket-Key header" },
  32: { name: "KeyRepeated", status: 400, message: "more than one Sec-WebSocket-Key header" },
  33: { name: "KeyInvalid", status: 400, message: "Sec-WebSocket-Key is not base64 of 16 bytes" },
  34: { name: "BadStatusLine", status: 0, message: "response status line is not `HTTP/1.1 101 ...`" },
  35: { name: "UnexpectedStatus", status: 0, message: "server answered without switching protocols" },
  36: { name: "AcceptMissing", status: 0, message: "101 response without Sec-WebSocket-Accept" },
  37: { name: "AcceptRepeated", status: 0, message: "more than one Sec-WebSocket-Accept header" },
  38: { name: "AcceptMismatch", status: 0, message: "Sec-WebSocket-Accept does not match the key sent" },
  39: {
    name: "ProtocolNotOffered",
    status: 0,
    message: "server chose a subprotocol the client did not offer",
  },
  40: {
    name: "ExtensionNotOffered",
    status: 0,
    message: "server sent Sec-WebSocket-Extensions, none were offered",
  },
  41: { name: "ProtocolMissing", status: 0, message: "subprotocols were offered and the server chose none" },
};

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
  const message = callErrors[result] ?? `engine error ${result}`;
  throw result === -4 || result === -5 || result === -6 || result === -1 || result === -2 || result === -10
    ? new TypeError(`${what}: ${message}`)
    : new Error(`${what}: ${message}`);
}
