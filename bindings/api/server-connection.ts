// The server's per-connection object, shaped like `ws`'s WebSocket so its users can switch by an import.
// Runtime-neutral: the host gives it a `SessionSocket` and the `alloc` its byte type comes from.
import { joinChunks, type MessageData } from "./message-data.js";
import { defaults } from "../policies/config.js";
import { Emitter } from "./emitter.js";
import type { EnginePool, SlotHandle } from "../engine/pool.js";
import { topicName, type TopicRegistry } from "../protocol/pubsub.js";
import { utf8 } from "../engine/text.js";
import { Session, type SessionEvents, type SessionOptions, type SessionSocket } from "../protocol/session.js";
import { ReadyState } from "../protocol/ready-state.js";
import {
  controlBytes,
  toArrayBuffer,
  type ControlData,
  type SendData,
  type WriteCallback,
} from "../protocol/send-data.js";

/** How received binary data is delivered: the host's byte type (Buffer on Node/Bun) or ArrayBuffer. */
export type BinaryType = "nodebuffer" | "arraybuffer";

/** Options of `send`. */
export interface SendOptions {
  /** Send as a binary message (default: true for bytes, false for strings). */
  binary?: boolean;
  /** Split into frames of at most this many payload bytes (0: one frame). */
  fragmentSize?: number;
  /** Compress when permessage-deflate was negotiated (default true; the threshold still applies). */
  compress?: boolean;
  /** false: this is a piece of a message and later sends continue it, the one with `fin` true ending it. */
  fin?: boolean;
}

/** Events of a server-side connection; `B` is the host's byte type. */
export interface ServerConnectionEvents<B extends Uint8Array = Uint8Array> {
  message: [data: B | ArrayBuffer, isBinary: boolean];
  fragment: [data: B | ArrayBuffer, isBinary: boolean, first: boolean, last: boolean];
  ping: [data: B];
  pong: [data: B];
  close: [code: number, reason: B];
  error: [error: Error];
  drain: [];
}

/** Options of `publish`. */
export interface PublishOptions<C = unknown> {
  /** Send as binary (default: true for bytes, false for strings). */
  binary?: boolean;
  /** Skip this connection (or these) of this server. */
  except?: C | C[];
  /**
   * Compress for subscribers that negotiated permessage-deflate (default true: messages at or above the
   * threshold are compressed, once for all of them); false sends it uncompressed to everyone.
   */
  compress?: boolean;
}

/** The server's topics as a connection uses them. */
export interface TopicHost<C> {
  readonly registry: TopicRegistry<C>;
  publish(topic: string, data: SendData, options?: PublishOptions<C>): number;
}

/** What the server tells a new connection. */
export interface ServerConnectionInit<S> {
  /** The host's own socket object (exposed as `ws.socket`). */
  socket: S;
  /** ws's `_socket` when it is not `socket` (Bun: a `net.Socket`-shaped view of Bun's socket, made on first use). */
  netSocket?: () => unknown;
  /** The socket as the session drives it. */
  link: SessionSocket;
  remoteAddress: string;
  protocol: string;
  /** The Sec-WebSocket-Extensions value answered ("" for none). */
  extensions?: string;
  pool: EnginePool;
  handle: SlotHandle;
  /** The session's settings (role Server), used as they are: the server shares one object. */
  options: SessionOptions;
  alloc: (size: number) => Uint8Array;
  /** The server's topics (pub/sub). */
  topics?: TopicHost<ServerConnection<never, unknown>>;
}

/**
 * What the server asks of the object an application holds for a connection: the connection itself, or an
 * instance of the `WebSocket` option's client class serving it (bindings/api/client-core.ts, `serve`).
 */
