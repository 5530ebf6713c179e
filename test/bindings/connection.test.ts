// WireConnection behaviors that span the engine and the host: ordering of events and replies.
import { describe, expect, it } from "vitest";
import { Role, WireConnection } from "../../bindings/connection.js";
import { createEngine } from "../../bindings/embedded.js";

/** A masked client frame. */
function clientFrame(byte0: number, payload: Uint8Array): Uint8Array {
  const key = [9, 8, 7, 6];
  return new Uint8Array([byte0, 0x80 | payload.length, ...key, ...payload.map((b, i) => b ^ key[i % 4])]);
}

describe.each(["simd", "mvp"] as const)("WireConnection (%s build)", (build) => {
  it("lets the host answer data that arrives in the same read as a close frame, before the close reply", () => {
    const engine = createEngine({ maxConnections: 1, ioBytes: build === "simd" ? 192 * 1024 : 4096 }, build);
    const wire: string[] = [];
    const conn: WireConnection = new WireConnection(
      { engine, slot: 0 },
      {
        message: (data) => conn.send(data, false),
        ping() {},
        pong() {},
        close() {},
        error() {},
        closed() {},
        write: (bytes) => wire.push(Buffer.from(bytes).toString("hex")),
      },
      { role: Role.Server, maxPayload: 1 << 20 },
    );
    const hi = new TextEncoder().encode("hi");
    const close = new Uint8Array([0x03, 0xe8]);
    conn.receive(new Uint8Array([...clientFrame(0x81, hi), ...clientFrame(0x88, close)]));
    expect(wire).toEqual(["81026869", "880203e8"]);
  });
});
