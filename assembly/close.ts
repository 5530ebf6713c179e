// Close status codes (RFC 6455 §7.4) and which of them may appear in a close frame.

/** Close status codes the engine produces or names. */
export namespace CloseCode {
  // @ts-ignore: decorator
  @inline export const Normal: u32 = 1000;
  // @ts-ignore: decorator
  @inline export const GoingAway: u32 = 1001;
  // @ts-ignore: decorator
  @inline export const ProtocolError: u32 = 1002;
  // @ts-ignore: decorator
  @inline export const UnsupportedData: u32 = 1003;
  /** Never on the wire: reported when a close frame carried no code. */
  // @ts-ignore: decorator
  @inline export const NoStatus: u32 = 1005;
  /** Never on the wire: the connection ended without a close frame. */
  // @ts-ignore: decorator
  @inline export const Abnormal: u32 = 1006;
  // @ts-ignore: decorator
  @inline export const InvalidPayload: u32 = 1007;
  // @ts-ignore: decorator
  @inline export const PolicyViolation: u32 = 1008;
  // @ts-ignore: decorator
  @inline export const MessageTooBig: u32 = 1009;
  // @ts-ignore: decorator
  @inline export const MandatoryExtension: u32 = 1010;
  // @ts-ignore: decorator
  @inline export const InternalError: u32 = 1011;
  /** The server is restarting. */
  // @ts-ignore: decorator
  @inline export const ServiceRestart: u32 = 1012;
  /** The server is overloaded: try again later. */
  // @ts-ignore: decorator
  @inline export const TryAgainLater: u32 = 1013;
}

/** True for codes allowed in a close frame: 1000-1003, 1007-1014 (registered), 3000-4999. */
export function isValidCloseCode(code: u32): bool {
  if (code >= 3000) return code <= 4999;
  if (code >= 1007) return code <= 1014;
  return code >= 1000 && code <= 1003;
}
