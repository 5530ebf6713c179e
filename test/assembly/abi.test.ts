// The generated ABI (bindings/engine/abi.ts, runtimes/wamr/src/wsk_abi.h) is what the engine's sources say, and what
// the built engine does: fresh, and its numbers, exports and error table agree with the modules and vectors.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  BUILD,
  BUILDER_ROOM_BYTES,
  BuildConstant,
  type EngineExports, EXPORTS, handshakeErrors, HostError, ReadError, readErrors } from "../../bindings/engine/abi.js";

const root = new URL("../../", import.meta.url);
const wasm = (build: string) => readFileSync(new URL(`build/engine.${build}.wasm`, root));

interface FrameVector {
  events: ({ error: number; rule: string } | object)[];
}
interface RequestVector {
  status: number;
  reason?: string;
}

describe("generated ABI", () => {
  it("bindings/engine/abi.ts and wsk_abi.h match a fresh generation from assembly/ (committed files are not stale)", () => {
    expect(() =>
      execFileSync(process.execPath, ["scripts/gen-abi.mjs", "--check"], { cwd: root, stdio: "pipe" }),
    ).not.toThrow();
  });

  it.each(["simd", "mvp", "firmware"] as const)("lists exactly the %s build's function exports", (build) => {
    const functions = WebAssembly.Module.exports(new WebAssembly.Module(wasm(build)))
      .filter((e) => e.kind === "function")
      .map((e) => e.name);
    expect([...functions].sort()).toEqual([...EXPORTS].sort());
  });

  it.each(["simd", "mvp", "firmware"] as const)("has the %s build's build constants", (build) => {
    const e = new WebAssembly.Instance(new WebAssembly.Module(wasm(build)), {}).exports as Record<
      string,
      (index: number) => number
    >;
    expect(e.buildConstant(BuildConstant.EventCapacity)).toBe(BUILD[build].EVENT_CAPACITY);
    expect(e.buildConstant(BuildConstant.OutBytes)).toBe(BUILD[build].OUT_BYTES);
    expect(e.buildConstant(BuildConstant.EntropyBytes)).toBe(BUILD[build].ENTROPY_BYTES);
    expect(e.buildConstant(BuildConstant.MaxHeaders)).toBe(BUILD[build].MAX_HEADERS);
    expect(e.buildConstant(BuildConstant.Http2)).toBe(BUILD[build].HTTP2);
  });

  it.each(["simd", "mvp"] as const)("fits every %s rejection response in BUILDER_ROOM_BYTES", (build) => {
    const e = new WebAssembly.Instance(new WebAssembly.Module(wasm(build)), {}).exports as unknown as EngineExports;
    const dst = e.handshakePtr();
    for (let status = 100; status <= 999; status++)
      expect(e.buildRejection(status, dst), String(status)).toBeLessThanOrEqual(BUILDER_ROOM_BYTES);
  });

  it("gives each read error the close code the engine fails the connection with (frame vectors)", () => {
    const vectors = JSON.parse(readFileSync(new URL("test/vectors/frames.json", root), "utf8")) as FrameVector[];
    const byName = new Map(Object.values(readErrors).map((row) => [row.name, row.closeCode]));
    const seen = new Set<string>();
    for (const v of vectors)
      for (const event of v.events)
        if ("error" in event) {
          expect(byName.get(event.rule), event.rule).toBe(event.error);
          seen.add(event.rule);
        }
    // Every engine read error is covered by a vector; host errors are the bindings' own (deflate tests).
    expect([...seen].sort()).toEqual(Object.keys(ReadError).sort());
    for (const id of Object.values(HostError)) expect(readErrors[id]).toBeDefined();
  });

  it("gives each request rule the status the engine refuses with (handshake vectors)", () => {
    const vectors = JSON.parse(readFileSync(new URL("test/vectors/handshake.json", root), "utf8")) as {
      requests: RequestVector[];
    };
    const byName = new Map(Object.values(handshakeErrors).map((rule) => [rule.name, rule.status]));
    for (const v of vectors.requests)
      if (v.reason && !(v.reason === "HttpVersion" && v.status === 505))
        expect(byName.get(v.reason), v.reason).toBe(v.status);
  });

  it.skipIf(!hasCompiler())("wsk_abi.h compiles as C99 with every warning an error, its tables complete", () => {
    const dir = mkdtempSync(join(tmpdir(), "wsk-abi-"));
    try {
      const source = join(dir, "abi.c");
      writeFileSync(source, C_CHECK);
      const include = fileURLToPath(new URL("runtimes/wamr/src", root));
      execFileSync("cc", ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", include, "-c", source, "-o", join(dir, "abi.o")], { stdio: "pipe" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A translation unit that uses every table of the header (names, argument counts, the three X-macros). */
const C_CHECK = `#include "wsk_abi.h"
typedef struct { int id; int number; const char *message; } row;
#define READ(id, name, code, message) { id, code, message },
#define CALL(id, name, message) { id, 0, message },
#define RULE(id, name, status, message) { id, status, message },
const row wsk_read_errors[] = { WSK_READ_ERRORS(READ) };
const row wsk_call_errors[] = { WSK_CALL_ERRORS(CALL) };
const row wsk_handshake_errors[] = { WSK_HANDSHAKE_ERRORS(RULE) };
const char *const wsk_export_names[] = WSK_EXPORT_NAMES;
const int wsk_export_argc[] = WSK_EXPORT_ARGC;
typedef char names_complete[sizeof wsk_export_names / sizeof *wsk_export_names == WSK_EXPORT_COUNT ? 1 : -1];
typedef char argc_complete[sizeof wsk_export_argc / sizeof *wsk_export_argc == WSK_EXPORT_COUNT ? 1 : -1];
`;

function hasCompiler(): boolean {
  try {
    execFileSync("cc", ["--version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}
