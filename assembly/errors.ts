// Why the engine failed a connection or refused a call: the one error table. Each constant's doc is the
// rule a user reads about; tags give a ReadError's close code (`@closeCode`), a HandshakeError's refusal
// status (`@status`), a CallError caused by a bad argument (`@argument`), and what `ws` (the Node library
// whose API the Node and Bun hosts keep) says for the same rule: `@wsCode` (its `err.code`), `@wsMessage`
// (its message; `{value}` is the number the engine reports with the error: the opcode, length byte, close
// code or response status; for a host's error, its detail) and, where ws refuses a request with another
// status, `@wsStatus`. scripts/gen-abi.mjs reads them into bindings/engine/abi.ts and
// runtimes/wamr/src/wsk_abi.h, so hosts never copy the table.

/** Protocol violations found while reading frames; reported in an Error event with their close code. */
export namespace ReadError {
  /**
   * frame uses a reserved opcode. @closeCode 1002
   * @wsCode WS_ERR_INVALID_OPCODE @wsMessage Invalid WebSocket frame: invalid opcode {value}
   */
  // @ts-ignore: decorator
  @inline export const ReservedOpcode: u32 = 1;
  /**
   * frame sets RSV2 or RSV3 (no extension defines them). @closeCode 1002
   * @wsCode WS_ERR_UNEXPECTED_RSV_2_3 @wsMessage Invalid WebSocket frame: RSV2 and RSV3 must be clear
   */
  // @ts-ignore: decorator
  @inline export const ReservedBits: u32 = 2;
  /**
   * control frame payload longer than 125 bytes. @closeCode 1002
   * @wsCode WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH @wsMessage Invalid WebSocket frame: invalid payload length {value}
   */
  // @ts-ignore: decorator
  @inline export const ControlTooLong: u32 = 3;
  /**
   * control frame without FIN (fragmented). @closeCode 1002
   * @wsCode WS_ERR_EXPECTED_FIN @wsMessage Invalid WebSocket frame: FIN must be set
   */
  // @ts-ignore: decorator
  @inline export const ControlFragmented: u32 = 4;
  /**
   * continuation frame with no message started. @closeCode 1002
   * @wsCode WS_ERR_INVALID_OPCODE @wsMessage Invalid WebSocket frame: invalid opcode 0
   */
  // @ts-ignore: decorator
  @inline export const UnexpectedContinuation: u32 = 5;
  /**
   * new data frame inside a fragmented message. @closeCode 1002
   * @wsCode WS_ERR_INVALID_OPCODE @wsMessage Invalid WebSocket frame: invalid opcode {value}
   */
  // @ts-ignore: decorator
  @inline export const ExpectedContinuation: u32 = 6;
  /**
   * client frame not masked. @closeCode 1002
   * @wsCode WS_ERR_EXPECTED_MASK @wsMessage Invalid WebSocket frame: MASK must be set
   */
  // @ts-ignore: decorator
  @inline export const UnmaskedClientFrame: u32 = 7;
  /**
   * server frame masked. @closeCode 1002
   * @wsCode WS_ERR_UNEXPECTED_MASK @wsMessage Invalid WebSocket frame: MASK must be clear
   */
  // @ts-ignore: decorator
  @inline export const MaskedServerFrame: u32 = 8;
  /**
   * 64-bit payload length with the top bit set. @closeCode 1002
   * @wsCode WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH @wsMessage Unsupported WebSocket frame: payload length > 2^53 - 1
   */
  // @ts-ignore: decorator
  @inline export const LengthTopBit: u32 = 9;
  /**
   * text message is not valid UTF-8. @closeCode 1007
   * @wsCode WS_ERR_INVALID_UTF8 @wsMessage Invalid WebSocket frame: invalid UTF-8 sequence
   */
  // @ts-ignore: decorator
  @inline export const InvalidUtf8: u32 = 10;
  /**
   * close frame with a 1-byte payload. @closeCode 1002
   * @wsCode WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH @wsMessage Invalid WebSocket frame: invalid payload length 1
   */
  // @ts-ignore: decorator
  @inline export const CloseLengthOne: u32 = 11;
  /**
   * close frame with an invalid status code. @closeCode 1002
   * @wsCode WS_ERR_INVALID_CLOSE_CODE @wsMessage Invalid WebSocket frame: invalid status code {value}
   */
  // @ts-ignore: decorator
  @inline export const InvalidCloseCode: u32 = 12;
  /**
   * close reason is not valid UTF-8. @closeCode 1007
   * @wsCode WS_ERR_INVALID_UTF8 @wsMessage Invalid WebSocket frame: invalid UTF-8 sequence
   */
  // @ts-ignore: decorator
  @inline export const InvalidCloseReason: u32 = 13;
  /**
   * message longer than maxPayload. @closeCode 1009
   * @wsCode WS_ERR_UNSUPPORTED_MESSAGE_LENGTH @wsMessage Max payload size exceeded
   */
  // @ts-ignore: decorator
  @inline export const MessageTooBig: u32 = 14;
  /**
   * frame sets RSV1 without a negotiated extension, or on a continuation or control frame. @closeCode 1002
   * @wsCode WS_ERR_UNEXPECTED_RSV_1 @wsMessage Invalid WebSocket frame: RSV1 must be clear
   */
  // @ts-ignore: decorator
  @inline export const UnexpectedRsv1: u32 = 15;
}

