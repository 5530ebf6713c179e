// Message assembly (bindings/protocol/message-assembly.ts): a frame's bytes land in one buffer allocated at
// the announced length, several frames grow it, and a header alone never reserves past 256 KiB.
import { describe, expect, it } from "vitest";
import { MessageAssembly } from "../../bindings/protocol/message-assembly.js";

/** An alloc that records every size asked for. */
function counting(): { sizes: number[]; alloc: (size: number) => Uint8Array } {
  const sizes: number[] = [];
  return { sizes, alloc: (size) => (sizes.push(size), new Uint8Array(size)) };
}

const bytes = (length: number, from = 0) => new Uint8Array(length).map((_, i) => (from + i) & 0xff);

describe("MessageAssembly", () => {
  it("fills a one-frame message read in pieces into one buffer of the announced length", () => {
    const { sizes, alloc } = counting();
    const assembly = new MessageAssembly(alloc, 1 << 20);
    expect(assembly.add(bytes(100), true, 300, false)).toBeNull();
    expect(assembly.add(bytes(100, 100), false, -1, false)).toBeNull();
    const message = assembly.add(bytes(100, 200), false, -1, true)!;
    expect([...message]).toEqual([...bytes(300)]);
    expect(sizes).toEqual([300]);
  });

  it("joins the frames of a fragmented message, copying once to its exact length at the end", () => {
    const { sizes, alloc } = counting();
    const assembly = new MessageAssembly(alloc, 1 << 20);
    assembly.add(bytes(10), true, 10, false);
    assembly.add(bytes(10, 10), false, 10, false);
    const message = assembly.add(bytes(5, 20), false, 5, true)!;
    expect([...message]).toEqual([...bytes(25)]);
    expect(sizes).toEqual([10, 20, 40, 25]);
  });

  it("reserves at most 256 KiB ahead of the bytes for a large announced frame, then grows", () => {
    const { sizes, alloc } = counting();
    const assembly = new MessageAssembly(alloc, 16 << 20);
    assembly.add(bytes(1000), true, 8 << 20, false);
    expect(sizes).toEqual([256 * 1024]);
    assembly.reset();
    expect(assembly.add(bytes(3), true, 3, true)!.length).toBe(3);
  });
});
