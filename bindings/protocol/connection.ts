// Drives the engine for one connection: bytes in → events as JS values, messages out → frame bytes.
// Transport-free: the host gives received bytes to `receive` and writes what `handler.write` is given.
import * as abi from "../engine/abi.js";
import { Result, type Engine } from "../engine/engine.js";
import { check, HostError, WebSocketProtocolError } from "../engine/errors.js";
import { DeflateError, SYNC_INFLATE_BYTES, type PerMessageDeflate } from "./permessage-deflate.js";
import type { SlotHandle } from "../engine/pool.js";
import { COPY_BYTES } from "./output.js";
import { MessageAssembly } from "./message-assembly.js";
import { utf8 } from "../engine/text.js";

/** Which end of the connection we are. */
export const Role = abi.Role;
export type Role = (typeof Role)[keyof typeof Role];

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = abi.Opcode;

const EventType = abi.EventType;
const DataFlag = abi.DataFlag;
const ConnFlag = abi.ConnFlag;
const FIN = abi.FrameBit.Fin;
const RSV1 = abi.FrameBit.Rsv1;
const MAX_HEADER = abi.MAX_HEADER_BYTES;

/** What a connection reports to its host. */
export interface ConnectionHandler {
  /** A whole message (fragments: "message"). `data` is the host's own copy. */
  message(data: Uint8Array, isBinary: boolean): void;
  /** A chunk of a message as it arrives (fragments: "stream"). */
  fragment?(data: Uint8Array, isBinary: boolean, first: boolean, last: boolean): void;
  ping(data: Uint8Array): void;
  pong(data: Uint8Array): void;
  /** The peer's close frame; the engine has already queued the reply. */
  close(code: number, reason: string): void;
  /** The peer broke the protocol; a close frame with `error.closeCode` was queued. */
  error(error: WebSocketProtocolError): void;
  /** The close handshake is complete (both close frames exchanged). */
  closed(): void;
  /** Bytes to send. When `borrowed`, they alias engine memory and must be copied before returning. */
  write(bytes: Uint8Array, borrowed: boolean): void;
  /**
   * Bytes the engine answered with while reading (pongs, close replies), borrowed: the peer made us send
   * them, so a host counts them against the peer's budget. Without it they go to `write`.
   */
  reply?(bytes: Uint8Array): void;
  /**
   * A compressed message is inflating off the event loop (true): the connection holds later input, in order,
   * until the message and what was held behind it are delivered (false), so a host stops reading meanwhile.
   * A failure ends the holding too (false; input is ignored from then on); a release ends it silently.
   */
  holding?(on: boolean): void;
}

/** Per-connection settings. */
export interface ConnectionOptions {
  role: Role;
  /** Largest message accepted, in bytes (1009 beyond). */
  maxPayload: number;
  /** Answer pings from inside the engine (default true). */
  autoPong?: boolean;
  /** "message" (default): whole messages; "stream": chunks as they arrive. */
  fragments?: "message" | "stream";
  /** Allocate the bytes handed to the host (Buffer.allocUnsafe on Node). */
  alloc?: (size: number) => Uint8Array;
  /** permessage-deflate, when negotiated: the slot then allows RSV1 and `maxPayload` bounds inflated sizes. */
  deflate?: PerMessageDeflate;
}

/** Wire bytes a compressed message of `maxPayload` inflated bytes may take (stored blocks' overhead). */
export function compressedLimit(maxPayload: number): number {
  return maxPayload + Math.ceil(maxPayload / 16384) * 5 + 64;
}

const encoder = new TextEncoder();

/**
 * How every connection of an engine instance splits its shared I/O area in thirds: socket bytes in (parsed
 * in place, and possibly still unparsed while a handler runs), payloads to frame, frames out. Anything that
 * frames while a handler may run (a publish) writes to `outPtr` only, never over unparsed input.
 */
