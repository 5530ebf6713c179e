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

/** What a heartbeat asks of its connection (a session implements these itself: no closures per connection). */
export interface HeartbeatHooks {
  /** Send a ping frame. */
  heartbeatPing(): void;
  /** The peer stayed silent for `interval + timeout`: end the connection. */
  heartbeatTimeout(): void;
}

type Interval = ReturnType<typeof setInterval>;

/** Resolve `heartbeat` options: false or a non-positive interval turns it off (null). */
export function heartbeatOptions(
  option: HeartbeatOptions | boolean | undefined,
  onByDefault: boolean,
): Required<HeartbeatOptions> | null {
  if (option === false || (option === undefined && !onByDefault)) return null;
  const resolved = { ...defaultHeartbeat, ...(typeof option === "object" ? option : {}) };
  return resolved.interval > 0 ? resolved : null;
}

/** A sweep checks its heartbeats' deadlines this many times per the shorter of `interval` and `timeout`. */
const SWEEPS_PER_PERIOD = 8;

/**
 * The heartbeats whose deadlines one repeating timer checks, every `step` ms: one timer per timing for all of a
 * process's connections (as ws's documented `setInterval` over `wss.clients`), not one per connection (a
 * Node `Timeout`, its callback and context: about 230 bytes of every idle connection). It runs only while
 * it has members.
 */
class Sweep {
  private readonly step: number;
  private readonly members = new Set<Heartbeat>();
  private timer: Interval | undefined;

  constructor(step: number) {
    this.step = step;
  }

  add(heartbeat: Heartbeat): void {
    this.members.add(heartbeat);
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.run(), this.step);
    // Where timers can be unreferenced (Node, Bun), a heartbeat alone never keeps the process alive.
    (this.timer as { unref?: () => void }).unref?.();
  }

  delete(heartbeat: Heartbeat): void {
    if (!this.members.delete(heartbeat) || this.members.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private run(): void {
    const now = Date.now();
    // A member stopped during the loop (a timeout ends its connection) is skipped if not reached yet.
    for (const heartbeat of this.members) if (heartbeat.due <= now) heartbeat.fire(now);
  }
}

const sweeps = new Map<number, Sweep>();

/** The sweep for `options`: its step is an eighth of the shorter period, so a deadline is met that late at most. */
function sweepFor(options: Required<HeartbeatOptions>): Sweep {
  const step = Math.max(1, Math.floor(Math.min(options.interval, options.timeout) / SWEEPS_PER_PERIOD));
  let sweep = sweeps.get(step);
  if (!sweep) sweeps.set(step, (sweep = new Sweep(step)));
  return sweep;
}

/**
 * One connection's heartbeat: a deadline checked by its timing's shared sweep, never a timer per connection
 * or per frame. A ping goes after `interval` (up to 2 × `interval`: silence is looked at once per interval)
 * plus at most one sweep step of silence, the timeout `timeout` after it.
 */
export class Heartbeat {
  private readonly options: Required<HeartbeatOptions>;
  private readonly hooks: HeartbeatHooks;
  private readonly sweep: Sweep;
  private heard = false;
  private waiting = false;
  /** Date.now() at which the sweep acts next. */
  due = 0;

  constructor(options: Required<HeartbeatOptions>, hooks: HeartbeatHooks) {
    this.options = options;
    this.hooks = hooks;
    this.sweep = sweepFor(options);
  }

  /** Start watching (call once the connection is open). */
  start(): void {
    this.heard = false;
    this.waiting = false;
    this.due = Date.now() + this.options.interval;
    this.sweep.add(this);
  }

  /** A frame arrived: the peer is alive. Cheap enough to call on every read. */
  activity(): void {
    this.heard = true;
  }

  /** Stop for good (connection closing or closed). */
  stop(): void {
    this.sweep.delete(this);
  }

  /** The deadline passed (called by the sweep). */
  fire(now: number): void {
    if (this.heard) {
      this.heard = false;
      this.waiting = false;
      this.due = now + this.options.interval;
      return;
    }
    if (this.waiting) {
      this.stop();
      return this.hooks.heartbeatTimeout();
    }
    this.waiting = true;
    this.due = now + this.options.timeout;
    this.hooks.heartbeatPing();
  }
}
