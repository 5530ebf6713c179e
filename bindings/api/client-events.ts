// The client's two event surfaces over one emitter, as ws's client has them: EventEmitter events with ws's
// arguments (`on("message", (data, isBinary) => …)`, `on("close", (code, reason) => …)`), and the WHATWG
// surface (`addEventListener`, `onmessage`, …) whose listeners are wrappers that build the Event objects
// from those arguments. One dispatch path, so both kinds of listener see the events in the order added.
import { Emitter } from "./emitter.js";
import { CloseEvent, ErrorEvent, FragmentEvent } from "./events.js";
import { utf8, utf8Decoder } from "../engine/text.js";
import type { FinishReason } from "../policies/reconnect.js";

/** Detail of "connecting": 0 for the first connection, then the retry number. */
export interface ConnectingDetail {
  attempt: number;
}
/** Detail of "reconnecting": the retry about to be made (1-based) and the ms until it starts. */
export interface ReconnectingDetail {
  attempt: number;
  delay: number;
}
/** Detail of "finish": why the client makes no more connections (the reconnect policy's answer). */
export interface FinishDetail {
  reason: FinishReason;
}

/** Message data as `binaryType` asks: the host's bytes, an ArrayBuffer, a list of chunks or a Blob. */
export type MessageData = Uint8Array | ArrayBuffer | Uint8Array[] | Blob;

/** The client's EventEmitter events and their arguments (ws's, then ours). */
export interface ClientEvents {
  open: [];
  /** Text arrives as bytes (UTF-8, validated) with `isBinary` false, as in ws; binary per `binaryType`. */
  message: [data: MessageData, isBinary: boolean];
  /** The close code and the reason's UTF-8 bytes (1006 and none when no close frame was received). */
  close: [code: number, reason: Uint8Array];
  error: [error: Error];
  ping: [data: Uint8Array];
  pong: [data: Uint8Array];
  /** The 101 response (Node: an `http.IncomingMessage`). */
  upgrade: [response: unknown];
  /** Node: a response other than 101 (`http.ClientRequest`, `http.IncomingMessage`); the app handles it. */
  "unexpected-response": [request: unknown, response: unknown];
  /** Node (`followRedirects`): the client follows a redirect to `url`. */
  redirect: [url: string, request: unknown];
  /** A chunk of a message as it arrives (`fragments: "stream"`). */
  fragment: [data: Uint8Array, isBinary: boolean, first: boolean, last: boolean];
  drain: [];
  connecting: [detail: ConnectingDetail];
  reconnecting: [detail: ReconnectingDetail];
  finish: [detail: FinishDetail];
}

/** A WHATWG listener: a function, or an object with `handleEvent`. */
export type EventListenerLike = ((event: Event) => unknown) | { handleEvent(event: Event): unknown } | null;

/** The Event each type is dispatched as (WHATWG's four, then ours). */
export interface ClientEventMap {
  open: Event;
  message: MessageEvent;
  close: CloseEvent;
  error: ErrorEvent;
  ping: MessageEvent;
  pong: MessageEvent;
  fragment: FragmentEvent;
  drain: Event;
  connecting: CustomEvent<ConnectingDetail>;
  reconnecting: CustomEvent<ReconnectingDetail>;
  finish: CustomEvent<FinishDetail>;
}

/**
 * A listener of events `E`: a function (checked as a method parameter is, so one typed for the event's
 * own class is taken, as the DOM's and @types/ws's `addEventListener` and `onmessage` take it) or an object
 * with `handleEvent`.
 */
export type EventHandler<E extends Event> =
  { handler(event: E): unknown }["handler"] | { handleEvent(event: E): unknown } | null;

type Wrapper = ((...args: never[]) => void) & { handler: EventListenerLike; attribute: boolean };

/** Options of `addEventListener` that apply here. */
export interface ListenerOptions {
  once?: boolean;
}

/** The emitter plus the WHATWG EventTarget surface built on it. */
export class ClientEventBridge extends Emitter<ClientEvents> {
  /** Whether the last connection's close handshake completed (CloseEvent.wasClean). */
  protected wasClean = false;
  /** The event `dispatchEvent` is delivering: wrappers pass it on as it is. */
  private dispatching: Event | null = null;

  /** Add a WHATWG listener; the same function twice for one type is added once. */
  addEventListener<K extends keyof ClientEventMap>(
    type: K,
    handler: EventHandler<ClientEventMap[K]>,
    options?: ListenerOptions | boolean,
  ): void;
  addEventListener(type: string, handler: EventListenerLike, options?: ListenerOptions | boolean): void;
  addEventListener(type: string, handler: EventListenerLike, options?: ListenerOptions | boolean): void {
    this.addWrapped(type, handler, typeof options === "object" && options?.once === true, false);
  }

  /** Call the WHATWG listeners of `event.type` with `event` itself; false when one called preventDefault. */
  dispatchEvent(event: Event): boolean {
    this.dispatching = event;
    try {
      super.emit(event.type as keyof ClientEvents, ...([] as unknown as ClientEvents[keyof ClientEvents]));
    } finally {
      this.dispatching = null;
    }
    return !event.defaultPrevented;
  }