export function ioAreas(engine: Engine): { inPtr: number; srcPtr: number; outPtr: number; bytes: number } {
  const third = Math.floor(engine.ioBytes / 3) & ~15;
  return { inPtr: engine.io, srcPtr: engine.io + third, outPtr: engine.io + 2 * third, bytes: third };
}

/** An engine event held back while a message inflates, its payload copied out of engine memory. */
interface HeldEvent {
  type: number;
  opcode: number;
  flags: number;
  reason: number;
  code: number;
  payload: Uint8Array;
  frameLength: number;
}

const EMPTY = new Uint8Array(0);
// Bytes one read may inflate on the event loop; the rest of the read's compressed messages go to the
// codec's async inflate, so a read packed with small messages that each inflate to 64 KiB costs no more here.
const SYNC_INFLATE_PER_READ = 1024 * 1024;

/** One WebSocket connection's protocol state, living in an engine slot. */
export class WireConnection {
  private readonly engine: Engine;
  private readonly slot: number;
  private readonly handler: ConnectionHandler;
  private readonly stream: boolean;
  private readonly masking: boolean;
  private readonly alloc: (size: number) => Uint8Array;
  private readonly inPtr: number;
  private readonly inBytes: number;
  private readonly srcPtr: number;
  private readonly dstPtr: number;
  private readonly areaBytes: number;
  private deflate: PerMessageDeflate | null;
  private readonly maxPayload: number;
  private readonly role: Role;
  private readonly autoPong: boolean;
  /** The message being assembled (fragments: "message"). */
  private readonly assembly: MessageAssembly;
  /** The message being received is compressed (RSV1 on its first frame). */
  private compressed = false;
  /** Uncompressed bytes of the message being received (checked here when the slot's limit has slack). */
  private messageBytes = 0;
  private released = false;
  /** A message sent in pieces (`fin: false`) is open: the next send continues it. */
  private continuing = false;
  /** The host failed the connection (a bad compressed message): further input is ignored. */
  private failed = false;
  /** A message inflates off the event loop: events and bytes behind it are held. */
  private inflatingAsync = false;
  /** From then until what was held is replayed: input waits behind it (the host was asked to stop reading). */
  private holdingInput = false;
  /** Events of the read that ended the inflating message, after it, in order. */
  private held: HeldEvent[] = [];
  private heldNext = 0;
  /** Bytes that arrived behind the inflating message (the rest of its read first), in order. */
  private heldInput: Uint8Array[] = [];
  /** Inflated bytes this read may still produce on the event loop (SYNC_INFLATE_PER_READ). */
  private syncInflateBudget = SYNC_INFLATE_PER_READ;
  /** The message inflating is binary; `onInflated` receives it (one function per connection, not per message). */
  private inflatingBinary = false;
  private readonly onInflated = (result: Uint8Array | DeflateError): void => this.inflatedAsync(result);

  constructor(handle: SlotHandle, handler: ConnectionHandler, options: ConnectionOptions) {
    this.engine = handle.engine;
    this.slot = handle.slot;
    this.handler = handler;
    this.stream = options.fragments === "stream";
    this.masking = options.role === Role.Client;
    this.alloc = options.alloc ?? ((n) => new Uint8Array(n));
    const areas = ioAreas(this.engine);
    this.inPtr = areas.inPtr;
    this.inBytes = areas.bytes;
    this.srcPtr = areas.srcPtr;
    this.dstPtr = areas.outPtr;
    this.areaBytes = areas.bytes;
    this.deflate = options.deflate ?? null;
    this.maxPayload = options.maxPayload;
    this.role = options.role;
    this.autoPong = options.autoPong !== false;
    this.assembly = new MessageAssembly(this.alloc, this.maxPayload);
    this.open();
  }

  private open(): void {
    let flags = this.autoPong ? ConnFlag.AutoPong : 0;
    // With deflate the engine bounds the compressed bytes; the inflated size is checked while inflating.
    let wireLimit = this.maxPayload;
    if (this.deflate) {
      flags |= ConnFlag.Rsv1Allowed;
      wireLimit = compressedLimit(this.maxPayload);
    }
    check(this.engine.exports.open(this.slot, this.role, flags, wireLimit), "open");
  }

