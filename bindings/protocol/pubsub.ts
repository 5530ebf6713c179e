// Pub/sub topics, runtime-neutral: which connections of a server are subscribed to what, a message framed
// once for all of them (and with permessage-deflate compressed once for all of them, `Publication`), and the
// adapter that carries publishes to the servers of other processes. The in-process adapter links the
// servers of one process; adapters/redis.ts links processes.
import { ConnFlag, MessageFlag, Opcode, Role } from "../engine/abi.js";
import { ioAreas } from "./connection.js";
import { check } from "../engine/errors.js";
import type { EnginePool, SlotHandle } from "../engine/pool.js";
import type { PerMessageDeflate } from "./permessage-deflate.js";

/** A server as an adapter sees it: it delivers messages published elsewhere to its own subscribers. */
export interface PubSubHub {
  /**
   * A message published to `topic` (or broadcast, `topic` null) by another server: deliver it here
   * (`compress` false: uncompressed to every subscriber, as the publisher asked).
   */
  deliver(topic: string | null, payload: Uint8Array, binary: boolean, compress: boolean): void;
}

/**
 * Carries publishes between servers. A server attaches its hub when it starts and detaches it when it
 * closes, says when a topic gains its first local subscriber or loses its last, and hands over each
 * publish (after delivering it to its own subscribers, so the adapter must not deliver it back to
 * `origin`). `topic` null is a broadcast to every connection.
 */
export interface PubSubAdapter {
  attach(hub: PubSubHub): void;
  detach(hub: PubSubHub): void;
  subscribed(hub: PubSubHub, topic: string): void;
  unsubscribed(hub: PubSubHub, topic: string): void;
  publish(
    origin: PubSubHub,
    topic: string | null,
    payload: Uint8Array,
    binary: boolean,
    compress: boolean,
  ): void;
}

/**
 * The default adapter: servers of one process. Each server gets its own unless one is given; give the
 * same instance to several servers (on different ports or paths) to make their topics one.
 */
export class InProcessAdapter implements PubSubAdapter {
  /** The attached servers. */
  protected readonly hubs = new Set<PubSubHub>();

  attach(hub: PubSubHub): void {
    this.hubs.add(hub);
  }

  detach(hub: PubSubHub): void {
    this.hubs.delete(hub);
  }

  subscribed(_hub: PubSubHub, _topic: string): void {}

  unsubscribed(_hub: PubSubHub, _topic: string): void {}

  publish(
    origin: PubSubHub | null,
    topic: string | null,
    payload: Uint8Array,
    binary: boolean,
    compress: boolean,
  ): void {
    for (const hub of this.hubs) if (hub !== origin) hub.deliver(topic, payload, binary, compress);
  }
}

/** A topic name, checked. */
export function topicName(topic: unknown): string {
  if (typeof topic !== "string" || topic.length === 0)
    throw new TypeError(`topic must be a non-empty string, got ${JSON.stringify(topic)}`);
  return topic;
}

/** Who is subscribed to what, on one server; tells the adapter when a topic gains or loses its last. */
export class TopicRegistry<C> {
  private readonly topics = new Map<string, Set<C>>();
  private readonly adapter: PubSubAdapter;
  private readonly hub: PubSubHub;

  constructor(adapter: PubSubAdapter, hub: PubSubHub) {
    this.adapter = adapter;
    this.hub = hub;
  }

  /** Subscribe `member`; false when it already was. */
  add(topic: string, member: C): boolean {
    let members = this.topics.get(topic);
    if (!members) {
      members = new Set();
      this.topics.set(topic, members);
      this.adapter.subscribed(this.hub, topic);
    } else if (members.has(member)) return false;
    members.add(member);
    return true;
  }

  /** Unsubscribe `member`; false when it was not. */
  remove(topic: string, member: C): boolean {
    const members = this.topics.get(topic);
    if (!members || !members.delete(member)) return false;
    if (members.size === 0) {
      this.topics.delete(topic);
      this.adapter.unsubscribed(this.hub, topic);
    }
    return true;
  }

  /** The subscribers of `topic` here (undefined for none). */
  members(topic: string): ReadonlySet<C> | undefined {
    return this.topics.get(topic);
  }

  /** How many connections of this server are subscribed to `topic`. */
  count(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /** The topics with at least one subscriber here. */
  names(): IterableIterator<string> {
    return this.topics.keys();
  }
}

const OPCODE_TEXT = Opcode.Text;
const OPCODE_BINARY = Opcode.Binary;

/**
 * Frames a message once for many connections: a server's frames are unmasked, so the bytes are the same
 * for every receiver. The header comes from the engine (one server-role slot held for the purpose); the
 * payload is copied behind it into one buffer, so the caller may reuse its own bytes at once.
 */
export class MessageFramer {
  private readonly pool: EnginePool;
  private readonly alloc: (size: number) => Uint8Array;
  private handle: SlotHandle | null = null;

  constructor(pool: EnginePool, alloc: (size: number) => Uint8Array) {
    this.pool = pool;
    this.alloc = alloc;
  }

  /**
   * One complete frame (FIN, text or binary) carrying `payload`; with `compressed`, RSV1 set (the payload is
   * permessage-deflate data).
   */
  frame(payload: Uint8Array, binary: boolean, compressed = false): Uint8Array {
    const handle = (this.handle ??= this.openSlot());
    const { engine, slot } = handle;
    // The output third: the input third may hold a read's unparsed frames while a handler publishes.
    const dst = ioAreas(engine).outPtr;
    const opcode = binary ? OPCODE_BINARY : OPCODE_TEXT;
    const flags = compressed ? MessageFlag.Compressed : 0;
    const size = check(engine.exports.beginMessage(slot, opcode, payload.length, flags, 0, dst), "publish");
    const frame = this.alloc(size + payload.length);
    frame.set(engine.u8.subarray(dst, dst + size));
    frame.set(payload, size);
    return frame;
  }

