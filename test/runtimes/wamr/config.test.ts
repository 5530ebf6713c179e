// The C host's limits (Kconfig on ESP-IDF, src/wsk_config.h's defaults on Linux) against the engine build it
// runs (firmware): the same defaults in both places (LRU purge's bool too, whose Linux default is in wsk_server.h),
// the server heartbeat's equal to bindings/policies/config.ts's `defaults`,
// and every Kconfig choice within a range fits the engine's static pool beside the other's default
// (wsk_engine.c's and wsk_server.c's _Static_asserts check the configuration built).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BUILD,
  BUILDER_ROOM_BYTES,
  MAX_CONTROL_PAYLOAD,
  MAX_HEADER_BYTES,
  SLOT_BYTES,
} from "../../../bindings/engine/abi.js";
import { defaults as tsDefaults } from "../../../bindings/policies/config.js";
import { root } from "./host.js";

interface Option {
  default: number;
  range?: [number, number];
}

const host = join(root, "runtimes", "wamr");

/** `config NAME` blocks of the Kconfig with an int default (and range). */
function kconfig(): Map<string, Option> {
  const options = new Map<string, Option>();
  for (const block of readFileSync(join(host, "Kconfig"), "utf8")
    .split(/^\s*config /m)
    .slice(1)) {
    const name = block.split(/\s/)[0];
    const value = /^\s*default (\d+)\s*$/m.exec(block);
    if (!value) continue;
    const range = /^\s*range (\d+) (\d+)\s*$/m.exec(block);
    options.set(name, {
      default: Number(value[1]),
      range: range ? [Number(range[1]), Number(range[2])] : undefined,
    });
  }
  return options;
}

/**
 * The `#define CONFIG_NAME value` defaults of wsk_config.h (a number or a product such as `(80 * 1024)`); where
 * one depends on the word size, the last (32-bit) one, as Kconfig's are for ESP32s.
 */
function linuxDefaults(): Map<string, number> {
  const defaults = new Map<string, number>();
  const text = readFileSync(join(host, "src", "wsk_config.h"), "utf8");
  for (const [, name, value] of text.matchAll(/^#define CONFIG_(\w+) ([\d\s*()]+)$/gm))
    defaults.set(
      name,
      value
        .replace(/[()]/g, "")
        .split("*")
        .reduce((product, factor) => product * Number(factor), 1),
    );
  return defaults;
}

/** Bytes init needs in the pool (assembly/connection.ts requiredBytes). */
const required = (connections: number, ioBytes: number) => connections * SLOT_BYTES + ((ioBytes + 15) & ~15);

describe("C host configuration", () => {
  const options = kconfig();
  const defaults = linuxDefaults();
  const slots = options.get("WSK_MAX_CONNECTIONS")!;
  const io = options.get("WSK_ENGINE_IO_BYTES")!;

  it("gives every Kconfig int option the default wsk_config.h has on Linux", () => {
    expect(options.size).toBeGreaterThan(3);
    for (const [name, option] of options) expect(defaults.get(name), name).toBe(option.default);
  });

  it("gives the C server the heartbeat of bindings/policies/config.ts's defaults table (Kconfig and wsk_config.h)", () => {
    expect(tsDefaults.serverHeartbeat).toBe(true); // on by default there, as CONFIG_WSK_HEARTBEAT_INTERVAL_MS > 0 here
    for (const [name, value] of [
      ["WSK_HEARTBEAT_INTERVAL_MS", tsDefaults.heartbeat.interval],
      ["WSK_HEARTBEAT_TIMEOUT_MS", tsDefaults.heartbeat.timeout],
    ] as const) {
      expect(options.get(name)?.default, name).toBe(value);
      expect(defaults.get(name), name).toBe(value);
    }
  });

  it("turns LRU purge on by default in Kconfig and in include/wsk_server.h's Linux default alike", () => {
    const block = readFileSync(join(host, "Kconfig"), "utf8")
      .split(/^\s*config /m)
      .find((b) => b.startsWith("WSK_LRU_PURGE_ENABLE"));
    expect(block).toMatch(/^\s*bool /m);
    expect(block).toMatch(/^\s*default y\s*$/m);
    const header = readFileSync(join(host, "include", "wsk_server.h"), "utf8");
    // Outside ESP-IDF (the #else branch): 1; on ESP-IDF sdkconfig.h defines it only when it is y.
    expect(header).toMatch(
      /#ifdef ESP_PLATFORM\n#define CONFIG_WSK_LRU_PURGE_ENABLE 0\n#else\n#define CONFIG_WSK_LRU_PURGE_ENABLE 1\n/,
    );
    expect(header).toMatch(/\.lru_purge_enable = CONFIG_WSK_LRU_PURGE_ENABLE/);
  });

  it("fits the default slots and I/O area in the firmware engine's static pool", () => {
    expect(required(slots.default, io.default)).toBeLessThanOrEqual(BUILD.firmware.POOL_BYTES);
  });

  it("fits each Kconfig range's largest value beside the other option's default", () => {
    expect(required(slots.range![1], io.default)).toBeLessThanOrEqual(BUILD.firmware.POOL_BYTES);
    expect(required(slots.default, io.range![1])).toBeLessThanOrEqual(BUILD.firmware.POOL_BYTES);
  });

  it("keeps the smallest I/O area large enough for a handshake and a control frame in its transmit half", () => {
    const half = io.range![0] / 2;
    expect(half).toBeGreaterThanOrEqual(2 * BUILDER_ROOM_BYTES);
    expect(half).toBeGreaterThanOrEqual(MAX_HEADER_BYTES + 2 * MAX_CONTROL_PAYLOAD);
  });
});