  /**
   * Use permessage-deflate from now on (a client learns it from the 101): reopens the slot with RSV1
   * allowed, so call it after the handshake and before feeding any frame.
   */
  useDeflate(deflate: PerMessageDeflate): void {
    this.deflate = deflate;
    this.open();
  }

  /** The permessage-deflate state, when negotiated. */
  get perMessageDeflate(): PerMessageDeflate | null {
    return this.deflate;
  }

  /** Where a host may read socket bytes straight into engine memory (then call `receiveInPlace`). */
  get readBuffer(): Uint8Array {
    return this.engine.u8.subarray(this.inPtr, this.inPtr + this.inBytes);
  }

  /** A close frame was sent. */
  get closeSent(): boolean {
    return (
      ((this.engine.exports.connectionState(this.slot) >> abi.STATE_FLAGS_SHIFT) & ConnFlag.CloseSent) !== 0
    );
  }

  /** A close frame was received. */
  get closeReceived(): boolean {
    return (
      ((this.engine.exports.connectionState(this.slot) >> abi.STATE_FLAGS_SHIFT) & ConnFlag.CloseReceived) !==
      0
    );
  }

  /** Feed received bytes (copied into engine memory in pieces). */
  receive(bytes: Uint8Array): void {
    if (this.released || this.failed) return;
    if (this.holdingInput) return void this.heldInput.push(bytes.slice());
    this.syncInflateBudget = SYNC_INFLATE_PER_READ;
    this.receivePieces(bytes);
  }

  /** Feed `length` bytes the host already read into `readBuffer`. */
  receiveInPlace(length: number): void {
    if (this.released || this.failed) return;
    const u8 = this.engine.u8;
    if (this.holdingInput) return void this.heldInput.push(u8.slice(this.inPtr, this.inPtr + length));
    this.syncInflateBudget = SYNC_INFLATE_PER_READ;
    const fed = this.feed(this.inPtr, length);
    // What the engine has not parsed yet waits, copied, for the inflating message.
    if (this.inflatingAsync && fed < length)
      this.heldInput.unshift(u8.slice(this.inPtr + fed, this.inPtr + length));
  }

  private receivePieces(bytes: Uint8Array): void {
    for (let offset = 0; offset < bytes.length && !this.released && !this.failed; offset += this.inBytes) {
      const piece = bytes.subarray(offset, offset + this.inBytes);
      this.engine.u8.set(piece, this.inPtr);
      const fed = this.feed(this.inPtr, piece.length);
      // The rest waits, copied (the caller may reuse its buffer), for the inflating message.
      if (this.inflatingAsync) {
        if (offset + fed < bytes.length) this.heldInput.unshift(bytes.slice(offset + fed));
        return;
      }
    }
  }