export interface ConnectionFace {
  readonly readyState: number;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

let nextId = 1;
const encoder = new TextEncoder();

/** One accepted WebSocket connection on a `WebSocketServer`. */
/** `S`: the host's socket (`socket`); `N`: ws's `_socket` (the same, but on Bun: runtimes/bun/net-socket.ts). */
export class ServerConnection<B extends Uint8Array = Uint8Array, S = unknown, N = S> extends Emitter<
  ServerConnectionEvents<B>
> {
  static readonly CONNECTING = ReadyState.CONNECTING;
  static readonly OPEN = ReadyState.OPEN;
  static readonly CLOSING = ReadyState.CLOSING;
  static readonly CLOSED = ReadyState.CLOSED;
  readonly CONNECTING = ReadyState.CONNECTING;
  readonly OPEN = ReadyState.OPEN;
  readonly CLOSING = ReadyState.CLOSING;
  readonly CLOSED = ReadyState.CLOSED;

  /** Process-unique connection id (for `wss.disconnect(id)` and logs). */
  readonly id: number;
  /** The peer's IP address. */
  readonly remoteAddress: string;
  /** The subprotocol chosen in the handshake ("" for none). */
  readonly protocol: string;
  /** The Sec-WebSocket-Extensions value the server answered with ("" for none). */
  readonly extensions: string;
  /** The host's socket (net.Socket on Node, Bun's Socket on Bun). */
  readonly socket: S;
  private readonly netSocket: (() => unknown) | null;
  /** How binary messages are delivered. */
  binaryType: BinaryType = "nodebuffer";
  /** The session driving this connection (for the host's socket events). */
  readonly session: Session;
  private readonly alloc: (size: number) => Uint8Array;
  private readonly topicHost: TopicHost<this> | null;
  private subscribed: Set<string> | null = null;
  private readonly reports: ConnectionReports<B>;
  /** @internal What the application holds for this connection: itself, or the client object serving it. */
  face: ConnectionFace = this;

  constructor(init: ServerConnectionInit<S>) {
    super();
    this.id = nextId++;
    this.socket = init.socket;
    this.netSocket = init.netSocket ?? null;
    this.remoteAddress = init.remoteAddress;
    this.protocol = init.protocol;
    this.extensions = init.extensions ?? "";
    this.alloc = init.alloc;
    this.topicHost = (init.topics as TopicHost<this> | undefined) ?? null;
    this.session = new Session(
      init.link,
      init.pool,
      init.handle,
      init.options,
      (this.reports = new ConnectionReports(this)),
      init.alloc,
    );
  }

  /** ws's `_socket`: `socket`, a `net.Socket` on Node; on Bun a `net.Socket`-shaped view of Bun's socket. */
  get _socket(): N {
    return (this.netSocket ? this.netSocket() : this.socket) as N;
  }

  /** CONNECTING, OPEN, CLOSING or CLOSED. */
  get readyState(): number {
    return this.session.readyState;
  }

  /** Bytes queued and not yet handed to the kernel (this tick's sends are handed to the socket first). */
  get bufferedAmount(): number {
    return this.session.bufferedAmountNow;
  }

  /** Send a message; `callback` runs when it is written (or with an error when it cannot be). */
  send(data: MessageData, options?: SendOptions | WriteCallback, callback?: WriteCallback): void {
    if (typeof options === "function") [callback, options] = [options, undefined];
    data = joinChunks(data);
    const binary = options?.binary ?? typeof data !== "string";
    const fragmentSize = options?.fragmentSize ?? defaults.maxFragmentSize;
    this.session.send(data, binary, fragmentSize, callback, options?.compress, options?.fin);
  }

  /** Send a ping (payload up to 125 bytes); as in ws, the callback may come first or second. */
  ping(data?: ControlData | WriteCallback, mask?: boolean | WriteCallback, callback?: WriteCallback): void {
    if (typeof data === "function") [callback, data] = [data, undefined];
    else if (typeof mask === "function") callback = mask;
    this.session.ping(controlBytes(data), callback);
  }

  /** Send an unsolicited pong (payload up to 125 bytes); as in ws, the callback may come first or second. */
  pong(data?: ControlData | WriteCallback, mask?: boolean | WriteCallback, callback?: WriteCallback): void {
    if (typeof data === "function") [callback, data] = [data, undefined];
    else if (typeof mask === "function") callback = mask;
    this.session.pong(controlBytes(data), callback);
  }

  /** Stop reading from the peer (ws's `pause()`): no events until `resume()`. */
  pause(): void {
    this.session.pause();
  }

  /** Read from the peer again after `pause()`. */
  resume(): void {
    this.session.resume();
  }

  /** Whether `pause()` is in effect. */
  get isPaused(): boolean {
    return this.session.paused;
  }

  /** Receive what is published to `topic` from now on; false when already subscribed or closed. */
  subscribe(topic: string): boolean {
    const host = this.requireTopics();
    topicName(topic);
    if (this.session.isReleased || !host.registry.add(topic, this)) return false;
    (this.subscribed ??= new Set()).add(topic);
    return true;
  }

  /** Stop receiving `topic`; false when not subscribed. */
  unsubscribe(topic: string): boolean {
    const host = this.requireTopics();
    if (!this.subscribed?.delete(topicName(topic))) return false;
    host.registry.remove(topic, this);
    return true;
  }

  /** Whether this connection is subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.subscribed?.has(topic) ?? false;
  }

  /** The topics this connection is subscribed to. */
  get topics(): string[] {
    return this.subscribed ? [...this.subscribed] : [];
  }

  /** Bun's name for `topics`. */
  get subscriptions(): string[] {
    return this.topics;
  }

  /**
   * Publish to every other subscriber of `topic` (through the server's adapter, on every server that
   * shares it); returns how many connections of this server it was queued for.
   */
  publish(topic: string, data: SendData, options?: Omit<PublishOptions, "except">): number {
    return this.requireTopics().publish(topic, data, {
      binary: options?.binary,
      compress: options?.compress,
      except: this,
    });
  }

  /** Start the close handshake (TypeError for a code or reason the RFC forbids). */
  close(code?: number, reason: string | Uint8Array = ""): void {
    this.session.close(code, typeof reason === "string" ? reason : utf8.decode(reason));
  }

  /** Destroy the connection now, without a close handshake. */
  terminate(): void {
    this.session.terminateAfterSends();
  }

  private requireTopics(): TopicHost<this> {
    if (!this.topicHost) throw new Error("this connection has no server to publish through");
    return this.topicHost;
  }

  /**
   * @internal A client object serves this connection (the server's `WebSocket` option): the session's
   * events go to `events` instead of this emitter's listeners, and `face` is what the application holds.
   * This emitter still emits "close" (the server's own bookkeeping), before `events` hears of the end.
   */
  serveThrough(face: ConnectionFace, events: SessionEvents): void {
    this.face = face;
    this.reports.relay = events;
  }

  /** @internal Leave every topic (the connection ended). */
  unsubscribeAll(): void {
    if (!this.subscribed || !this.topicHost) return;
    for (const topic of this.subscribed) this.topicHost.registry.remove(topic, this);
    this.subscribed = null;
  }

  /** @internal A message's bytes as `binaryType` asks. */
  deliver(data: Uint8Array, isBinary: boolean): B | ArrayBuffer {
    return isBinary && this.binaryType === "arraybuffer" ? toArrayBuffer(data) : (data as B);
  }

  /** @internal `text` as the host's bytes. */
  bytes(text: string): B {
    if (text === "") return this.alloc(0) as B;
    const encoded = encoder.encode(text);
    const bytes = this.alloc(encoded.length);
    bytes.set(encoded);
    return bytes as B;
  }
}

/** The session's events as a connection's: a class, so a connection costs no closures for them. */
class ConnectionReports<B extends Uint8Array> implements SessionEvents {
  private readonly ws: ServerConnection<B, unknown>;
  /** An 'error' was emitted: a connection emits at most one, the first cause (as ws's do). */
  private errored = false;
  /** Where the events go instead when a client object serves the connection (`serveThrough`). */
  relay: SessionEvents | null = null;

