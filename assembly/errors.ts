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