  /** Feed bytes at `ptr` to the engine; returns how many it parsed (all, unless a message went off to inflate). */
  private feed(ptr: number, length: number): number {
    const { exports, u8, u32 } = this.engine;
    let done = 0;
    while (done < length && !this.released && !this.failed) {
      const count = check(exports.feed(this.slot, ptr + done, length - done), "feed");
      const consumed = this.engine.resultField(Result.Consumed);
      const outLength = this.engine.resultField(Result.OutLength);
      if (outLength > 0) this.reply(u8.subarray(this.engine.out, this.engine.out + outLength));
      this.engine.refillEntropy();
      for (
        let i = 0, record = this.engine.events >>> 2;
        i < count && !this.released && !this.failed;
        i++, record += abi.EVENT_BYTES >>> 2
      ) {
        const word = u32[record];
        const type = (word >>> (abi.EventField.Type * 8)) & 0xff;
        const flags = (word >>> (abi.EventField.Flags * 8)) & 0xff;
        const at = u32[record + (abi.EventField.Ptr >>> 2)];
        const len = u32[record + (abi.EventField.Length >>> 2)];
        // Only the last event of a read can be a frame that continues past it: the engine's current frame.
        const frameLength =
          type === EventType.Data &&
          (flags & (DataFlag.FrameStart | DataFlag.FrameEnd)) === DataFlag.FrameStart
            ? exports.framePayloadLength(this.slot)
            : len;
        const opcode = (word >>> (abi.EventField.Opcode * 8)) & 0xff;
        const reason = (word >>> (abi.EventField.Reason * 8)) & 0xff;
        const code = u32[record + (abi.EventField.Code >>> 2)];
        if (this.inflatingAsync) {
          const payload = len > 0 ? u8.slice(at, at + len) : EMPTY;
          this.held.push({ type, opcode, flags, reason, code, payload, frameLength });
        } else this.dispatch(type, opcode, flags, reason, code, u8, at, len, frameLength);
      }
      if (consumed === 0 && count === 0) throw new Error("engine made no progress");
      done += consumed;
      if (this.inflatingAsync) break;
    }
    return done;
  }

  /**
   * The inflating message was delivered (or failed): replay what arrived behind it, in order, until all of it
   * is done or another message goes off to inflate; then the host may read again.
   */
  private replay(): void {
    while (!this.released && !this.failed && !this.inflatingAsync) {
      if (this.heldNext < this.held.length) {
        const e = this.held[this.heldNext++];
        this.dispatch(
          e.type,
          e.opcode,
          e.flags,
          e.reason,
          e.code,
          e.payload,
          0,
          e.payload.length,
          e.frameLength,
        );
        continue;
      }
      this.held = [];
      this.heldNext = 0;
      const bytes = this.heldInput.shift();
      if (!bytes) break;
      this.syncInflateBudget = SYNC_INFLATE_PER_READ;
      this.receivePieces(bytes);
    }
    if (this.inflatingAsync || this.released || this.failed) return;
    this.holdingInput = false;
    this.handler.holding?.(false);
  }

  private reply(bytes: Uint8Array): void {
    if (this.handler.reply) this.handler.reply(bytes);
    else this.handler.write(bytes, true);
  }

  /** One engine event, its payload `len` bytes at `ptr` of `from` (engine memory, or a held copy). */
  private dispatch(
    type: number,
    opcode: number,
    flags: number,
    reason: number,
    code: number,
    from: Uint8Array,
    ptr: number,
    len: number,
    frameLength: number,
  ): void {
    switch (type) {
      case EventType.Data:
        return this.data(opcode === Opcode.Binary, flags, from, ptr, len, frameLength);
      case EventType.Ping:
        return this.handler.ping(this.copy(ptr, len, from));
      case EventType.Pong:
        return this.handler.pong(this.copy(ptr, len, from));
      case EventType.Close:
        return this.handler.close(code, utf8.decode(from.subarray(ptr, ptr + len)));
      case EventType.Error:
        this.assembly.reset();
        return this.handler.error(new WebSocketProtocolError(reason, code));
      case EventType.Closed:
        return this.handler.closed();
    }
  }

  private data(
    isBinary: boolean,
    flags: number,
    from: Uint8Array,
    ptr: number,
    len: number,
    frameLength: number,
  ): void {
    const first = (flags & DataFlag.MessageStart) !== 0;
    const last = (flags & DataFlag.MessageEnd) !== 0;
    if (this.deflate) {
      if (first) {
        this.compressed = (flags & DataFlag.Rsv1) !== 0;
        this.messageBytes = 0;
      }
      if (this.compressed) return this.compressedData(isBinary, from.subarray(ptr, ptr + len), last);
      this.messageBytes += len;
      if (this.messageBytes > this.maxPayload)
        return this.failLocally(
          HostError.MessageTooBig,
          abi.CloseCode.MessageTooBig,
          ` (${this.messageBytes} > ${this.maxPayload})`,
        );
    }
    if (this.stream && this.handler.fragment)
      return this.handler.fragment(this.copy(ptr, len, from), isBinary, first, last);
    if (first && last) return this.handler.message(this.copy(ptr, len, from), isBinary);
    const frameStart = (flags & DataFlag.FrameStart) !== 0;
    const message = this.assembly.add(
      from.subarray(ptr, ptr + len),
      first,
      frameStart ? frameLength : -1,
      last,
    );
    if (message) this.handler.message(message, isBinary);
  }

