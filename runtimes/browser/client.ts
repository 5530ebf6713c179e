// The browser client: the WHATWG WebSocket surface over the native `WebSocket` (the browser frames and
// answers server pings itself), plus the policies every client host shares (bindings/policies/): reconnect
// with backoff, the send queue while not open, an application-level heartbeat; and the lifecycle state
// machine of the Node and Bun clients (bindings/api/client-lifecycle.ts), with lifecycle events like
// esp_websocket_client's.
import { CloseCode } from "../../bindings/engine/abi.js";
import { defaults } from "../../bindings/policies/config.js";
import type { BackoffOptions } from "../../bindings/policies/backoff.js";
import {
  Heartbeat,
  heartbeatOptions,
  type HeartbeatOptions as HeartbeatTiming,
} from "../../bindings/policies/heartbeat.js";
import { Reconnect, type FinishReason } from "../../bindings/policies/reconnect.js";
import { SendQueue, byteSize } from "../../bindings/policies/send-queue.js";
import { ClientLifecycle } from "../../bindings/api/client-lifecycle.js";
import type { ConnectingDetail, FinishDetail, ReconnectingDetail } from "../../bindings/api/client-core.js";

/** Data the native `WebSocket.send` accepts. */
export type SendData = string | ArrayBufferLike | Blob | ArrayBufferView;

/**
 * Application-level liveness: browsers cannot send ping frames, so a text message stands in. The timing
 * is the shared policy (bindings/policies/heartbeat.ts): ping after `interval` ms of silence, drop the connection
 * when `timeout` more ms pass without any message.
 */
export interface HeartbeatOptions extends HeartbeatTiming {
  /** The ping message (default "ping"). */
  message?: string;
  /** A reply to swallow instead of delivering it as a "message" event (e.g. "pong"). */
  pong?: string;
}

/** What the client adds to the native constructor's arguments. */
export interface ClientOptions {
  /** Reconnect after a close the application did not ask for: `true` for the defaults, or the policy. */
  reconnect?: boolean | BackoffOptions;
  /** Decide per close whether to reconnect (default: always, when `reconnect` is on). */
  shouldReconnect?: (event: CloseEvent) => boolean;
  /** While not open: "queue" sends and deliver them on open (default), or "reject" them (throw). */
  whileConnecting?: "queue" | "reject";
  /** Most messages held while not open (default 1024); beyond, `send` throws a RangeError. */
  maxQueued?: number;
  heartbeat?: HeartbeatOptions;
  /** Initial `binaryType` (default "blob", as in the browser). */
  binaryType?: BinaryType;
  /** The transport constructor (default the global `WebSocket`). */
  WebSocket?: typeof WebSocket;
}

// The lifecycle event details are the Node/Bun client's (one declaration for every host).
export type { ConnectingDetail, FinishDetail, ReconnectingDetail };

/** Events of the client: the WHATWG four plus the lifecycle. */
export interface ClientEventMap {
  connecting: CustomEvent<ConnectingDetail>;
  open: Event;
  message: MessageEvent;
  error: Event;
  close: CloseEvent;
  reconnecting: CustomEvent<ReconnectingDetail>;
  finish: CustomEvent<FinishDetail>;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** A WHATWG-compatible WebSocket that reconnects, queues, and watches liveness. */
export class WebSocketClient extends EventTarget {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;

  /** The URL as the native WebSocket resolved it (the given one before the first connection). */
  url: string;
  onopen: ((this: WebSocketClient, event: Event) => unknown) | null = null;
  onmessage: ((this: WebSocketClient, event: MessageEvent) => unknown) | null = null;
  onerror: ((this: WebSocketClient, event: Event) => unknown) | null = null;
  onclose: ((this: WebSocketClient, event: CloseEvent) => unknown) | null = null;

  private readonly protocols: string | string[] | undefined;
  private readonly options: ClientOptions;
  private readonly Transport: typeof WebSocket;
  private socket: WebSocket | null = null;
  private readonly lifecycle = new ClientLifecycle();
  private readonly reconnect: Reconnect<CloseEvent>;
  private readonly queue: SendQueue<SendData>;
  private heartbeat: Heartbeat | null = null;
  private type: BinaryType;

  constructor(url: string | URL, protocols?: string | string[], options: ClientOptions = {}) {
    super();
    this.url = String(url);
    this.protocols = protocols;
    this.options = options;
    this.type = options.binaryType ?? "blob";
    this.Transport = options.WebSocket ?? globalThis.WebSocket;
    this.reconnect = new Reconnect(options.reconnect, options.shouldReconnect);
    this.queue = new SendQueue(options.maxQueued ?? defaults.maxQueued);
    for (const type of ["open", "message", "error", "close"] as const) {
      this.addEventListener(type, (event) => this.callHandler(type, event));
    }
    // The first socket is made now so a bad URL throws here, as the native constructor does; its
    // "connecting" event waits a microtask so the caller can attach listeners first.
    this.open();
    queueMicrotask(() => this.dispatchEvent(new CustomEvent("connecting", { detail: { attempt: 0 } })));
  }

  /** CONNECTING while connecting or waiting to reconnect, OPEN, CLOSING, or CLOSED once finished. */
  get readyState(): number {
    return this.lifecycle.readyState;
  }

  /** The subprotocol the server chose on the current connection. */
  get protocol(): string {
    return this.socket?.protocol ?? "";
  }

  /** Extensions the server accepted on the current connection. */
  get extensions(): string {
    return this.socket?.extensions ?? "";
  }

  /** Bytes the browser has not sent yet plus bytes queued while not open. */
  get bufferedAmount(): number {
    return (this.socket?.bufferedAmount ?? 0) + this.queue.bytes;
  }

