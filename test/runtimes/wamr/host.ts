// The C host (runtimes/wamr) as the tests build and run it: one CMake build folder per target (a CMake cache
// remembers its compiler), each built once under a lock since vitest runs test files in parallel processes.
//
// Targets, all with -fsanitize=address,undefined and -Werror (-Wall -Wextra -Wconversion):
//   x86-64 wasm2c   always; plus a build without sanitizers for valgrind
//   i386 wasm2c     i686-linux-gnu-gcc, run natively through the cross libc's loader
//   arm wasm2c      arm-linux-gnueabihf-gcc, run under qemu-arm (LeakSanitizer cannot run there)
//   x86-64 wamr     when WAMR_ROOT names an installed WAMR (docs/FIRMWARE.md), its fast interpreter; plus its
//                   valgrind build
//   x86-64 wamr-classic, x86-64 wamr-aot, arm wamr, arm wamr-classic, arm wamr-aot-xip
//                   the other ways WAMR runs the engine (docs/FIRMWARE.md, "Execution modes"), each where its
//                   hand-built WAMR is at /opt/wamr-classic, /opt/wamr-aot (with bin/wamrc), /opt/wamr-arm-fast,
//                   /opt/wamr-arm-classic, /opt/wamr-arm-aot, only with WSK_WAMR_MODES=on (they add
//                   ~900 tests and ~13 minutes, past the 15-minute budget of npm test); a fresh machine has none
//   x86-64 wasm2c <mbedtls dir>   for the wss:// tests only (tlsTargets): the wasm2c back end built against
//                   each mbedTLS 3.x root in MBEDTLS3_ROOT (":"-separated, e.g. /opt/mbedtls3:/opt/mbedtls3-psa),
//                   built from source by hand as docs/FIRMWARE.md says; only when MBEDTLS3_ROOT is set: Debian 12
//                   packages no 3.x and nothing here downloads it, so npm test and CI test wss:// against
//                   Debian's mbedTLS 2.28 only
// Every process's stderr is scanned for sanitizer reports; takeSanitizerReports() hands them to the tests.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const wamrRoot = process.env.WAMR_ROOT;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const I386_SYSROOT = "/usr/i686-linux-gnu";
const ARM_SYSROOT = "/usr/arm-linux-gnueabihf";

/** One way of building and running the C host. */
export interface Target {
  /** "x86-64 wasm2c", "i386 wasm2c", "arm wasm2c", "x86-64 wamr", "arm wamr-aot-xip"... */
  name: string;
  backend: "wasm2c" | "wamr";
  arch: "x86-64" | "i386" | "arm";
  /** -fsanitize= list, empty for the valgrind builds */
  sanitize: string;
  /** built with mbedTLS (wss://): the native builds only, Debian has no cross mbedTLS */
  tls: boolean;
  /** an installed mbedTLS to build against (WSK_MBEDTLS_ROOT) instead of the system's 2.28 */
  mbedtls?: string;
  /** the build of this target without sanitizers, for valgrind (native targets) */
  plain?: Target;
  /** WAMR back end: the installed WAMR and how its library runs modules (WSK_WAMR_MODE, WSK_WAMR_XIP) */
  wamr?: WamrBuild;
}

export interface WamrBuild {
  root: string;
  mode: "fast" | "classic" | "aot";
  /** AOT compiled with wamrc --xip, run in place from an executable read-only section */
  xip?: boolean;
}

function target(arch: Target["arch"], backend: Target["backend"], wamr?: WamrBuild): Target {
  const native = arch === "x86-64";
  const mode = wamr && wamr.mode !== "fast" ? `-${wamr.mode}` : "";
  const name = `${arch} ${backend}${mode}${wamr?.xip ? "-xip" : ""}`;
  const checked: Target = { name, backend, arch, sanitize: "address,undefined", tls: native, wamr };
  if (native) checked.plain = { ...checked, name: `${name} plain`, sanitize: "" };
  return checked;
}