  /**
   * A chunk of a compressed message: kept until the last one, then inflated and delivered whole: at once when
   * small, else off the event loop, holding what arrives behind it until it is delivered.
   */
  private compressedData(isBinary: boolean, chunk: Uint8Array, last: boolean): void {
    const deflate = this.deflate!;
    deflate.push(chunk);
    if (!last) return;
    let inflated: Uint8Array | undefined;
    try {
      const syncLimit = Math.min(SYNC_INFLATE_BYTES, this.syncInflateBudget);
      this.inflatingBinary = isBinary;
      inflated = deflate.inflate(this.onInflated, syncLimit);
    } catch (error) {
      if (!(error instanceof DeflateError)) throw error;
      return this.inflateFailed(error);
    }
    if (inflated) {
      this.syncInflateBudget = Math.max(0, this.syncInflateBudget - inflated.length);
      return this.deliverInflated(inflated, isBinary);
    }
    this.inflatingAsync = true;
    if (this.holdingInput) return;
    this.holdingInput = true;
    this.handler.holding?.(true);
  }

  /** The message inflated off the event loop: deliver it, then what arrived behind it. */
  private inflatedAsync(result: Uint8Array | DeflateError): void {
    this.inflatingAsync = false;
    if (this.released || this.failed) return;
    if (result instanceof DeflateError) return this.inflateFailed(result);
    this.deliverInflated(result, this.inflatingBinary);
    this.replay();
  }

  private inflateFailed(error: DeflateError): void {
    const rule =
      error.closeCode === abi.CloseCode.MessageTooBig
        ? HostError.InflatedTooBig
        : HostError.InvalidCompressedData;
    this.failLocally(rule, error.closeCode, error.detail);
  }

  private deliverInflated(inflated: Uint8Array, isBinary: boolean): void {
    if (!isBinary && !this.validUtf8(inflated))
      return this.failLocally(HostError.InvalidUtf8, abi.CloseCode.InvalidPayload, "");
    const message = this.alloc(inflated.length);
    message.set(inflated);
    if (this.stream && this.handler.fragment) return this.handler.fragment(message, isBinary, true, true);
    this.handler.message(message, isBinary);
  }

  /** Inflated text checked by the engine's validator, a piece at a time through engine memory. */
  private validUtf8(bytes: Uint8Array): boolean {
    const { exports, u8 } = this.engine;
    let state = abi.UTF8_ACCEPT;
    for (let offset = 0; offset < bytes.length; offset += this.areaBytes) {
      const piece = bytes.subarray(offset, offset + this.areaBytes);
      u8.set(piece, this.srcPtr);
      state = exports.utf8Validate(state, this.srcPtr, piece.length);
      if (state === abi.UTF8_REJECT) return false;
    }
    return state === abi.UTF8_ACCEPT;
  }

  /** Fail the connection for a rule the host checks: send a close frame with `closeCode`, ignore input. */
  private failLocally(rule: number, closeCode: number, detail: string): void {
    this.failed = true;
    this.assembly.reset();
    this.deflate?.release();
    this.dropHeld();
    if (!this.closeSent) {
      const size = this.engine.exports.writeClose(this.slot, closeCode, this.srcPtr, 0, this.dstPtr);
      if (size > 0) this.flushDst(size);
    }
    this.handler.error(new WebSocketProtocolError(rule, closeCode, detail));
  }

