// The reconnect delay policy (bindings/policies/backoff.ts) the browser client uses.
import { describe, expect, it } from "vitest";
import { backoffDelay, defaultBackoff } from "../../../bindings/policies/backoff.js";

describe("backoffDelay", () => {
  it("grows by the factor from minDelay and stops at maxDelay", () => {
    const options = { minDelay: 100, maxDelay: 1000, factor: 2, jitter: 0 };
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, options))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it("only shortens the delay by at most the jitter fraction", () => {
    const options = { minDelay: 1000, jitter: 0.25 };
    expect(backoffDelay(0, options, () => 0)).toBe(1000);
    expect(backoffDelay(0, options, () => 0.999999)).toBe(750);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(3, { ...options, maxDelay: 5000 });
      expect(delay).toBeGreaterThanOrEqual(3750);
      expect(delay).toBeLessThanOrEqual(5000);
    }
  });

  it("returns -1 once maxRetries attempts were made", () => {
    expect(backoffDelay(2, { maxRetries: 3 })).toBeGreaterThan(0);
    expect(backoffDelay(3, { maxRetries: 3 })).toBe(-1);
    expect(backoffDelay(1e6, {}, () => 0)).toBe(defaultBackoff.maxDelay);
  });
});
