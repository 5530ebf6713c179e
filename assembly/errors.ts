// Why the engine failed a connection or refused a call. Each receive error names its RFC close code;
// bindings/errors.ts holds the one table that turns these numbers into messages.

/** Protocol violations found while reading frames; reported in an Error event with their close code. */
export namespace ReadError {
  // @ts-ignore: decorator
  @inline export const ReservedOpcode: u32 = 1;
  // @ts-ignore: decorator
  @inline export const ReservedBits: u32 = 2;
  // @ts-ignore: decorator
  @inline export const ControlTooLong: u32 = 3;
  // @ts-ignore: decorator
  @inline export const ControlFragmented: u32 = 4;
  // @ts-ignore: decorator
  @inline export const UnexpectedContinuation: u32 = 5;
  // @ts-ignore: decorator
  @inline export const ExpectedContinuation: u32 = 6;
  // @ts-ignore: decorator
  @inline export const UnmaskedClientFrame: u32 = 7;
  // @ts-ignore: decorator
  @inline export const MaskedServerFrame: u32 = 8;
  // @ts-ignore: decorator
  @inline export const LengthTopBit: u32 = 9;
  // @ts-ignore: decorator
  @inline export const InvalidUtf8: u32 = 10;
  // @ts-ignore: decorator
  @inline export const CloseLengthOne: u32 = 11;
  // @ts-ignore: decorator
  @inline export const InvalidCloseCode: u32 = 12;
  // @ts-ignore: decorator
  @inline export const InvalidCloseReason: u32 = 13;
  // @ts-ignore: decorator
  @inline export const MessageTooBig: u32 = 14;
}

/** Caller errors, returned as negative numbers by the writer and setup calls. */
export namespace CallError {
  // @ts-ignore: decorator
  @inline export const InvalidOpcode: i32 = -1;
  // @ts-ignore: decorator
  @inline export const ControlTooLong: i32 = -2;
  // @ts-ignore: decorator
  @inline export const EntropyExhausted: i32 = -3;
  // @ts-ignore: decorator
  @inline export const InvalidCloseCode: i32 = -4;
  // @ts-ignore: decorator
  @inline export const CloseReasonTooLong: i32 = -5;
  // @ts-ignore: decorator
  @inline export const CloseReasonNotUtf8: i32 = -6;
  // @ts-ignore: decorator
  @inline export const AlreadyClosing: i32 = -7;
  // @ts-ignore: decorator
  @inline export const InvalidConnection: i32 = -8;
  // @ts-ignore: decorator
  @inline export const OutOfMemory: i32 = -9;
  // @ts-ignore: decorator
  @inline export const InvalidArgument: i32 = -10;
}

/**
 * Why a handshake was refused (the `Reason` handshake field): the rule the request or response broke. Ids
 * start at 16 so `parseResponse` can return `-id` without colliding with a CallError (-1 to -15).
 */
export namespace HandshakeError {
  /** The head is longer than maxHeaderBytes (431). */
  // @ts-ignore: decorator
  @inline export const HeadTooLarge: u32 = 16;
  /** More than MAX_HEADERS header lines (431). */
  // @ts-ignore: decorator
  @inline export const TooManyHeaders: u32 = 17;
  /** A line ends with a bare LF instead of CRLF (400). */
  // @ts-ignore: decorator
  @inline export const BareLineFeed: u32 = 18;
  /** The request line is not `method SP /target SP HTTP/d.d` (400). */
  // @ts-ignore: decorator
  @inline export const BadRequestLine: u32 = 19;
  /** HTTP/1.0 (400), or a major version other than 1 (505); responses: anything but HTTP/1.1+. */
  // @ts-ignore: decorator
  @inline export const HttpVersion: u32 = 20;
  /** A header line without a token name and a colon, or with control bytes in its value (400). */
  // @ts-ignore: decorator
  @inline export const BadHeaderLine: u32 = 21;
  /** A header line starts with whitespace: obsolete line folding (400). */
  // @ts-ignore: decorator
  @inline export const ObsoleteLineFolding: u32 = 22;
  /** The method is not GET (405). */
  // @ts-ignore: decorator
  @inline export const MethodNotGet: u32 = 23;
  /** No Host header (400). */
  // @ts-ignore: decorator
  @inline export const HostMissing: u32 = 24;
  /** More than one Host header (400). */
  // @ts-ignore: decorator
  @inline export const HostRepeated: u32 = 25;
  /** No `websocket` token in an Upgrade header (400). */
  // @ts-ignore: decorator
  @inline export const UpgradeMissing: u32 = 26;
  /** No `upgrade` token in a Connection header (400). */
  // @ts-ignore: decorator
  @inline export const ConnectionMissing: u32 = 27;
  /** No Sec-WebSocket-Version header (400). */
  // @ts-ignore: decorator
  @inline export const VersionMissing: u32 = 28;
  /** More than one Sec-WebSocket-Version header (400). */
  // @ts-ignore: decorator
  @inline export const VersionRepeated: u32 = 29;
  /** Sec-WebSocket-Version is neither 13 nor 8 (426, with `Sec-WebSocket-Version: 13, 8`). */
  // @ts-ignore: decorator
  @inline export const VersionUnsupported: u32 = 30;
  /** No Sec-WebSocket-Key header (400). */
  // @ts-ignore: decorator
  @inline export const KeyMissing: u32 = 31;
  /** More than one Sec-WebSocket-Key header (400). */
  // @ts-ignore: decorator
  @inline export const KeyRepeated: u32 = 32;
  /** Sec-WebSocket-Key is not base64 of exactly 16 bytes (400). */
  // @ts-ignore: decorator
  @inline export const KeyInvalid: u32 = 33;
  /** The response's status line is not `HTTP/d.d SP ddd [SP phrase]`. */
  // @ts-ignore: decorator
  @inline export const BadStatusLine: u32 = 34;
  /** The response's status is not 101 (parseResponse returns that status). */
  // @ts-ignore: decorator
  @inline export const UnexpectedStatus: u32 = 35;
  /** The 101 response has no Sec-WebSocket-Accept. */
  // @ts-ignore: decorator
  @inline export const AcceptMissing: u32 = 36;
  /** More than one Sec-WebSocket-Accept header. */
  // @ts-ignore: decorator
  @inline export const AcceptRepeated: u32 = 37;
  /** Sec-WebSocket-Accept is not base64(SHA-1(key + GUID)) of this connection's key. */
  // @ts-ignore: decorator
  @inline export const AcceptMismatch: u32 = 38;
  /** The server chose a subprotocol the client did not offer, or more than one. */
  // @ts-ignore: decorator
  @inline export const ProtocolNotOffered: u32 = 39;
  /** The server answered with Sec-WebSocket-Extensions, and the client offered none. */
  // @ts-ignore: decorator
  @inline export const ExtensionNotOffered: u32 = 40;
  /** The client offered subprotocols and the 101 names none (as browsers and ws, not python-websockets). */
  // @ts-ignore: decorator
  @inline export const ProtocolMissing: u32 = 41;
}
