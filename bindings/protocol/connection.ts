// Drives the engine for one connection: bytes in → events as JS values, messages out → frame bytes.
// Transport-free: the host gives received bytes to `receive` and writes what `handler.write` is given.
import * as abi from "../engine/abi.js";
import { Result, type Engine } from "../engine/engine.js";
import { check, HostError, WebSocketProtocolError } from "../engine/errors.js";
import {
  DeflateError,
  SYNC_DEFLATE_BYTES,
  SYNC_INFLATE_BYTES,
  type PerMessageDeflate,
} from "./permessage-deflate.js";
import type { SlotHandle } from "../engine/pool.js";
import { MessageAssembly } from "./message-assembly.js";
import { utf8 } from "../engine/text.js";
import { COPY_BYTES } from "./output.js";

/** Which end of the connection we are. */
export const Role = abi.Role;
export type Role = (typeof Role)[keyof typeof Role];

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = abi.Opcode;

const EventType = abi.EventType;
const DataFlag = abi.DataFlag;
const ConnFlag = abi.ConnFlag;
const MessageFlag = abi.MessageFlag;

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
  /**
   * Bytes to send. When `borrowed`, they alias engine memory and must be copied before returning; else
   * they stay valid (the caller's payload, or with `owned` bytes of ours no one else holds) and may be
   * kept by reference until written.
   */
  write(bytes: Uint8Array, borrowed: boolean, owned?: boolean): void;
  /**
   * Optional: room at the end of the output for a payload of at most `payloadLength` bytes written in place,
   * `headerLength` bytes kept before it, or null when there is none that large; nothing is queued until
   * `commit`. A server encodes a string straight into it: the payload's one copy on the way to the socket.
   */
  reserve?(headerLength: number, payloadLength: number): Uint8Array | null;
  /**
   * Queue the frame `reserve` made room for: the header, `headerLength` bytes at `headerAt` in `memory`
   * (engine memory, borrowed), and the `payloadLength` bytes written in the room.
   */
  commit?(memory: Uint8Array, headerAt: number, headerLength: number, payloadLength: number): void;
  /**
   * Optional: a small frame to be copied whole into the output, its header the `headerLength` bytes at
   * `headerAt` in `memory` (engine memory, borrowed) and its payload the caller's: the payload's one copy.
   * Without it the frame is put together in engine memory and given to `write`.
   */
  writeFrame?(memory: Uint8Array, headerAt: number, headerLength: number, payload: Uint8Array): void;
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
  /**
   * Most frames one message may come in, empty ones too (ws's `maxFragments`), 1008 beyond; 0 or absent: none.
   * Not applied with fragments "stream", where each frame's bytes go to the application as they come.
   */
  maxFragments?: number;
  /** Answer pings from inside the engine (default true). */
  autoPong?: boolean;
  /** "message" (default): whole messages; "stream": chunks as they arrive. */
  fragments?: "message" | "stream";
  /**
   * Allocate the bytes handed to the host (Buffer.allocUnsafe on Node). Its `copyRange`, when it has one,
   * copies `from[start, end)` into new bytes of that type in one call (Bun: without a view of the range); its
   * `adopts`, when it has one, says whether bytes made elsewhere (a codec's inflated output) already are
   * that type, so a message no one else holds is handed out as it is instead of copied.
   */
  alloc?: HostAlloc;
  /** permessage-deflate, when negotiated: the slot then allows RSV1 and `maxPayload` bounds inflated sizes. */
  deflate?: PerMessageDeflate;
  /**
   * A client's masking keys (ws's `generateMask`): called before each frame this side writes with a 4-byte
   * buffer (zeros at first, then what it left there) to fill with the frame's key; frames the engine writes
   * while reading (pongs, the close reply) take the last key. Without it, keys come from the entropy pool.
   */
  generateMask?(mask: Uint8Array): void;
}

/** Wire bytes a compressed message of `maxPayload` inflated bytes may take (stored blocks' overhead). */
export function compressedLimit(maxPayload: number): number {
  return maxPayload + Math.ceil(maxPayload / 16384) * 5 + 64;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of `text` as TextEncoder writes them (a lone surrogate becomes U+FFFD, 3 bytes). */
function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) length += 1;
    else if (c < 0xdc00 && c >= 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 2;
      i++;
    } else length += 2;
  }
  return length;
}