  /** Give the slot back (the server closed). */
  release(): void {
    if (this.handle) this.pool.release(this.handle);
    this.handle = null;
  }

  private openSlot(): SlotHandle {
    const handle = this.pool.acquire();
    // Role 0 = server (unmasked frames), RSV1 allowed (compressed publishes); the limit is for reading, which
    // this slot never does.
    check(handle.engine.exports.open(handle.slot, Role.Server, ConnFlag.Rsv1Allowed, 0), "open");
    return handle;
  }
}

/**
 * A published message's frame as some of its subscribers get it: the plain frame, or the message compressed
 * once (permessage-deflate, RSV1) for every subscriber whose compressor has the same settings. A long message
 * is compressed off the event loop: until then the frame is not `ready`, and the connections it is queued on
 * hold it (and what they send after it) in order (held-sends.ts).
 */
export class PublishedFrame {
  /** The frame, once ready. */
  bytes: Uint8Array | null;
  /** The frame carries the payload compressed (RSV1). */
  compressed: boolean;
  /** The message as published (the application data, and a context-takeover compressor's history). */
  readonly payload: Uint8Array;
  private waiters: Array<() => void> = [];
  private cancel: (() => void) | null = null;

  constructor(payload: Uint8Array, bytes: Uint8Array | null, compressed: boolean) {
    this.payload = payload;
    this.bytes = bytes;
    this.compressed = compressed;
  }

  /** The frame's bytes are there. */
  get ready(): boolean {
    return this.bytes !== null;
  }

  /**
   * Call `done` once the frame is ready (later, never inside this call); the returned function leaves. When
   * the last one waiting leaves, the compression is stopped.
   */
  wait(done: () => void): () => void {
    this.waiters.push(done);
    return () => {
      const at = this.waiters.indexOf(done);
      if (at < 0) return;
      this.waiters.splice(at, 1);
      if (this.waiters.length === 0) this.stop();
    };
  }

  /** @internal Compressing off the event loop; `cancel` stops it. */
  started(cancel: () => void): void {
    this.cancel = cancel;
  }

  /** @internal Stop the compression when no connection waits for it (none took the frame, or all closed). */
  stopIfUnwanted(): void {
    if (!this.ready && this.waiters.length === 0) this.stop();
  }

  /** @internal The frame is ready: wake those waiting, in the order they began to. */
  settle(bytes: Uint8Array, compressed: boolean): void {
    this.cancel = null;
    this.bytes = bytes;
    this.compressed = compressed;
    const waiters = this.waiters;
    this.waiters = [];
    for (const done of waiters) done();
  }

  private stop(): void {
    const cancel = this.cancel;
    this.cancel = null;
    cancel?.();
  }
}

/**
 * One publish (or broadcast) being delivered by one server: its frames, each made at most once and only
 * when a subscriber needs it: plain for subscribers without permessage-deflate, or when the message is
 * below the compression threshold; compressed alone (no context, so valid whatever the peer's window
 * holds) once per compressor setting (window bits, level, memLevel) for the others, whether or not they
 * negotiated context takeover. A message longer than SYNC_DEFLATE_BYTES is compressed on zlib's thread pool.
 * If zlib fails, the subscribers waiting for it get the plain frame, which is valid too. With `compress`
 * false (the publisher's choice, as uWebSockets.js's and Bun's `publish` take it) every subscriber gets the
 * plain frame.
 */
export class Publication {
  private readonly framer: MessageFramer;
  private readonly payload: Uint8Array;
  private readonly binary: boolean;
  private readonly compressed: boolean;
  private plainFrame: PublishedFrame | null = null;
  /** The compressed frames by `PerMessageDeflate.sharedKey` (one, nearly always). */
  private compressedFrames: Map<number, PublishedFrame> | null = null;

  constructor(framer: MessageFramer, payload: Uint8Array, binary: boolean, compress = true) {
    this.framer = framer;
    this.payload = payload;
    this.binary = binary;
    this.compressed = compress;
  }

  /** The frame for a subscriber with this compressor (null: permessage-deflate not negotiated). */
  frameFor(deflate: PerMessageDeflate | null): PublishedFrame {
    if (!deflate || !this.compressed || !deflate.shouldCompress(this.payload.length)) return this.plain();
    const key = deflate.sharedKey;
    const frames = (this.compressedFrames ??= new Map());
    let frame = frames.get(key);
    if (!frame) {
      frame = this.compress(deflate);
      frames.set(key, frame);
    }
    return frame;
  }

  /** Every subscriber has its frame: a compression no one took is stopped. */
  end(): void {
    if (this.compressedFrames) for (const frame of this.compressedFrames.values()) frame.stopIfUnwanted();
  }

  private plain(): PublishedFrame {
    return (this.plainFrame ??= new PublishedFrame(
      this.payload,
      this.framer.frame(this.payload, this.binary),
      false,
    ));
  }

  private compress(deflate: PerMessageDeflate): PublishedFrame {
    const frame = new PublishedFrame(this.payload, null, true);
    const cancel = deflate.compressAloneAsync(this.payload, (result) => {
      if (result instanceof Error) frame.settle(this.plain().bytes!, false);
      else frame.settle(this.framer.frame(result, this.binary, true), true);
    });
    if (cancel) frame.started(cancel);
    else frame.settle(this.framer.frame(deflate.compressAlone(this.payload), this.binary, true), true);
    return frame;
  }
}
