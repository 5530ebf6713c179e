// Liveness policy shared by every host: ping a silent peer every `interval`, give up on it after
// `timeout` more ms of silence. Any frame received counts as life. Timers only; no transport.

import { defaults } from "./config.js";

/** When to ping and when to give up on a silent peer. */
export interface HeartbeatOptions {
  /** Ms of silence before a ping is sent (default 30 000). */
  interval?: number;
  /** Ms to wait after that ping for any frame before the peer is declared dead (default 10 000). */
  timeout?: number;
}

/** Defaults for every `HeartbeatOptions` field. */
export const defaultHeartbeat: Required<HeartbeatOptions> = defaults.heartbeat;

/** What a heartbeat asks of its connection. */
export interface HeartbeatHooks {
  /** Send a ping frame. */
  ping(): void;
  /** The peer stayed silent for `interval + timeout`: end the connection. */
  timeout(): void;
}

type Timer = ReturnType<typeof setTimeout>;

/** Resolve `heartbeat` options: false or a non-positive interval turns it off (null). */
export function heartbeatOptions(
  option: HeartbeatOptions | boolean | undefined,
  onByDefault: boolean,
): Required<HeartbeatOptions> | null {
  if (option === false || (option === undefined && !onByDefault)) return null;
  const resolved = { ...defaultHeartbeat, ...(typeof option === "object" ? option : {}) };
  return resolved.interval > 0 ? resolved : null;
}

/** One connection's heartbeat: a single timer, re-armed, never a timer per frame. */
export class Heartbeat {
  private readonly options: Required<HeartbeatOptions>;
  private readonly hooks: HeartbeatHooks;
  private timer: Timer | undefined;
  private heard = false;
  private waiting = false;
  private readonly tick = (): void => this.onTimer();

  constructor(options: Required<HeartbeatOptions>, hooks: HeartbeatHooks) {
    this.options = options;
    this.hooks = hooks;
  }

  /** Start watching (call once the connection is open). */
  start(): void {
    this.heard = false;
    this.waiting = false;
    this.arm(this.options.interval);
  }

  /** A frame arrived: the peer is alive. Cheap enough to call on every read. */
  activity(): void {
    this.heard = true;
  }

  /** Stop for good (connection closing or closed). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.heard) {
      this.heard = false;
      this.waiting = false;
      return this.arm(this.options.interval);
    }
    if (this.waiting) return this.hooks.timeout();
    this.waiting = true;
    this.arm(this.options.timeout);
    this.hooks.ping();
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.tick, ms);
    // Where timers can be unreferenced (Node, Bun), a heartbeat alone never keeps the process alive.
    (this.timer as { unref?: () => void }).unref?.();
  }
}
