// `npm run bench`: every benchmark beside its baseline, measured in the same run, printed as ratios.
// Each measurement runs in its own process pinned to one core (taskset), several rounds; medians shown.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CORE = process.env.BENCH_CORE ?? "1";
const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["-c", CORE, "true"]);
    return true;
  } catch {
    return false;
  }
})();

/** Run a bench script in a child pinned to CORE and parse its last JSON line. */
function child(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Record<string, number | string> {
  const tsx = new URL("../node_modules/.bin/tsx", import.meta.url).pathname;
  const cmd = hasTaskset ? "taskset" : tsx;
  const argv = hasTaskset ? ["-c", CORE, tsx, script, ...args] : [script, ...args];
  const out = execFileSync(cmd, argv, { env: { ...process.env, ...env }, encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop()!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) =>
  `±${(((Math.max(...xs) - Math.min(...xs)) / 2 / median(xs)) * 100).toFixed(0)}%`;
const fmt = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0);

function framesSection(): void {
  console.log(
    `\n## Frames parsed per second (server side, masked binary frames in 64 KiB reads; ${ROUNDS} rounds, median)\n`,
  );
  console.log(
    "| payload | wasmsocket engine simd | engine mvp | wasmsocket bindings (simd, with message copies) | ws + bufferutil | ws pure JS | engine simd / ws | bindings / ws |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const payload of [2, 16, 125]) {
    const impls = [
      ["wasm-simd", {}],
      ["wasm-mvp", {}],
      ["bindings-simd", {}],
      ["ws", {}],
      ["ws", { WS_NO_BUFFER_UTIL: "1" }],
    ] as const;
    const results = impls.map(([impl, env]) => {
      const xs: number[] = [];
      for (let r = 0; r < ROUNDS; r++)
        xs.push(child("bench/frames.ts", [impl, String(payload)], env).framesPerSecond as number);
      return xs;
    });
    const m = results.map(median);
    const bestWs = Math.max(m[3], m[4]);
    console.log(
      `| ${payload} B | ${m.map((x, i) => `${fmt(x)}/s ${spread(results[i])}`).join(" | ")} | ${(m[0] / bestWs).toFixed(1)}× | ${(m[2] / bestWs).toFixed(1)}× |`,
    );
  }
  console.log("\nRatios are against the faster of ws's two configurations.");
}

async function microSection(): Promise<void> {
  if (!existsSync(new URL("./micro.ts", import.meta.url))) return;
  console.log("\n## Unmask and UTF-8 validation (bench/micro.ts)\n");
  const tsx = new URL("../node_modules/.bin/tsx", import.meta.url).pathname;
  const argv = hasTaskset ? ["-c", CORE, tsx, "bench/micro.ts"] : ["bench/micro.ts"];
  execFileSync(hasTaskset ? "taskset" : tsx, argv, { stdio: "inherit" });
}

// The end-to-end benches: the load generator on LOAD_CORE, every server on SERVER_CORE.
const LOAD_CORE = process.env.BENCH_LOAD_CORE ?? "0";
const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? (LOAD_CORE === "1" ? "0" : "1");

/** Run an end-to-end bench script with the load generator pinned to LOAD_CORE. */
function endToEnd(script: string): void {
  const tsx = new URL("../node_modules/.bin/tsx", import.meta.url).pathname;
  const argv = hasTaskset ? ["-c", LOAD_CORE, tsx, script] : [script];
  execFileSync(hasTaskset ? "taskset" : tsx, argv, {
    stdio: "inherit",
    env: { ...process.env, BENCH_SERVER_CORE: SERVER_CORE },
  });
}

async function echoSection(): Promise<void> {
  if (!existsSync(new URL("./echo.ts", import.meta.url))) return;
  console.log(
    `\n## End-to-end echo (bench/echo.ts; generator on core ${LOAD_CORE}, servers on ${SERVER_CORE})\n`,
  );
  endToEnd("bench/echo.ts");
}

async function idleSection(): Promise<void> {
  console.log(
    `\n## RSS per idle connection (bench/idle.ts; generator on core ${LOAD_CORE}, servers on ${SERVER_CORE})\n`,
  );
  endToEnd("bench/idle.ts");
}

async function fanoutSection(): Promise<void> {
  console.log(
    `\n## Pub/sub fan-out (bench/fanout.ts; generator on core ${LOAD_CORE}, servers on ${SERVER_CORE})\n`,
  );
  endToEnd("bench/fanout.ts");
}

async function h2Section(): Promise<void> {
  console.log(
    `\n## WebSockets over HTTP/2 vs HTTP/1.1 (bench/h2.ts; generator on core ${LOAD_CORE}, server on ${SERVER_CORE})\n`,
  );
  endToEnd("bench/h2.ts");
}

async function deflateSection(): Promise<void> {
  console.log(
    `\n## permessage-deflate (bench/deflate.ts; generator on core ${LOAD_CORE}, servers on ${SERVER_CORE})\n`,
  );
  endToEnd("bench/deflate.ts");
}

/**
 * The C host's `wsk_bench` (runtimes/wamr/bench/bench.c): the engine's unmask, UTF-8 and frame parsing beside
 * plain C loops, in a Release build of the wasm2c back end and, where a WAMR is installed (WAMR_ROOT, as the
 * tests take it), of its fast interpreter. Built under build/c-bench/ from build/engine.firmware.wasm.
 */
function cSection(): void {
  console.log("\n## C host: the engine beside plain C (runtimes/wamr/bench/bench.c)\n");
  const missing = ["cmake", "gcc", "wasm2c"].filter((tool) => spawnSync("which", [tool]).status !== 0);
  if (missing.length > 0) {
    console.log(`Not run: needs ${missing.join(", ")} (apt-get install cmake gcc wabt).`);
    return;
  }
  const root = new URL("..", import.meta.url).pathname;
  const builds: Array<[string, string[]]> = [["wasm2c", ["-DWSK_ENGINE_BACKEND=wasm2c", "-DWAMR_ROOT="]]];
  const wamr = process.env.WAMR_ROOT ?? "/opt/wamr";
  if (wamr && existsSync(join(wamr, "include", "wasm_export.h")))
    builds.push(["wamr-fast", ["-DWSK_ENGINE_BACKEND=wamr", `-DWAMR_ROOT=${wamr}`, "-DWSK_WAMR_MODE=fast"]]);
  else console.log("WAMR: not run (set WAMR_ROOT to an installed WAMR, docs/FIRMWARE.md); wasm2c only.\n");
  for (const [name, flags] of builds) {
    const dir = join(root, "build", "c-bench", name);
    mkdirSync(dir, { recursive: true });
    const source = join(root, "runtimes", "wamr");
    const configure = ["-S", source, "-B", dir, "-DCMAKE_BUILD_TYPE=Release", "-DWSK_TLS=OFF", ...flags];
    execFileSync("cmake", configure, { stdio: "ignore" });
    execFileSync("cmake", ["--build", dir, "-j2", "--target", "wsk_bench"], { stdio: "ignore" });
    const program = join(dir, "wsk_bench");
    const out = execFileSync(hasTaskset ? "taskset" : program, hasTaskset ? ["-c", CORE, program] : [], {
      encoding: "utf8",
    });
    console.log("```\n" + out.trimEnd() + "\n```\n");
  }
  console.log(
    "C/engine > 1: plain C is faster; < 1: the engine is (its loops work on words, the C ones on bytes).",
  );
}

async function attacksSection(): Promise<void> {
  console.log("\n## Hostile clients (bench/attacks.ts, docs/ATTACKS.md)\n");
  // attacks.ts pins itself, its canary and each server (ATTACK_CORE, ATTACK_SERVER_CORE).
  const tsx = new URL("../node_modules/.bin/tsx", import.meta.url).pathname;
  execFileSync(tsx, ["bench/attacks.ts"], { stdio: "inherit" });
}

const only = process.argv[2];
console.log(
  `# wasmsocket benchmarks (node ${process.version}, ${hasTaskset ? `pinned to core ${CORE}` : "unpinned"})`,
);
if (!only || only === "frames") framesSection();
if (!only || only === "micro") await microSection();
if (!only || only === "echo") await echoSection();
if (!only || only === "idle") await idleSection();
if (!only || only === "fanout") await fanoutSection();
if (!only || only === "h2") await h2Section();
if (!only || only === "deflate") await deflateSection();
if (!only || only === "c") cSection();
// Several minutes and three servers under attack: only when asked for (`tsx bench/run.ts attacks`).
if (only === "attacks") await attacksSection();