  /** Remove a WHATWG listener added with `addEventListener`. */
  removeEventListener<K extends keyof ClientEventMap>(
    type: K,
    handler: EventHandler<ClientEventMap[K]>,
  ): void;
  removeEventListener(type: string, handler: EventListenerLike): void;
  removeEventListener(type: string, handler: EventListenerLike): void {
    for (const listener of this.listeners(type as keyof ClientEvents) as unknown as Wrapper[]) {
      if (listener.handler !== handler || listener.attribute) continue;
      this.off(type as keyof ClientEvents, listener as never);
      return;
    }
  }

  get onopen(): EventHandler<Event> {
    return this.attribute("open");
  }
  set onopen(handler: EventHandler<Event>) {
    this.setAttribute("open", handler as EventListenerLike);
  }
  get onmessage(): EventHandler<MessageEvent> {
    return this.attribute("message") as EventHandler<MessageEvent>;
  }
  set onmessage(handler: EventHandler<MessageEvent>) {
    this.setAttribute("message", handler as EventListenerLike);
  }
  get onerror(): EventHandler<ErrorEvent> {
    return this.attribute("error") as EventHandler<ErrorEvent>;
  }
  set onerror(handler: EventHandler<ErrorEvent>) {
    this.setAttribute("error", handler as EventListenerLike);
  }
  get onclose(): EventHandler<CloseEvent> {
    return this.attribute("close") as EventHandler<CloseEvent>;
  }
  set onclose(handler: EventHandler<CloseEvent>) {
    this.setAttribute("close", handler as EventListenerLike);
  }

  /** An "error" nobody listens to is dropped, not thrown: a peer's bad bytes must not crash the process. */
  override emit<K extends keyof ClientEvents>(event: K, ...args: ClientEvents[K]): boolean {
    if (event === "error" && this.listenerCount("error") === 0) return false;
    return super.emit(event, ...args);
  }

  private attribute(type: keyof ClientEvents): EventListenerLike {
    for (const listener of this.listeners(type) as unknown as Wrapper[])
      if (listener.attribute) return listener.handler;
    return null;
  }

  private setAttribute(type: keyof ClientEvents, handler: EventListenerLike): void {
    for (const listener of this.listeners(type) as unknown as Wrapper[])
      if (listener.attribute) this.off(type, listener as never);
    if (typeof handler === "function" || (handler !== null && typeof handler === "object"))
      this.addWrapped(type, handler, false, true);
  }

  private addWrapped(type: string, handler: EventListenerLike, once: boolean, attribute: boolean): void {
    if (!handler) return;
    if (!attribute)
      for (const listener of this.listeners(type as keyof ClientEvents) as unknown as Wrapper[])
        if (listener.handler === handler && !listener.attribute) return;
    const toEvent = this.eventMaker(type);
    const call = (event: Event): void => {
      Object.defineProperty(event, "target", { value: this });
      Object.defineProperty(event, "currentTarget", { value: this });
      if (typeof handler === "function") handler.call(this, event);
      else handler.handleEvent(event);
    };
    const wrapper = ((...args: unknown[]) => call(this.dispatching ?? toEvent(args))) as unknown as Wrapper;
    wrapper.handler = handler;
    wrapper.attribute = attribute;
    if (once) this.once(type as keyof ClientEvents, wrapper as never);
    else this.on(type as keyof ClientEvents, wrapper as never);
  }

  /** Builds the WHATWG Event for one emitter event from its arguments. */
  private eventMaker(type: string): (args: unknown[]) => Event {
    switch (type) {
      case "message":
        return ([data, isBinary]) =>
          new MessageEvent("message", { data: isBinary ? data : utf8.decode(data as Uint8Array) });
      case "close":
        return ([code, reason]) =>
          new CloseEvent("close", {
            code: code as number,
            reason: utf8.decode(reason as Uint8Array),
            wasClean: this.wasClean,
          });
      case "error":
        return ([error]) =>
          new ErrorEvent("error", { error, message: error instanceof Error ? error.message : String(error) });
      case "ping":
      case "pong":
        return ([data]) => new MessageEvent(type, { data });
      case "fragment": {
        // Text chunks are decoded as they come: a chunk may end inside a character.
        let decoder: TextDecoder | null = null;
        return ([data, isBinary, first, last]) => {
          if (first) decoder = isBinary ? null : utf8Decoder();
          const value = decoder ? decoder.decode(data as Uint8Array, { stream: !last }) : data;
          return new FragmentEvent("fragment", {
            data: value as string | Uint8Array | ArrayBuffer,
            binary: isBinary as boolean,
            first: first as boolean,
            last: last as boolean,
          });
        };
      }
      case "connecting":
      case "reconnecting":
      case "finish":
        return ([detail]) => new CustomEvent(type, { detail });
      default:
        return () => new Event(type);
    }
  }
}
