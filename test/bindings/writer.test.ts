// The writer's exact bytes (server side, unmasked) and its refusals of bad calls.
import { describe, expect, it } from "vitest";
import { Role, WireConnection, type ConnectionHandler } from "../../bindings/protocol/connection.js";
import { createEngine } from "../../bindings/engine/embedded.js";

function sender(build: "simd" | "mvp", role: number = Role.Server) {
  const engine = createEngine({ maxConnections: 1, ioBytes: build === "simd" ? 192 * 1024 : 4096 }, build);
  const wire: string[] = [];
  const handler: ConnectionHandler = {
    message() {},
    ping() {},
    pong() {},
    close() {},
    error() {},
    closed() {},
    write: (bytes) => wire.push(Buffer.from(bytes).toString("hex")),
  };
  const conn = new WireConnection({ engine, slot: 0 }, handler, { role: role as 0 | 1, maxPayload: 1 << 20 });
  return { conn, hex: () => wire.join("") };
}

describe.each(["simd", "mvp"] as const)("writer (%s build)", (build) => {
  it("writes the RFC 6455 §5.7 unmasked frames", () => {
    const s = sender(build);
    s.conn.send("Hello");
    s.conn.send("Hello", false, 3);
    s.conn.ping(new TextEncoder().encode("Hello"));
    expect(s.hex()).toBe("810548656c6c6f" + "010348656c" + "80026c6f" + "890548656c6c6f");
  });

  it.each([
    [0, "8200"],
    [125, "827d"],
    [126, "827e007e"],
    [65535, "827effff"],
    [65536, "827f0000000000010000"],
  ])("uses the minimal length form for %i bytes", (n, header) => {
    const s = sender(build);
    s.conn.send(new Uint8Array(n).fill(0x5a));
    expect(s.hex()).toBe(header + "5a".repeat(n));
  });

  it("writes close frames with code and reason, then refuses further frames", () => {
    const s = sender(build);
    expect(s.conn.close(1000, "bye")).toBe(true);
    expect(s.hex()).toBe("880503e8627965");
    expect(s.conn.close(1000)).toBe(false);
    expect(() => s.conn.send("late")).toThrow(/closing/);
  });

  it("writes an empty close frame when no code is given", () => {
    const s = sender(build);
    s.conn.close();
    expect(s.hex()).toBe("8800");
  });

  it.each([999, 1004, 1005, 1006, 1015, 2000, 5000])("refuses close code %i with a clear error", (code) => {
    expect(() => sender(build).conn.close(code)).toThrow(/invalid close code/);
  });

  it("refuses a close reason over 123 bytes", () => {
    expect(() => sender(build).conn.close(1000, "é".repeat(62))).toThrow(/longer than 123 bytes/);
    expect(() => sender(build).conn.close(1000, "x".repeat(123))).not.toThrow();
  });

  it("refuses a ping payload over 125 bytes", () => {
    expect(() => sender(build).conn.ping(new Uint8Array(126))).toThrow(/125 bytes/);
  });

  it("masks client frames with a fresh key from the entropy pool each frame", () => {
    const s = sender(build, Role.Client);
    s.conn.send("Hello");
    s.conn.send("Hello");
    const bytes = Buffer.from(s.hex(), "hex");
    expect(bytes.length).toBe(22);
    const key1 = bytes.subarray(2, 6);
    const key2 = bytes.subarray(13, 17);
    expect(bytes[0]).toBe(0x81);
    expect(bytes[1]).toBe(0x85);
    const unmask = (payload: Buffer, key: Buffer) =>
      Buffer.from(payload.map((b, i) => b ^ key[i % 4])).toString();
    expect(unmask(bytes.subarray(6, 11), key1)).toBe("Hello");
    expect(unmask(bytes.subarray(17, 22), key2)).toBe("Hello");
    expect(key1.equals(key2)).toBe(false);
  });
});
