// Reconnect policy shared by every client host (Node, Bun, the browser): after each close, retry with
// exponential backoff and jitter (backoff.ts) or finish, and say why. Counts the retries since the last
// connection that stayed up `minUptime` and owns the one retry timer. Timers only; no transport.
import { backoffDelay, defaultBackoff, type BackoffOptions } from "./backoff.js";

/** Why a client makes no more connections (the "finish" event's reason). */
export type FinishReason = "closed" | "retries" | "no-reconnect";

/** The policy's answer after a connection ended: retry number `attempt` in `delay` ms, or finish. */
export type ReconnectDecision =
  { retry: true; attempt: number; delay: number } | { retry: false; reason: FinishReason };

/** Reconnect after a close the application did not ask for; `E` is the host's close event type. */
export class Reconnect<E> {
  private readonly backoff: BackoffOptions | null;
  private readonly shouldReconnect: ((event: E) => boolean) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  /** When the current connection opened (`performance.now()`), or -1 when none is open. */
  private openedAt = -1;

  /** `options`: true for the default backoff, the backoff, or off; `shouldReconnect` may decline per close. */
  constructor(options: BackoffOptions | boolean | undefined, shouldReconnect?: (event: E) => boolean) {
    this.backoff = options ? (options === true ? {} : options) : null;
    this.shouldReconnect = shouldReconnect;
  }

  /** Whether reconnecting is on at all. */
  get enabled(): boolean {
    return this.backoff !== null;
  }

  /** Retries made since the last connection that stayed up `minUptime` (0 for a first connection). */
  get attempt(): number {
    return this.retries;
  }

  /** A connection opened; if it stays up `minUptime`, its close starts from the first delay again. */
  opened(): void {
    this.openedAt = performance.now();
  }

  /** A connection ended with `event`; `stopped`: the application closed the client. Retry or finish, and why. */
  decide(event: E, stopped: boolean): ReconnectDecision {
    const openedAt = this.openedAt;
    this.openedAt = -1;
    if (
      openedAt >= 0 &&
      performance.now() - openedAt >= (this.backoff?.minUptime ?? defaultBackoff.minUptime)
    )
      this.retries = 0;
    if (stopped) return { retry: false, reason: "closed" };
    if (!this.backoff || (this.shouldReconnect && !this.shouldReconnect(event)))
      return { retry: false, reason: "no-reconnect" };
    const delay = backoffDelay(this.retries, this.backoff);
    if (delay < 0) return { retry: false, reason: "retries" };
    this.retries++;
    return { retry: true, attempt: this.retries, delay };
  }

  /** Call `retry` after `delay` ms (the decision's); one timer at a time. */
  schedule(delay: number, retry: () => void): void {
    this.cancel();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      retry();
    }, delay);
  }

  /** Cancel a scheduled retry (the application closed the client while it waited). */
  cancel(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