  constructor(ws: ServerConnection<B, unknown>) {
    this.ws = ws;
  }

  message(data: Uint8Array, isBinary: boolean): void {
    if (this.relay) return this.relay.message(data, isBinary);
    this.ws.emit("message", this.ws.deliver(data, isBinary), isBinary);
  }

  fragment(data: Uint8Array, isBinary: boolean, first: boolean, last: boolean): void {
    if (this.relay) return this.relay.fragment(data, isBinary, first, last);
    this.ws.emit("fragment", this.ws.deliver(data, isBinary), isBinary, first, last);
  }

  ping(data: Uint8Array): void {
    if (this.relay) return this.relay.ping(data);
    this.ws.emit("ping", data as B);
  }

  pong(data: Uint8Array): void {
    if (this.relay) return this.relay.pong(data);
    this.ws.emit("pong", data as B);
  }

  closing(code: number, reason: string): void {
    this.relay?.closing(code, reason);
  }

  error(error: Error): void {
    if (this.relay) return this.relay.error(error);
    if (this.errored) return;
    this.errored = true;
    if (this.ws.listenerCount("error") > 0) this.ws.emit("error", error);
  }

  drain(): void {
    if (this.relay) return this.relay.drain();
    this.ws.emit("drain");
  }

  end(code: number, reason: string, wasClean: boolean): void {
    this.ws.unsubscribeAll();
    this.ws.emit("close", code, this.ws.bytes(reason));
    this.relay?.end(code, reason, wasClean);
  }
}