/**
 * How every connection of an engine instance splits its shared I/O area in thirds: socket bytes in (parsed
 * in place, and possibly still unparsed while a handler runs), payloads to frame, frames out. Anything that
 * frames while a handler may run (a publish) writes to `outPtr` only, never over unparsed input.
 */
export function ioAreas(engine: Engine): { inPtr: number; srcPtr: number; outPtr: number; bytes: number } {
  const third = Math.floor(engine.ioBytes / 3) & ~15;
  return { inPtr: engine.io, srcPtr: engine.io + third, outPtr: engine.io + 2 * third, bytes: third };
}

const inputViews = new WeakMap<Engine, Uint8Array>();

/**
 * The input area of `engine` as bytes, one view per engine shared by its connections (they all read into
 * the same area, one read at a time), not an object per connection.
 */
function inputView(engine: Engine): Uint8Array {
  let view = inputViews.get(engine);
  if (!view) {
    const { inPtr, bytes } = ioAreas(engine);
    inputViews.set(engine, (view = engine.u8.subarray(inPtr, inPtr + bytes)));
  }
  return view;
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
/**
 * Whole messages up to this size are copied out of engine memory by a loop: on JSC (Bun) that costs less
 * than a view of engine memory to `set` from (an object per message); on V8 the same.
 */
const TINY_MESSAGE_BYTES = 64;

/**
 * The host's allocator of the bytes it hands out, optionally its copy of a range into them, and whether bytes
 * made elsewhere are of its type already (Node and Bun: any Buffer).
 */
export type HostAlloc = ((size: number) => Uint8Array) & {
  copyRange?: (from: Uint8Array, start: number, end: number) => Uint8Array;
  adopts?: (bytes: Uint8Array) => boolean;
};
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
  private readonly copyRange: ((from: Uint8Array, start: number, end: number) => Uint8Array) | undefined;
  private readonly adopts: ((bytes: Uint8Array) => boolean) | undefined;
  private readonly inPtr: number;
  private readonly inBytes: number;
  private readonly srcPtr: number;
  private readonly dstPtr: number;
  private readonly areaBytes: number;
  private deflate: PerMessageDeflate | null;
  private readonly maxPayload: number;
  /** ConnectionOptions.maxFragments, 0 for none (and with fragments "stream"). */
  private readonly maxFragments: number;
  /** Frames of the message being received so far. */
  private fragmentCount = 0;
  private readonly role: Role;
  private readonly autoPong: boolean;
  /** The message being assembled (fragments: "message"). */
  private readonly assembly: MessageAssembly;
  /** The message being received is compressed (RSV1 on its first frame). */
  private compressed = false;
  /** Uncompressed bytes of the message being received (checked here when the slot's limit has slack). */
  private messageBytes = 0;
  private released = false;
  /** The engine's CloseSent flag as last read (`readCloseSent`): it never clears. */
  private closeWent = false;
  /** A message sent in pieces (`fin: false`) is open: the next send continues it. */
  private continuing = false;
  /** Input is held (a message inflates, or the host sends one, off the event loop) until it is replayed. */
  get holding(): boolean {
    return this.holdingInput;
  }

  /** The host failed the connection (a bad compressed message): further input is ignored. */
  private failed = false;
  /** A message inflates off the event loop: events and bytes behind it are held. */
  private inflatingAsync = false;
  /** The host sends a message off the event loop (`holdInput`): events and bytes are held the same way. */
  private sendsWaiting = false;
  /** From then until what was held is replayed: input waits behind it (the host was asked to stop reading). */
  private holdingInput = false;
  /** Events of the read that ended the inflating message, after it, in order (made when first needed). */
  private held: HeldEvent[] | null = null;
  private heldNext = 0;
  /** Bytes that arrived behind the inflating message (the rest of its read first), in order (made when first needed). */
  private heldInput: Uint8Array[] | null = null;
  /** Inflated bytes this read may still produce on the event loop (SYNC_INFLATE_PER_READ). */
  private syncInflateBudget = SYNC_INFLATE_PER_READ;
  /**
   * The message inflating is binary; `onInflated` receives it (one function per connection, not per message,
   * made at the first compressed message: a connection without deflate never needs it).
   */
  private inflatingBinary = false;
  private onInflated: ((result: Uint8Array | DeflateError) => void) | null = null;
  /** The application's masking keys (a client's `generateMask`), and the buffer it fills. */
  private readonly generateMask: ((mask: Uint8Array) => void) | null;
  private readonly maskBuffer: Uint8Array | null;

  constructor(handle: SlotHandle, handler: ConnectionHandler, options: ConnectionOptions) {
    this.engine = handle.engine;
    this.slot = handle.slot;
    this.handler = handler;
    this.stream = options.fragments === "stream";
    this.masking = options.role === Role.Client;
    this.alloc = options.alloc ?? ((n) => new Uint8Array(n));
    this.copyRange = options.alloc?.copyRange;
    this.adopts = options.alloc?.adopts;
    const areas = ioAreas(this.engine);
    this.inPtr = areas.inPtr;
    this.inBytes = areas.bytes;
    this.srcPtr = areas.srcPtr;
    this.dstPtr = areas.outPtr;
    this.areaBytes = areas.bytes;
    this.deflate = options.deflate ?? null;
    this.maxPayload = options.maxPayload;
    this.maxFragments = this.stream ? 0 : Math.max(0, options.maxFragments ?? 0);
    this.role = options.role;
    this.autoPong = options.autoPong !== false;
    this.assembly = new MessageAssembly(this.alloc, this.maxPayload);
    this.generateMask = (this.masking && options.generateMask) || null;
    this.maskBuffer = this.generateMask ? this.alloc(4).fill(0) : null;
    this.open();
  }

  /** With `generateMask`, the key of the next frame: the application fills the buffer, the engine uses it. */
  private nextKey(): void {
    if (!this.generateMask) return;
    const mask = this.maskBuffer!;
    this.generateMask(mask);
    const key = mask[0] | (mask[1] << 8) | (mask[2] << 16) | (mask[3] << 24);
    check(this.engine.exports.useMaskKey(this.slot, key >>> 0), "generateMask");
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

  /** A message sent in pieces (`fin: false`) is open: a frame of another message must wait for its end. */
  get sendingPieces(): boolean {
    return this.continuing;
  }

  /** The permessage-deflate state, when negotiated. */
  get perMessageDeflate(): PerMessageDeflate | null {
    return this.deflate;
  }

  /** Where a host may read socket bytes straight into engine memory (then call `receiveInPlace`). */
  get readBuffer(): Uint8Array {
    return inputView(this.engine);
  }

  /** A close frame was sent. */
  get closeSent(): boolean {
    return this.closeWent;
  }

  /**
   * Read the engine's CloseSent flag after each call that can set it (`feed`: a close reply or a failure's
   * close; `writeClose`), so a send checks a field, not one more Wasm call per message.
   */
  private readCloseSent(): void {
    this.closeWent =
      ((this.engine.exports.connectionState(this.slot) >> abi.STATE_FLAGS_SHIFT) & ConnFlag.CloseSent) !== 0;
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
    if (this.holdingInput) return void (this.heldInput ??= []).push(bytes.slice());
    this.syncInflateBudget = SYNC_INFLATE_PER_READ;
    this.receivePieces(bytes);
  }

  /** Feed `length` bytes the host already read into `readBuffer`. */
  receiveInPlace(length: number): void {
    if (this.released || this.failed) return;
    const u8 = this.engine.u8;
    if (this.holdingInput)
      return void (this.heldInput ??= []).push(u8.slice(this.inPtr, this.inPtr + length));
    this.syncInflateBudget = SYNC_INFLATE_PER_READ;
    const fed = this.feed(this.inPtr, length);
    // What the engine has not parsed yet waits, copied, for the inflating message.
    if (this.waiting && fed < length)
      (this.heldInput ??= []).unshift(u8.slice(this.inPtr + fed, this.inPtr + length));
  }

  private receivePieces(bytes: Uint8Array): void {
    // A read that fits (nearly all): copied in whole, without a view of it (a native call on JSC).
    if (bytes.length <= this.inBytes) {
      this.engine.u8.set(bytes, this.inPtr);
      const fed = this.feed(this.inPtr, bytes.length);
      if (this.waiting && fed < bytes.length) (this.heldInput ??= []).unshift(bytes.slice(fed));
      return;
    }
    for (let offset = 0; offset < bytes.length && !this.released && !this.failed; offset += this.inBytes) {
      const piece = bytes.subarray(offset, offset + this.inBytes);
      this.engine.u8.set(piece, this.inPtr);
      const fed = this.feed(this.inPtr, piece.length);
      // The rest waits, copied (the caller may reuse its buffer), for the inflating message.
      if (this.waiting) {
        if (offset + fed < bytes.length) (this.heldInput ??= []).unshift(bytes.slice(offset + fed));
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
      if (!this.closeWent) this.readCloseSent();
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
        if (this.waiting) {
          const payload = len > 0 ? u8.slice(at, at + len) : EMPTY;
          (this.held ??= []).push({ type, opcode, flags, reason, code, payload, frameLength });
        } else this.dispatch(type, opcode, flags, reason, code, u8, at, len, frameLength);
      }
      if (consumed === 0 && count === 0) throw new Error("engine made no progress");
      done += consumed;
      if (this.waiting) break;
    }
    return done;
  }

  /**
   * The inflating message was delivered (or failed): replay what arrived behind it, in order, until all of it
   * is done or another message goes off to inflate; then the host may read again.
   */
  private replay(): void {
    while (!this.released && !this.failed && !this.waiting) {
      if (this.held && this.heldNext < this.held.length) {
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
      this.held = null;
      this.heldNext = 0;
      const bytes = this.heldInput?.shift();
      if (!bytes) break;
      this.syncInflateBudget = SYNC_INFLATE_PER_READ;
      this.receivePieces(bytes);
    }
    if (this.waiting || this.released || this.failed) return;
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
        return this.handler.error(new WebSocketProtocolError(reason, code, len));
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
    const frameStart = (flags & DataFlag.FrameStart) !== 0;
    if (this.maxFragments > 0 && frameStart) {
      if (first) this.fragmentCount = 0;
      if (++this.fragmentCount > this.maxFragments) {
        this.assembly.reset();
        return this.failLocally(HostError.TooManyFragments, abi.CloseCode.PolicyViolation);
      }
    }
    if (this.deflate) {
      if (first) {
        this.compressed = (flags & DataFlag.Rsv1) !== 0;
        this.messageBytes = 0;
      }
      if (this.compressed) return this.compressedData(isBinary, from.subarray(ptr, ptr + len), last);
      this.messageBytes += len;
      if (this.messageBytes > this.maxPayload)
        return this.failLocally(HostError.MessageTooBig, abi.CloseCode.MessageTooBig);
    }
    if (this.stream && this.handler.fragment)
      return this.handler.fragment(this.copy(ptr, len, from), isBinary, first, last);
    if (first && last) return this.handler.message(this.wholeMessage(ptr, len, from), isBinary);
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
      this.onInflated ??= (result) => this.inflatedAsync(result);
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
    this.startHolding();
  }

  /** A message inflates, or the host sends one, off the event loop: input waits behind it. */
  private get waiting(): boolean {
    return this.inflatingAsync || this.sendsWaiting;
  }

  private startHolding(): void {
    if (this.holdingInput) return;
    this.holdingInput = true;
    this.handler.holding?.(true);
  }

  /**
   * The host sends a message off the event loop (compressed on zlib's thread pool, or a Blob read): later
   * input is held, in order, as behind an inflating message, so nothing the engine answers by itself (pongs,
   * the reply to a close) goes out ahead of that message. `releaseInput` replays it.
   */
  holdInput(): void {
    if (this.released || this.failed) return;
    this.sendsWaiting = true;
    this.startHolding();
  }

  /** The held sends went: replay what arrived meanwhile (unless a message is still inflating). */
  releaseInput(): void {
    if (!this.sendsWaiting) return;
    this.sendsWaiting = false;
    if (!this.inflatingAsync) this.replay();
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
    this.failLocally(rule, error.closeCode, error.zlibMessage, error.errno);
  }

  /**
   * Deliver an inflated message: the codec's output (the message's own bytes, DeflateCodec) as it is when it
   * is of the host's byte type, so zlib's output chunks are copied once on the event loop, joined into the
   * Buffer the application gets (and binaryType "arraybuffer" gets that Buffer's ArrayBuffer when it fills
   * it, send-data.ts `toArrayBuffer`); otherwise copied into the host's bytes.
   */
  private deliverInflated(inflated: Uint8Array, isBinary: boolean): void {
    if (!isBinary && !this.validUtf8(inflated))
      return this.failLocally(HostError.InvalidUtf8, abi.CloseCode.InvalidPayload);
    let message = inflated;
    if (inflated.length === 0 || !this.adopts?.(inflated)) {
      message = this.alloc(inflated.length);
      message.set(inflated);
    }
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

  /**
   * The connection failed (RFC 6455 §7.1.7): nothing more the peer sends is processed, a message being
   * assembled or inflated is dropped, and the host may read again (to see the peer's FIN).
   */
  ignoreInput(): void {
    this.failed = true;
    this.assembly.reset();
    this.deflate?.release();
    this.dropHeld();
  }

  /** Fail the connection for a rule the host checks: send a close frame with `closeCode`, ignore input. */
  private failLocally(rule: number, closeCode: number, detail = "", errno?: number): void {
    this.ignoreInput();
    if (!this.closeSent) {
      this.nextKey();
      const size = this.engine.exports.writeClose(this.slot, closeCode, this.srcPtr, 0, this.dstPtr);
      this.readCloseSent();
      if (size > 0) this.flushDst(size);
    }
    const error = new WebSocketProtocolError(rule, closeCode, detail);
    if (errno !== undefined) error.errno = errno;
    this.handler.error(error);
  }

  /** A whole message's bytes at `ptr` of `from`, in the host's byte type, its own to keep. */
  private wholeMessage(ptr: number, len: number, from: Uint8Array): Uint8Array {
    if (len > TINY_MESSAGE_BYTES) return this.copy(ptr, len, from);
    const bytes = this.alloc(len);
    for (let i = 0; i < len; i++) bytes[i] = from[ptr + i];
    return bytes;
  }

  /** A copy in the host's byte type of `len` bytes at `ptr` of engine memory. */
  private copy(ptr: number, len: number, from: Uint8Array = this.engine.u8): Uint8Array {
    if (this.copyRange) return this.copyRange(from, ptr, ptr + len);
    const bytes = this.alloc(len);
    bytes.set(from.subarray(ptr, ptr + len));
    return bytes;
  }

  /**
   * Send a message: text for strings (unless `binary`), binary for bytes; fragmented at `fragmentSize`.
   * Returns the message's bytes as given (a string's UTF-8 length, before any compression): the application
   * data it adds to `bufferedAmount`.
   */
  send(
    data: string | Uint8Array,
    binary = typeof data !== "string",
    fragmentSize = 0,
    compress = true,
    fin = true,
  ): number {
    if (!fin || this.continuing) return this.sendPiece(data, binary, fin);
    const deflate = compress ? this.deflate : null;
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    if (typeof data === "string") {
      const sent = this.sendText(opcode, data, fragmentSize, deflate);
      if (sent >= 0) return sent;
      // Sure to be compressed: encoded in engine memory for the compressor, which copies nothing else.
      if (deflate?.shouldCompress(data.length) && data.length * 3 <= this.areaBytes) {
        const { written } = encoder.encodeInto(
          data,
          this.engine.u8.subarray(this.srcPtr, this.srcPtr + this.areaBytes),
        );
        const source = this.engine.u8.subarray(this.srcPtr, this.srcPtr + written);
        this.sendMessage(opcode, deflate.compress(source), fragmentSize, MessageFlag.Compressed);
        return written;
      }
      const bytes = encoder.encode(data);
      if (deflate?.shouldCompress(bytes.length))
        this.sendMessage(opcode, deflate.compress(bytes), fragmentSize, MessageFlag.Compressed);
      else this.sendMessage(opcode, bytes, fragmentSize, 0, true);
      return bytes.length;
    }
    if (deflate?.shouldCompress(data.length))
      this.sendMessage(opcode, deflate.compress(data), fragmentSize, MessageFlag.Compressed);
    else this.sendMessage(opcode, data, fragmentSize, 0);
    return data.length;
  }

  /**
   * Frame `payload` as a message (or a piece of one, MessageFlag.More) by the engine's message writer: it
   * writes each frame's header and says how many payload bytes follow it. A server sends the payload as it
   * is, behind its header (the output copies a small one into its batch once, passes a larger one, or one
   * `owned` by us, by reference); a client copies it into engine memory behind the header to mask it.
   */
  private sendMessage(
    opcode: number,
    payload: Uint8Array,
    fragmentSize: number,
    flags: number,
    owned = false,
  ): void {
    const exports = this.engine.exports;
    const length = payload.length;
    this.nextKey();
    let header = check(
      exports.beginMessage(this.slot, opcode, length, flags, fragmentSize, this.dstPtr),
      "send",
    );
    let offset = 0;
    for (;;) {
      const n = this.frameLength();
      this.engine.refillEntropy();
      const piece = n === length ? payload : payload.subarray(offset, offset + n);
      if (this.masking) this.sendMasked(header, piece);
      else this.sendPlain(header, piece, owned);
      offset += n;
      if (offset >= length) return;
      this.nextKey();
      header = check(exports.nextFrame(this.slot, this.dstPtr), "send");
    }
  }

  /**
   * Whether `send` would compress this message off the event loop: a whole message to compress, longer than
   * SYNC_DEFLATE_BYTES (a string's UTF-8 length counted only when its length alone does not settle it).
   */
  deflatesAsync(data: string | Uint8Array, compress: boolean, fin: boolean): boolean {
    if (!this.deflate || !compress || !fin || this.continuing) return false;
    let length = data.length;
    if (typeof data === "string" && length <= SYNC_DEFLATE_BYTES && length * 3 > SYNC_DEFLATE_BYTES)
      length = utf8Length(data);
    return this.deflate.compressesAsync(length);
  }

  /** Send a message whose payload was compressed off the event loop: RSV1 on its first frame. */
  sendCompressed(payload: Uint8Array, binary: boolean, fragmentSize = 0): void {
    this.sendMessage(
      binary ? Opcode.Binary : Opcode.Text,
      payload,
      fragmentSize,
      MessageFlag.Compressed,
      true,
    );
  }

  /** Payload bytes of the frame whose header `beginMessage` or `nextFrame` wrote. */
  private frameLength(): number {
    return (
      this.engine.resultField(Result.FrameLength) + this.engine.resultField(Result.FrameLengthHigh) * 2 ** 32
    );
  }

  /**
   * A server's frame, its header in engine memory. A small payload of the caller's is copied once, with the
   * header, by the handler's `writeFrame` (or behind it in engine memory for a handler without one), so a
   * frame is one write; a larger one, or one we own, goes by reference behind its header.
   */
  private sendPlain(header: number, payload: Uint8Array, owned: boolean): void {
    const u8 = this.engine.u8;
    const n = payload.length;
    if (!owned && n <= COPY_BYTES) {
      if (this.handler.writeFrame) return this.handler.writeFrame(u8, this.dstPtr, header, payload);
      if (header + n <= this.areaBytes) {
        u8.set(payload, this.dstPtr + header);
        return this.handler.write(u8.subarray(this.dstPtr, this.dstPtr + header + n), true);
      }
    }
    this.handler.write(u8.subarray(this.dstPtr, this.dstPtr + header), true);
    if (n > 0) this.handler.write(payload, false, owned);
  }

  /** A client's frame: the payload copied behind the header in engine memory, masked there, in pieces. */
  private sendMasked(header: number, payload: Uint8Array): void {
    const { exports, u8 } = this.engine;
    const dst = this.dstPtr;
    if (header + payload.length <= this.areaBytes) {
      u8.set(payload, dst + header);
      exports.maskChunk(this.slot, dst + header, payload.length);
      return this.handler.write(u8.subarray(dst, dst + header + payload.length), true);
    }
    // Longer than the area: the header alone, then the payload an area at a time.
    this.handler.write(u8.subarray(dst, dst + header), true);
    for (let offset = 0; offset < payload.length; offset += this.areaBytes) {
      const piece = payload.subarray(offset, offset + this.areaBytes);
      u8.set(piece, dst);
      exports.maskChunk(this.slot, dst, piece.length);
      this.handler.write(u8.subarray(dst, dst + piece.length), true);
    }
  }

  /**
   * Send a string encoded once, straight into the output behind the header the engine writes for it: on a
   * server into room the handler gives (its batch), on a client into engine memory, where it is masked.
   * Compressed instead when `deflate` says so. Its UTF-8 length, or -1 when it cannot be (fragmented, longer
   * than the room, no room from the handler): the caller encodes it elsewhere.
   */
  private sendText(
    opcode: number,
    text: string,
    fragmentSize: number,
    deflate: PerMessageDeflate | null,
  ): number {
    const { exports, u8 } = this.engine;
    const most = text.length * 3;
    if (fragmentSize > 0 && fragmentSize < most) return -1;
    // The header goes first, so its size is needed before encoding: the engine's for the bounds of the UTF-8
    // length (one to three bytes a UTF-16 unit) when they agree, else for the exact length.
    let header = exports.headerBytes(this.slot, text.length);
    let length = most;
    if (header !== exports.headerBytes(this.slot, most)) {
      length = utf8Length(text);
      header = exports.headerBytes(this.slot, length);
    }
    // Where the payload goes: behind the header in engine memory (a client masks it there) or in the output.
    let room: Uint8Array | null;
    if (this.masking) {
      const at = this.dstPtr + header;
      room = header + length <= this.areaBytes ? u8.subarray(at, at + length) : null;
    } else room = this.handler.reserve?.(header, length) ?? null;
    if (!room) return -1;
    const { written } = encoder.encodeInto(text, room);
    if (deflate?.shouldCompress(written)) {
      // The room is left unused: the compressed payload is what goes out.
      const compressed = deflate.compress(room.subarray(0, written));
      this.sendMessage(opcode, compressed, fragmentSize, MessageFlag.Compressed);
      return written;
    }
    this.nextKey();
    check(exports.beginMessage(this.slot, opcode, written, 0, 0, this.dstPtr), "send");
    if (this.masking) {
      exports.maskChunk(this.slot, this.dstPtr + header, written);
      this.engine.refillEntropy();
      this.handler.write(u8.subarray(this.dstPtr, this.dstPtr + header + written), true);
    } else this.handler.commit!(u8, this.dstPtr, header, written);
    return written;
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
    if (this.closeSent) return false;
    const { read, written } = encoder.encodeInto(
      reason,
      this.engine.u8.subarray(this.srcPtr, this.srcPtr + this.areaBytes),
    );
    // A reason past the staging area is judged by its length alone: the engine reads no further.
    const length = read < reason.length ? encoder.encode(reason).length : written;
    this.nextKey();
    const size = check(
      this.engine.exports.writeClose(this.slot, code ?? 0, this.srcPtr, length, this.dstPtr),
      `close(${code})`,
    );
    this.readCloseSent();
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
    this.sendsWaiting = false;
    this.held = null;
    this.heldNext = 0;
    this.heldInput = null;
    if (!this.holdingInput) return;
    this.holdingInput = false;
    if (!this.released) this.handler.holding?.(false);
  }

  private control(opcode: number, data: Uint8Array): void {
    // Staged when it fits; the engine judges the length before it reads any of it.
    if (data.length <= this.areaBytes) this.engine.u8.set(data, this.srcPtr);
    this.nextKey();
    const size = check(
      this.engine.exports.writeControl(this.slot, opcode, this.srcPtr, data.length, this.dstPtr),
      opcode === Opcode.Ping ? "ping" : "pong",
    );
    this.flushDst(size);
  }

  /**
   * A piece of a message the caller sends in pieces (ws's `fin: false`): the engine writes the first with
   * the message's opcode, later ones as continuations, FIN on the piece sent with `fin`. Uncompressed: RSV1
   * would have to be on the first frame of a message compressed whole.
   */
  private sendPiece(data: string | Uint8Array, binary: boolean, fin: boolean): number {
    const owned = typeof data === "string";
    const bytes = owned ? encoder.encode(data) : data;
    this.sendMessage(binary ? Opcode.Binary : Opcode.Text, bytes, 0, fin ? 0 : MessageFlag.More, owned);
    this.continuing = !fin;
    return bytes.length;
  }

  private flushDst(size: number): void {
    this.engine.refillEntropy();
    this.handler.write(this.engine.u8.subarray(this.dstPtr, this.dstPtr + size), true);
  }
}