  /** Messages held until the next open. */
  get queuedMessages(): number {
    return this.queue.length;
  }

  get binaryType(): BinaryType {
    return this.type;
  }

  set binaryType(type: BinaryType) {
    this.type = type;
    if (this.socket) this.socket.binaryType = type;
  }

  /** Send now when open; while connecting or reconnecting, queue (or throw with `whileConnecting: "reject"`). */
  send(data: SendData): void {
    const state = this.lifecycle.readyState;
    if (state === OPEN && this.socket) return this.socket.send(data);
    if (state !== CONNECTING) return; // CLOSING/CLOSED: discarded, as the native WebSocket does.
    if (this.options.whileConnecting === "reject") {
      throw new DOMException("WebSocket is not open (reconnecting)", "InvalidStateError");
    }
    this.queue.push(data, byteSize(data));
  }

  /** Close for good: no reconnect after this. Code and reason as for the native `close`. */
  close(code?: number, reason?: string): void {
    const state = this.lifecycle.state;
    if (this.lifecycle.stopRequested || state === "finished") return;
    // The native close validates code and reason (throws) before anything changes here.
    this.socket?.close(code, reason);
    this.lifecycle.apply("userClose");
    this.reconnect.cancel();
    this.stopHeartbeat();
    this.queue.clear();
    // Waiting to reconnect: finished now. Otherwise the native close event (or the pending decision) follows.
    if (state === "waiting") this.finish("closed");
  }

  override addEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: ((this: WebSocketClient, event: ClientEventMap[K]) => unknown) | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
  }

  private callHandler(type: "open" | "message" | "error" | "close", event: Event): void {
    switch (type) {
      case "open":
        return void this.onopen?.call(this, event);
      case "message":
        return void this.onmessage?.call(this, event as MessageEvent);
      case "error":
        return void this.onerror?.call(this, event);
      case "close":
        return void this.onclose?.call(this, event as CloseEvent);
    }
  }

  /** The reconnect timer fired: the next attempt. */
  private retry(): void {
    this.dispatchEvent(new CustomEvent("connecting", { detail: { attempt: this.reconnect.attempt } }));
    try {
      this.open();
    } catch (error) {
      this.dispatchEvent(new Event("error"));
      this.afterClose(new CloseEvent("close", { code: CloseCode.Abnormal, reason: String(error) }));
    }
  }

  /** A native socket for one attempt (it throws for a bad URL, as the constructor must). */
  private open(): void {
    this.lifecycle.apply("dial");
    const socket = new this.Transport(this.url, this.protocols);
    socket.binaryType = this.type;
    this.socket = socket;
    socket.onopen = () => this.opened();
    socket.onmessage = (event) => this.received(event);
    socket.onerror = () => this.dispatchEvent(new Event("error"));
    socket.onclose = (event) => this.transportClosed(socket, event);
  }

  private opened(): void {
    const socket = this.socket!;
    this.url = socket.url;
    this.reconnect.opened();
    this.lifecycle.apply("accepted");
    for (const data of this.queue.take()) socket.send(data);
    this.startHeartbeat();
    this.dispatchEvent(new Event("open"));
  }

  private received(event: MessageEvent): void {
    this.lifecycle.apply("frame");
    this.heartbeat?.activity();
    const pong = this.options.heartbeat?.pong;
    if (pong !== undefined && event.data === pong) return;
    this.dispatchEvent(
      new MessageEvent("message", { data: event.data, origin: event.origin, lastEventId: event.lastEventId }),
    );
  }

  private transportClosed(socket: WebSocket, event: CloseEvent): void {
    if (socket !== this.socket) return;
    this.afterClose(
      new CloseEvent("close", { code: event.code, reason: event.reason, wasClean: event.wasClean }),
    );
  }

  /** A connection ended (or never started): report it, then reconnect or finish as the policy says. */
  private afterClose(event: CloseEvent): void {
    this.detach();
    this.stopHeartbeat();
    this.lifecycle.apply("socketClosed");
    this.dispatchEvent(event);
    const decision = this.reconnect.decide(event, this.lifecycle.stopRequested);
    if (!decision.retry) return this.finish(decision.reason);
    this.lifecycle.apply("retry");
    // Set before the event: a "reconnecting" listener that closes the client cancels it.
    this.reconnect.schedule(decision.delay, () => this.retry());
    this.dispatchEvent(
      new CustomEvent("reconnecting", { detail: { attempt: decision.attempt, delay: decision.delay } }),
    );
  }

  private finish(reason: FinishReason): void {
    this.detach();
    this.lifecycle.apply("finish");
    this.queue.clear();
    this.dispatchEvent(new CustomEvent("finish", { detail: { reason } }));
  }

  private detach(): void {
    const socket = this.socket;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
    this.socket = null;
  }

  private startHeartbeat(): void {
    const options = this.options.heartbeat;
    const timing = heartbeatOptions(options, false);
    if (!options || !timing) return;
    this.heartbeat = new Heartbeat(timing, {
      heartbeatPing: () => this.socket?.send(options.message ?? "ping"),
      heartbeatTimeout: () => this.dead(timing.timeout),
    });
    this.heartbeat.start();
  }

  private stopHeartbeat(): void {
    this.heartbeat?.stop();
    this.heartbeat = null;
  }

  /** Silence past the heartbeat timeout: drop the connection without waiting for a close handshake. */
  private dead(timeout: number): void {
    const socket = this.socket;
    if (!socket) return;
    this.detach();
    socket.close(4000, "heartbeat timeout");
    this.afterClose(
      new CloseEvent("close", {
        code: CloseCode.Abnormal,
        reason: `no message within ${timeout} ms of a heartbeat ping`,
      }),
    );
  }
}