/** The other WAMR builds (see the top of this file), each where it is installed. */
const wamrBuilds: { arch: Target["arch"]; build: WamrBuild }[] = [
  { arch: "x86-64", build: { root: "/opt/wamr-classic", mode: "classic" } },
  { arch: "x86-64", build: { root: "/opt/wamr-aot", mode: "aot" } },
  { arch: "arm", build: { root: "/opt/wamr-arm-fast", mode: "fast" } },
  { arch: "arm", build: { root: "/opt/wamr-arm-classic", mode: "classic" } },
  { arch: "arm", build: { root: "/opt/wamr-arm-aot", mode: "aot", xip: true } },
];

/** Every target this machine builds; WSK_HOST_TARGETS="x86-64 wasm2c,arm wasm2c" picks some (for development). */
export const targets: Target[] = (() => {
  const all = [target("x86-64", "wasm2c"), target("i386", "wasm2c"), target("arm", "wasm2c")];
  if (wamrRoot) all.push(target("x86-64", "wamr", { root: wamrRoot, mode: "fast" }));
  if (process.env.WSK_WAMR_MODES === "on")
    for (const { arch, build } of wamrBuilds)
      if (existsSync(join(build.root, "include", "wasm_export.h"))) all.push(target(arch, "wamr", build));
  const only = process.env.WSK_HOST_TARGETS?.split(",").map((s) => s.trim());
  return only ? all.filter((t) => only.includes(t.name)) : all;
})();

/** The native x86-64 targets (TLS, valgrind). */
export const nativeTargets = targets.filter((t) => t.arch === "x86-64");

/** mbedTLS 3.x installs to build the wss:// tests against as well (see the top of this file). */
export const mbedtls3Roots: string[] = (process.env.MBEDTLS3_ROOT ?? "")
  .split(":")
  .filter((dir) => dir && existsSync(join(dir, "include", "mbedtls", "ssl.h")));

function withMbedtls(t: Target, dir: string): Target {
  const name = `${t.name} ${basename(dir)}`;
  const variant: Target = { ...t, name, mbedtls: dir };
  if (t.plain) variant.plain = { ...t.plain, name: `${name} plain`, mbedtls: dir };
  return variant;
}

/**
 * The targets of the wss:// tests: the native ones on the system's mbedTLS, then the wasm2c one on each
 * mbedTLS 3.x root (TLS does not depend on how the engine runs).
 */
export const tlsTargets: Target[] = [
  ...nativeTargets,
  ...mbedtls3Roots.flatMap((dir) =>
    nativeTargets.filter((t) => t.backend === "wasm2c").map((t) => withMbedtls(t, dir)),
  ),
];

export function buildDir(t: Target): string {
  return join(root, "build", "c-host", t.name.replaceAll(" ", "-") + (t.sanitize ? "-asan" : ""));
}

/** The command prefix that runs one of the target's programs. */
function command(t: Target, program: string): string[] {
  const path = join(buildDir(t), program);
  return t.arch === "arm" ? ["qemu-arm", "-L", ARM_SYSROOT, path] : [path];
}

/** Environment of the target's processes: a sanitizer report aborts the process. */
function environment(t: Target): NodeJS.ProcessEnv {
  const leaks = t.arch === "arm" ? 0 : 1; // LeakSanitizer needs ptrace-like thread access qemu-arm lacks
  return {
    ...process.env,
    ASAN_OPTIONS: `abort_on_error=1:halt_on_error=1:detect_leaks=${leaks}`,
    UBSAN_OPTIONS: "abort_on_error=1:halt_on_error=1:print_stacktrace=1",
  };
}

const tools: Record<Target["arch"], string[]> = {
  "x86-64": ["cmake", "gcc", "wasm2c"],
  i386: ["cmake", "i686-linux-gnu-gcc", "wasm2c"],
  arm: ["cmake", "arm-linux-gnueabihf-gcc", "wasm2c", "qemu-arm"],
};