  /** A copy in the host's byte type of `len` bytes at `ptr` of engine memory. */
  private copy(ptr: number, len: number, from: Uint8Array = this.engine.u8): Uint8Array {
    const bytes = this.alloc(len);
    bytes.set(from.subarray(ptr, ptr + len));
    return bytes;
  }

  /** Send a message: text for strings (unless `binary`), binary for bytes; fragmented at `fragmentSize`. */
  send(
    data: string | Uint8Array,
    binary = typeof data !== "string",
    fragmentSize = 0,
    compress = true,
    fin = true,
  ): void {
    if (!fin || this.continuing) return this.sendPiece(data, binary, fin);
    const deflate = compress ? this.deflate : null;
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    if (typeof data === "string") {
      // Encode straight into engine memory when the worst case (3 bytes per UTF-16 unit) fits.
      if (data.length * 3 <= this.areaBytes) {
        const { written } = encoder.encodeInto(
          data,
          this.engine.u8.subarray(this.srcPtr, this.srcPtr + this.areaBytes),
        );
        if (deflate?.shouldCompress(written))
          return this.sendCompressed(
            opcode,
            this.engine.u8.subarray(this.srcPtr, this.srcPtr + written),
            fragmentSize,
          );
        return this.sendFromSource(opcode, written, fragmentSize);
      }
      data = encoder.encode(data);
    }
    if (deflate?.shouldCompress(data.length)) return this.sendCompressed(opcode, data, fragmentSize);
    this.sendBytes(opcode, data, fragmentSize);
  }

  /** Send `data` deflated: RSV1 on the first frame only (RFC 7692 §6). */
  private sendCompressed(opcode: number, data: Uint8Array, fragmentSize: number): void {
    if (this.closeSent) check(abi.CallError.AlreadyClosing, "send");
    const payload = this.deflate!.compress(data);
    const step = fragmentSize > 0 ? fragmentSize : payload.length;
    let offset = 0;
    do {
      const n = Math.min(step, payload.length - offset);
      const first = offset === 0 ? RSV1 | opcode : Opcode.Continuation;
      this.sendFrame(first | (offset + n === payload.length ? FIN : 0), payload.subarray(offset, offset + n));
      offset += n;
    } while (offset < payload.length);
  }

  /** Send a ping with up to 125 bytes of payload. */
  ping(data: Uint8Array = new Uint8Array(0)): void {
    this.control(Opcode.Ping, data);
  }

  /** Send an unsolicited pong with up to 125 bytes of payload. */
  pong(data: Uint8Array = new Uint8Array(0)): void {
    this.control(Opcode.Pong, data);
  }

  /** Start the close handshake. Throws a TypeError for an invalid code or reason, false if already closing. */
  close(code?: number, reason = ""): boolean {
    const e = this.engine.exports;
    if (this.closeSent) return false;
    const { written } = encoder.encodeInto(
      reason,
      this.engine.u8.subarray(this.srcPtr, this.srcPtr + abi.MAX_CLOSE_REASON + 1),
    );
    if (written > abi.MAX_CLOSE_REASON || encoder.encode(reason).length > abi.MAX_CLOSE_REASON)
      check(abi.CallError.CloseReasonTooLong, `close(${code}, "${reason.slice(0, 20)}…")`);
    const size = check(
      e.writeClose(this.slot, code ?? 0, this.srcPtr, written, this.dstPtr),
      `close(${code})`,
    );
    this.flushDst(size);
    return true;
  }

  /** Free the engine slot; the connection can no longer be used. */
  release(): void {
    this.released = true;
    this.assembly.reset();
    this.deflate?.release();
    this.dropHeld();
  }

  /** Forget what waited behind an inflating message; the host may read again (input is ignored now). */
  private dropHeld(): void {
    this.inflatingAsync = false;
    this.held = [];
    this.heldNext = 0;
    this.heldInput = [];
    if (!this.holdingInput) return;
    this.holdingInput = false;
    if (!this.released) this.handler.holding?.(false);
  }

