// The engine's stateless rules for code that holds no connection slot: HTTP tokens (RFC 9110 §5.6.2) for
// subprotocol and extension grammar, and the control-frame and close-frame limits an API checks before it has
// a connection (ws throws for a 126-byte ping even on a closed socket). Asked of one small engine instance of
// its own, made on first use, so the bindings keep no copy of a rule the engine writer and parser apply.
import { CallError, Opcode } from "./abi.js";
import { createEngine } from "./embedded.js";
import type { Engine } from "./engine.js";

// Bytes of the instance's I/O area: where strings are staged for the engine to judge.
const IO_BYTES = 1024;
let instance: Engine | undefined;
const encoder = new TextEncoder();

function engine(): Engine {
  instance ??= createEngine({ maxConnections: 1, ioBytes: IO_BYTES });
  return instance;
}

/**
 * How many characters of `text` from `from` on are HTTP token characters, as the engine's table says. A
 * character past Latin-1 is staged as 0xFF, which is no token character, as a byte ≥ 0x80 is not.
 */
export function tokenLength(text: string, from = 0): number {
  const { exports, u8, io } = engine();
  let at = from;
  // Staged in growing pieces: a token is usually short, a header value may be long.
  for (let piece = 32; at < text.length; piece = Math.min(piece * 2, IO_BYTES)) {
    const n = Math.min(piece, text.length - at);
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(at + i);
      u8[io + i] = c < 0xff ? c : 0xff;
    }
    const run = exports.tokenLength(io, n);
    at += run;
    if (run < n) break;
  }
  return at - from;
}

/** True when `text` is one HTTP token (non-empty, token characters only). */
export function isToken(text: string): boolean {
  return text.length > 0 && tokenLength(text) === text.length;
}

/** 0 when a ping or pong may carry `length` payload bytes, else the engine's CallError (`callErrors`). */
export function controlError(length: number): number {
  return engine().exports.checkControl(Opcode.Ping, Math.min(length, 0xffffffff));
}

/**
 * 0 when a close frame may carry `code` (undefined: none) and `reason`, else the engine's CallError
 * (`callErrors`): an invalid code, a reason without a code, or a reason past the limit in UTF-8 bytes.
 */
export function closeError(code: number | undefined, reason: string): number {
  // The engine reads 0 as "no code": a caller's 0, like any number no u16 holds, is an invalid code.
  if (code !== undefined && !(Number.isInteger(code) && code > 0 && code <= 0xffff))
    return CallError.InvalidCloseCode;
  const { exports, u8, io } = engine();
  const { read, written } = encoder.encodeInto(reason, u8.subarray(io, io + IO_BYTES));
  // A reason longer than the staging area is judged by its length alone (the engine reads no further).
  const length = read < reason.length ? encoder.encode(reason).length : written;
  return exports.checkClose(code ?? 0, io, length);
}