function cmakeArgs(t: Target): string[] {
  const args = [
    "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
    `-DWSK_ENGINE_BACKEND=${t.backend}`,
    `-DWSK_SANITIZE=${t.sanitize}`,
    "-DWSK_WERROR=ON",
    "-DWSK_BUILD_CHECKS=ON",
  ];
  if (t.wamr)
    args.push(
      `-DWAMR_ROOT=${t.wamr.root}`,
      `-DWSK_WAMR_MODE=${t.wamr.mode}`,
      `-DWSK_WAMR_XIP=${t.wamr.xip ? "ON" : "OFF"}`,
    );
  else args.push("-DWAMR_ROOT=");
  if (t.arch === "i386")
    args.push(
      "-DCMAKE_C_COMPILER=i686-linux-gnu-gcc",
      "-DWSK_TLS=OFF",
      // Runs on any x86-64 kernel with the cross libc's own loader (no libc6-i386 needed).
      `-DCMAKE_EXE_LINKER_FLAGS=-Wl,--dynamic-linker=${I386_SYSROOT}/lib/ld-linux.so.2 -Wl,-rpath,${I386_SYSROOT}/lib`,
    );
  if (t.arch === "arm") args.push("-DCMAKE_C_COMPILER=arm-linux-gnueabihf-gcc", "-DWSK_TLS=OFF");
  if (t.tls) args.push("-DWSK_TLS=ON", `-DWSK_MBEDTLS_ROOT=${t.mbedtls ?? ""}`);
  return args;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Take the build lock (a directory holding the owner's pid), waiting at most `timeoutMs`. */
async function lock(dir: string, timeoutMs: number): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, "pid"), String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(join(dir, "pid"), "utf8"));
      } catch {
        // the owner has not written its pid yet
      }
      if (owner && !alive(owner)) rmSync(dir, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`build lock ${dir} still held after ${timeoutMs} ms`);
      await sleep(200);
    }
  }
}

/** Configure and build the target (incremental: a second caller finds it built). Fails on any warning. */
export async function buildHost(t: Target): Promise<void> {
  const missing = tools[t.arch].filter((tool) => spawnSync("which", [tool]).status !== 0);
  if (missing.length)
    throw new Error(
      `C host tests (${t.name}) need ${missing.join(", ")}: apt-get install cmake wabt ` +
        "gcc-i686-linux-gnu gcc-arm-linux-gnueabihf qemu-user (.ci/run does)",
    );
  const dir = buildDir(t);
  mkdirSync(join(root, "build", "c-host"), { recursive: true });
  const unlock = await lock(`${dir}.lock`, 170_000);
  try {
    const configure = spawnSync("cmake", ["-S", join(root, "runtimes", "wamr"), "-B", dir, ...cmakeArgs(t)], {
      encoding: "utf8",
    });
    if (configure.status !== 0) throw new Error(configure.stdout + configure.stderr);
    const build = spawnSync("cmake", ["--build", dir, "-j2"], { encoding: "utf8" });
    if (build.status !== 0) throw new Error(build.stdout + build.stderr);
    if (!existsSync(join(dir, "wsk_echo_server"))) throw new Error("the build made no wsk_echo_server");
  } finally {
    unlock();
  }
}

const SANITIZER_REPORT =
  /ERROR: AddressSanitizer|ERROR: LeakSanitizer|LeakSanitizer has encountered|runtime error:|UndefinedBehaviorSanitizer/;

/** Every process started here, with its stderr so far. */
const processes: { name: string; stderr: string; reported: boolean }[] = [];

/** Sanitizer reports from any process since the last call (each process reported once). */
export function takeSanitizerReports(): string[] {
  const reports: string[] = [];
  for (const p of processes) {
    const at = p.reported ? -1 : p.stderr.search(SANITIZER_REPORT);
    if (at < 0) continue;
    p.reported = true;
    reports.push(`${p.name}:\n${p.stderr.slice(Math.max(0, at - 200), at + 4000)}`);
  }
  return reports;
}