  private control(opcode: number, data: Uint8Array): void {
    if (data.length > abi.MAX_CONTROL_PAYLOAD)
      check(abi.CallError.ControlTooLong, opcode === Opcode.Ping ? "ping" : "pong");
    this.engine.u8.set(data, this.srcPtr);
    const size = check(
      this.engine.exports.writeFrame(this.slot, FIN | opcode, this.srcPtr, data.length, this.dstPtr),
      "control frame",
    );
    this.flushDst(size);
  }

  private sendFromSource(opcode: number, length: number, fragmentSize: number): void {
    const frames = fragmentSize > 0 ? Math.max(1, Math.ceil(length / fragmentSize)) : 1;
    // One pass needs room for every header, and on the client a masking key per frame from the pool.
    if (
      length + frames * MAX_HEADER > this.areaBytes ||
      (this.masking && frames * 4 > this.engine.entropyBytes >>> 1)
    ) {
      return this.sendBytes(opcode, this.engine.u8.slice(this.srcPtr, this.srcPtr + length), fragmentSize);
    }
    const size = check(
      this.engine.exports.writeMessage(this.slot, opcode, this.srcPtr, length, this.dstPtr, fragmentSize),
      "send",
    );
    this.flushDst(size);
  }

  private sendBytes(opcode: number, data: Uint8Array, fragmentSize: number): void {
    const frames = fragmentSize > 0 ? Math.max(1, Math.ceil(data.length / fragmentSize)) : 1;
    // A server's payload past COPY_BYTES goes out by reference behind its header (below): framing it in
    // engine memory would copy it twice, there and into the output slab.
    if (
      data.length + frames * MAX_HEADER <= this.areaBytes &&
      (this.masking ? frames * 4 <= this.engine.entropyBytes >>> 1 : data.length <= COPY_BYTES)
    ) {
      this.engine.u8.set(data, this.srcPtr);
      return this.sendFromSource(opcode, data.length, fragmentSize);
    }
    // Too big for one pass through engine memory: frame by frame, header then payload.
    const step = fragmentSize > 0 ? fragmentSize : data.length;
    let offset = 0;
    do {
      const n = Math.min(step, data.length - offset);
      const byte0 = (offset === 0 ? opcode : Opcode.Continuation) | (offset + n === data.length ? FIN : 0);
      this.sendFrame(byte0, data.subarray(offset, offset + n));
      offset += n;
    } while (offset < data.length);
  }

  /**
   * One frame of a message the caller sends in pieces (ws's `fin: false`): the first with the message's
   * opcode, later ones as continuations, FIN on the piece sent with `fin`. Uncompressed: RSV1 would have to be
   * on the first frame of a message compressed whole.
   */
  private sendPiece(data: string | Uint8Array, binary: boolean, fin: boolean): void {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const opcode = this.continuing ? Opcode.Continuation : binary ? Opcode.Binary : Opcode.Text;
    this.continuing = !fin;
    this.sendFrame(opcode | (fin ? FIN : 0), bytes);
  }

  private sendFrame(byte0: number, payload: Uint8Array): void {
    const e = this.engine.exports;
    const size = check(e.writeHeader(this.slot, byte0, payload.length, this.dstPtr), "send");
    this.flushDst(size);
    // A server sends the caller's bytes as they are; a client masks them piece by piece in engine memory.
    if (!this.masking) return this.handler.write(payload, false);
    for (let offset = 0; offset < payload.length; offset += this.areaBytes) {
      const piece = payload.subarray(offset, offset + this.areaBytes);
      this.engine.u8.set(piece, this.dstPtr);
      e.maskChunk(this.slot, this.dstPtr, piece.length);
      this.flushDst(piece.length);
    }
  }

  private flushDst(size: number): void {
    this.engine.refillEntropy();
    this.handler.write(this.engine.u8.subarray(this.dstPtr, this.dstPtr + size), true);
  }
}
