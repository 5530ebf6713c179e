// Reconnect policy shared by every client host: exponential backoff with jitter, timers only.

import { defaults } from "./config.js";

/** How a client waits between reconnect attempts. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms (default 500). */
  minDelay?: number;
  /** Upper bound of any delay, in ms (default 30 000). */
  maxDelay?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Fraction of the delay drawn at random, 0..1 (default 0.5): delay × (1 − jitter × random). */
  jitter?: number;
  /** Retries before giving up (default Infinity), counted since the last connection that stayed up `minUptime`. */
  maxRetries?: number;
  /**
   * Ms a connection must stay open before its end starts the count (and the delay) from the first retry again
   * (default 5 000). A server that accepts and then drops at once gets ever longer delays, and `maxRetries` ends it.
   */
  minUptime?: number;
}

/** Defaults for every `BackoffOptions` field. */
export const defaultBackoff: Required<BackoffOptions> = defaults.reconnect;

/**
 * Delay before retry number `attempt` (0-based), or -1 when retries are exhausted.
 * Jitter only shortens the delay ("equal jitter"), so a crowd of clients spreads out without ever
 * exceeding `maxDelay`. `random` is injectable for tests.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const { minDelay, maxDelay, factor, jitter, maxRetries } = { ...defaultBackoff, ...options };
  if (attempt >= maxRetries) return -1;
  const base = Math.min(maxDelay, minDelay * Math.pow(factor, attempt));
  const spread = Math.min(1, Math.max(0, jitter));
  return Math.round(base * (1 - spread * random()));
}