/**
 * Rules a host checks itself (permessage-deflate inflates outside the engine), numbered in ReadError's table
 * from 64 so the two never collide; a host reports them as it reports ReadErrors.
 */
export namespace HostError {
  /**
   * compressed message inflates past maxPayload. @closeCode 1009
   * @wsCode WS_ERR_UNSUPPORTED_MESSAGE_LENGTH @wsMessage Max payload size exceeded
   */
  // @ts-ignore: decorator
  @inline export const InflatedTooBig: u32 = 64;
  /**
   * compressed message is not valid deflate data. @closeCode 1007
   * @wsCode Z_DATA_ERROR @wsMessage {value}
   */
  // @ts-ignore: decorator
  @inline export const InvalidCompressedData: u32 = 65;
  /**
   * message comes in more frames than maxFragments. @closeCode 1008
   * @wsCode WS_ERR_TOO_MANY_BUFFERED_PARTS @wsMessage Too many message fragments
   */
  // @ts-ignore: decorator
  @inline export const TooManyFragments: u32 = 66;
}

/** Caller errors, returned as negative numbers by the writer and setup calls. */
export namespace CallError {
  /** invalid opcode for this call. @argument */
  // @ts-ignore: decorator
  @inline export const InvalidOpcode: i32 = -1;
  /** control frame payload must be at most 125 bytes and unfragmented. @argument */
  // @ts-ignore: decorator
  @inline export const ControlTooLong: i32 = -2;
  /** entropy pool exhausted (the host must refill it). */
  // @ts-ignore: decorator
  @inline export const EntropyExhausted: i32 = -3;
  /** invalid close code: use 1000-1003, 1007-1014 or 3000-4999 (or none, without a reason). @argument */
  // @ts-ignore: decorator
  @inline export const InvalidCloseCode: i32 = -4;
  /** close reason longer than 123 bytes (UTF-8). @argument */
  // @ts-ignore: decorator
  @inline export const CloseReasonTooLong: i32 = -5;
  /** close reason is not valid UTF-8. @argument */
  // @ts-ignore: decorator
  @inline export const CloseReasonNotUtf8: i32 = -6;
  /** the connection is closing: a close frame was already sent. */
  // @ts-ignore: decorator
  @inline export const AlreadyClosing: i32 = -7;
  /** invalid connection slot. */
  // @ts-ignore: decorator
  @inline export const InvalidConnection: i32 = -8;
  /** not enough Wasm memory for init. */
  // @ts-ignore: decorator
  @inline export const OutOfMemory: i32 = -9;
  /** invalid argument. @argument */
  // @ts-ignore: decorator
  @inline export const InvalidArgument: i32 = -10;
  /** the message being written still has frames to write (nextFrame until its last). */
  // @ts-ignore: decorator
  @inline export const MessageUnfinished: i32 = -11;
  /** no message frame to write (beginMessage first). */
  // @ts-ignore: decorator
  @inline export const NoMessage: i32 = -12;
  /** compression (RSV1) needs a negotiated extension and the first frame of a message. @argument */
  // @ts-ignore: decorator
  @inline export const CompressionNotAllowed: i32 = -13;
  /** not in this engine build: WebSockets over HTTP/2 (RFC 8441) are left out of the `firmware` build (BUILD_HTTP2=0). */
  // @ts-ignore: decorator
  @inline export const NotBuilt: i32 = -14;
}