function track(name: string, proc: ChildProcess): { stderr: string } {
  const entry = { name, stderr: "", reported: false };
  processes.push(entry);
  proc.stderr!.on("data", (d: Buffer) => (entry.stderr += d.toString()));
  return entry;
}

export interface Server {
  port: number;
  proc: ChildProcess;
  lines: string[];
  /** Its stderr so far (the example's log lines). */
  stderr(): string;
  stop(): Promise<number | null>;
}

/**
 * Run the target's echo server with `args` (under `wrapper`, e.g. valgrind; `env` added to its environment);
 * resolves once it printed its port.
 */
export function startServer(
  t: Target,
  args: string[],
  wrapper: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<Server> {
  const full = [...wrapper, ...command(t, "wsk_echo_server"), "--port", "0", ...args];
  const proc = spawn(full[0], full.slice(1), {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...environment(t), ...env },
  });
  const lines: string[] = [];
  const log = track(`wsk_echo_server (${t.name}) ${args.join(" ")}`, proc);
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log.stderr}`)), 20_000);
    proc.stdout!.on("data", (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const match = /^PORT (\d+)$/.exec(line);
        if (!match) continue;
        clearTimeout(timer);
        resolve({
          port: Number(match[1]),
          proc,
          lines,
          stderr: () => log.stderr,
          stop: () =>
            new Promise((done) => {
              if (proc.exitCode !== null || proc.signalCode !== null) return done(proc.exitCode);
              proc.once("exit", (code) => done(code));
              proc.stdin!.end();
            }),
        });
      }
    });
    proc.once("exit", (code) => reject(new Error(`server exited ${code}: ${log.stderr}`)));
  });
}

/** Ask the server for a STATS line and parse it. */
export async function stats(server: Server): Promise<Record<string, number>> {
  const before = server.lines.length;
  server.proc.kill("SIGUSR1");
  for (let i = 0; i < 200 && server.lines.slice(before).every((l) => !l.startsWith("STATS")); i++)
    await sleep(25);
  const line = server.lines.slice(before).find((l) => l.startsWith("STATS"));
  if (!line) throw new Error("no STATS line");
  return Object.fromEntries(
    line
      .slice(6)
      .split(" ")
      .map((kv) => [kv.split("=")[0], Number(kv.split("=")[1])]),
  );
}

/**
 * A STATS line taken once the server holds no connection (slots_used 0: every peer it had is released, its TLS
 * context freed with it), polled for at most 2 s: a snapshot taken while the last connection is still being
 * torn down would count its leftovers.
 */
export async function idleStats(server: Server): Promise<Record<string, number>> {
  let last = await stats(server);
  for (let i = 0; i < 100 && last.slots_used !== 0; i++) {
    await sleep(20);
    last = await stats(server);
  }
  if (last.slots_used !== 0) throw new Error(`server still holds ${last.slots_used} connection(s) after 2 s`);
  return last;
}

/** Run the target's client example to completion without blocking the event loop (killed after 20 s). */
export function runClient(
  t: Target,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return runProgram(t, "wsk_client_example", args);
}

/**
 * Start one of the target's programs (under `wrapper`, e.g. valgrind) with its stdin, stdout and stderr piped
 * (stderr scanned as every process's).
 */
export function spawnProgram(
  t: Target,
  program: string,
  args: string[] = [],
  wrapper: string[] = [],
): ChildProcess {
  const full = [...wrapper, ...command(t, program)];
  const proc = spawn(full[0], [...full.slice(1), ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: environment(t),
  });
  track(`${program} (${t.name}) ${args.join(" ")}`, proc);
  return proc;
}

/** Run one of the target's programs to completion (killed after 20 s). */
export function runProgram(
  t: Target,
  program: string,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const full = command(t, program);
  const proc = spawn(full[0], [...full.slice(1), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: environment(t),
  });
  const log = track(`${program} (${t.name}) ${args.join(" ")}`, proc);
  let stdout = "";
  proc.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  const timer = setTimeout(() => proc.kill(), 20_000);
  return new Promise((resolve) =>
    proc.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr: log.stderr });
    }),
  );
}
