// The client policies every host shares (bindings/policies/): the reconnect decision and its timer, and the
// send queue held while a client is not open.
import { describe, expect, it } from "vitest";
import { Reconnect } from "../../bindings/policies/reconnect.js";
import { SendQueue, byteSize } from "../../bindings/policies/send-queue.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Reconnect", () => {
  it("finishes 'closed' when the application stopped, 'no-reconnect' when off or declined", () => {
    const on = new Reconnect<string>({ minDelay: 10, jitter: 0 }, (event) => event !== "declined");
    expect(on.decide("lost", true)).toEqual({ retry: false, reason: "closed" });
    expect(on.decide("declined", false)).toEqual({ retry: false, reason: "no-reconnect" });
    expect(new Reconnect<string>(undefined).decide("lost", false)).toEqual({
      retry: false,
      reason: "no-reconnect",
    });
    expect(on.attempt).toBe(0);
  });

  it("counts retries with growing delays, gives up after maxRetries, and starts over after an open", () => {
    const policy = new Reconnect<string>({ minDelay: 10, factor: 2, jitter: 0, maxRetries: 2 });
    expect(policy.decide("lost", false)).toEqual({ retry: true, attempt: 1, delay: 10 });
    expect(policy.decide("lost", false)).toEqual({ retry: true, attempt: 2, delay: 20 });
    expect(policy.decide("lost", false)).toEqual({ retry: false, reason: "retries" });
    policy.opened();
    expect(policy.decide("lost", false)).toEqual({ retry: true, attempt: 1, delay: 10 });
  });

  it("runs a scheduled retry once, and not at all once cancelled", async () => {
    const policy = new Reconnect<string>(true);
    let retries = 0;
    policy.schedule(5, () => retries++);
    policy.schedule(5, () => retries++); // replaces the first
    await sleep(50);
    expect(retries).toBe(1);
    policy.schedule(5, () => retries++);
    policy.cancel();
    await sleep(50);
    expect(retries).toBe(1);
  });
});

describe("SendQueue", () => {
  it("holds messages in order with their bytes, hands them over once, and refuses past maxQueued", () => {
    const queue = new SendQueue<string>(2);
    queue.push("é", byteSize("é"));
    queue.push("ab", byteSize("ab"));
    expect([queue.length, queue.bytes]).toEqual([2, 4]);
    expect(() => queue.push("c", 1)).toThrow(RangeError);
    expect(() => queue.push("c", 1)).toThrow("send queue full: 2 messages held while not open (maxQueued 2)");
    expect(queue.take()).toEqual(["é", "ab"]);
    expect([queue.length, queue.bytes, queue.take()]).toEqual([0, 0, []]);
  });

  it("measures strings as UTF-8, Blobs by size and bytes by byteLength", () => {
    expect(byteSize("€")).toBe(3);
    expect(byteSize(new Blob(["abcd"]))).toBe(4);
    expect(byteSize(new Uint16Array(3))).toBe(6);
    expect(byteSize(new ArrayBuffer(5))).toBe(5);
  });
});