/** The first HandshakeError id: a `parseResponse` result of `-HANDSHAKE_ERROR_FIRST` or less is a broken rule. */
export const HANDSHAKE_ERROR_FIRST: u32 = 16;

/**
 * Why a handshake was refused (the `Reason` handshake field): the rule the request or response broke. Ids
 * start at 16 so `parseResponse` can return `-id` without colliding with a CallError (-1 to -15).
 */
export namespace HandshakeError {
  /** handshake head longer than maxHeaderBytes. @status 431 */
  // @ts-ignore: decorator
  @inline export const HeadTooLarge: u32 = HANDSHAKE_ERROR_FIRST;
  /** more header lines than the engine's MAX_HEADERS. @status 431 */
  // @ts-ignore: decorator
  @inline export const TooManyHeaders: u32 = 17;
  /** a line of the head ends with LF instead of CRLF. @status 400 */
  // @ts-ignore: decorator
  @inline export const BareLineFeed: u32 = 18;
  /** request line is not `GET /path HTTP/1.1`. @status 400 */
  // @ts-ignore: decorator
  @inline export const BadRequestLine: u32 = 19;
  /** HTTP version is not HTTP/1.1 or a later 1.x. @status 400 */
  // @ts-ignore: decorator
  @inline export const HttpVersion: u32 = 20;
  /** malformed header line (name, colon or control bytes). @status 400 */
  // @ts-ignore: decorator
  @inline export const BadHeaderLine: u32 = 21;
  /** header line continued with obsolete line folding. @status 400 */
  // @ts-ignore: decorator
  @inline export const ObsoleteLineFolding: u32 = 22;
  /**
   * method is not GET. @status 405
   * @wsMessage Invalid HTTP method
   */
  // @ts-ignore: decorator
  @inline export const MethodNotGet: u32 = 23;
  /** no Host header. @status 400 */
  // @ts-ignore: decorator
  @inline export const HostMissing: u32 = 24;
  /** more than one Host header. @status 400 */
  // @ts-ignore: decorator
  @inline export const HostRepeated: u32 = 25;
  /**
   * no `Upgrade: websocket` header. @status 400
   * @wsMessage Invalid Upgrade header
   */
  // @ts-ignore: decorator
  @inline export const UpgradeMissing: u32 = 26;
  /** no `upgrade` token in the Connection header. @status 400 */
  // @ts-ignore: decorator
  @inline export const ConnectionMissing: u32 = 27;
  /**
   * no Sec-WebSocket-Version header. @status 400
   * @wsMessage Missing or invalid Sec-WebSocket-Version header
   */
  // @ts-ignore: decorator
  @inline export const VersionMissing: u32 = 28;
  /**
   * more than one Sec-WebSocket-Version header. @status 400
   * @wsMessage Missing or invalid Sec-WebSocket-Version header
   */
  // @ts-ignore: decorator
  @inline export const VersionRepeated: u32 = 29;
  /**
   * Sec-WebSocket-Version is neither 13 nor 8 (answered with `Sec-WebSocket-Version: 13, 8`); over HTTP/2,
   * not 13 (answered with `sec-websocket-version: 13`). @status 426
   * @wsStatus 400 @wsMessage Missing or invalid Sec-WebSocket-Version header
   */
  // @ts-ignore: decorator
  @inline export const VersionUnsupported: u32 = 30;
  /**
   * no Sec-WebSocket-Key header. @status 400
   * @wsMessage Missing or invalid Sec-WebSocket-Key header
   */
  // @ts-ignore: decorator
  @inline export const KeyMissing: u32 = 31;
  /**
   * more than one Sec-WebSocket-Key header. @status 400
   * @wsMessage Missing or invalid Sec-WebSocket-Key header
   */
  // @ts-ignore: decorator
  @inline export const KeyRepeated: u32 = 32;
  /**
   * Sec-WebSocket-Key is not base64 of 16 bytes. @status 400
   * @wsMessage Missing or invalid Sec-WebSocket-Key header
   */
  // @ts-ignore: decorator
  @inline export const KeyInvalid: u32 = 33;
  /** response status line is not `HTTP/1.1 101 ...`. */
  // @ts-ignore: decorator
  @inline export const BadStatusLine: u32 = 34;
  /**
   * server answered without switching protocols.
   * @wsMessage Unexpected server response: {value}
   */
  // @ts-ignore: decorator
  @inline export const UnexpectedStatus: u32 = 35;
  /**
   * 101 response without Sec-WebSocket-Accept.
   * @wsMessage Invalid Sec-WebSocket-Accept header
   */
  // @ts-ignore: decorator
  @inline export const AcceptMissing: u32 = 36;
  /**
   * more than one Sec-WebSocket-Accept header.
   * @wsMessage Invalid Sec-WebSocket-Accept header
   */
  // @ts-ignore: decorator
  @inline export const AcceptRepeated: u32 = 37;
  /**
   * Sec-WebSocket-Accept does not match the key sent.
   * @wsMessage Invalid Sec-WebSocket-Accept header
   */
  // @ts-ignore: decorator
  @inline export const AcceptMismatch: u32 = 38;
  /**
   * server chose a subprotocol the client did not offer (it offered some).
   * @wsMessage Server sent an invalid subprotocol
   */
  // @ts-ignore: decorator
  @inline export const ProtocolNotOffered: u32 = 39;
  /**
   * server sent Sec-WebSocket-Extensions, none were offered.
   * @wsMessage Server sent a Sec-WebSocket-Extensions header but no extension was requested
   */
  // @ts-ignore: decorator
  @inline export const ExtensionNotOffered: u32 = 40;
  /**
   * subprotocols were offered and the server chose none.
   * @wsMessage Server sent no subprotocol
   */
  // @ts-ignore: decorator
  @inline export const ProtocolMissing: u32 = 41;
  /**
   * server chose a subprotocol, none was offered.
   * @wsMessage Server sent a subprotocol but none was requested
   */
  // @ts-ignore: decorator
  @inline export const ProtocolNotRequested: u32 = 42;
  /** HTTP/2 request whose :method is not CONNECT (a WebSocket is an extended CONNECT, RFC 8441 §4). @status 405 */
  // @ts-ignore: decorator
  @inline export const MethodNotConnect: u32 = 43;
  /** HTTP/2 CONNECT without :protocol: a tunnel, which a WebSocket server does not serve (RFC 8441 §4). @status 501 */
  // @ts-ignore: decorator
  @inline export const ConnectProtocolMissing: u32 = 44;
  /** HTTP/2 extended CONNECT whose :protocol is not `websocket` (RFC 8441 §5). @status 501 */
  // @ts-ignore: decorator
  @inline export const ConnectProtocolNotWebSocket: u32 = 45;
  /** HTTP/2 extended CONNECT without :scheme, :path or :authority (RFC 8441 §4, RFC 9113 §8.3.1). @status 400 */
  // @ts-ignore: decorator
  @inline export const PseudoHeaderMissing: u32 = 46;
  /**
   * HTTP/2 pseudo-header unknown, repeated, empty or after a regular field, or a :path not starting with
   * `/` (RFC 9113 §8.3). @status 400
   */
  // @ts-ignore: decorator
  @inline export const PseudoHeaderInvalid: u32 = 47;
  /** HTTP/2 extended CONNECT whose :scheme is neither http nor https (RFC 8441 §4). @status 400 */
  // @ts-ignore: decorator
  @inline export const SchemeInvalid: u32 = 48;
  /** HTTP/2 request with a Connection or Upgrade header (RFC 9113 §8.2.2, RFC 8441 §4). @status 400 */
  // @ts-ignore: decorator
  @inline export const ConnectionSpecificHeader: u32 = 49;
}
