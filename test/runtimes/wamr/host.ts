// The WAMR host's Linux build and its example processes, shared by the WAMR test files: one CMake build
// folder per checkout (a CMake cache remembers its source folder), built under a lock since vitest runs test
// files in parallel processes.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const wamrRoot = process.env.WAMR_ROOT;
export const buildDir = join(root, "build", "wamr-test");
export const skipReason =
  "runtimes/wamr tests skipped: set WAMR_ROOT to an installed WAMR (docs/FIRMWARE.md)";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

/** Configure and build runtimes/wamr (incremental: a second caller finds it built). */
export async function buildHost(): Promise<void> {
  mkdirSync(buildDir, { recursive: true });
  const unlock = await lock(join(root, "build", "wamr-test.lock"), 170_000);
  try {
    const configure = spawnSync(
      "cmake",
      [
        "-S",
        join(root, "runtimes", "wamr"),
        "-B",
        buildDir,
        "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
        `-DWAMR_ROOT=${wamrRoot}`,
      ],
      { encoding: "utf8" },
    );
    if (configure.status !== 0) throw new Error(configure.stdout + configure.stderr);
    const build = spawnSync("cmake", ["--build", buildDir, "-j2"], { encoding: "utf8" });
    if (build.status !== 0) throw new Error(build.stdout + build.stderr);
    if (!existsSync(join(buildDir, "wsk_echo_server"))) throw new Error("the build made no wsk_echo_server");
  } finally {
    unlock();
  }
}

export interface Server {
  port: number;
  proc: ChildProcess;
  lines: string[];
  stop(): Promise<number | null>;
}

/** Run the C echo server with `args`; resolves once it printed its port. */
export function startServer(args: string[], wrapper: string[] = []): Promise<Server> {
  const command = [...wrapper, join(buildDir, "wsk_echo_server"), "--port", "0", ...args];
  const proc = spawn(command[0], command.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 20_000);
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
          stop: () =>
            new Promise((done) => {
              if (proc.exitCode !== null) return done(proc.exitCode);
              proc.once("exit", (code) => done(code));
              proc.stdin!.end();
            }),
        });
      }
    });
    proc.once("exit", (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
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

/** Run the C client example to completion without blocking the event loop. */
export function runClient(
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const proc = spawn(join(buildDir, "wsk_client_example"), args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => proc.kill(), 20_000);
  return new Promise((resolve) =>
    proc.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    }),
  );
}
