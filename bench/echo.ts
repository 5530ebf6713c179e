// End-to-end echo: a raw-TCP load generator (this process, pinned by bench/run.ts or by hand) against
// each server in its own process pinned to another core. Cells from issue 5: 32 B × 64 conns × 32 in
// flight, 1 KiB × 64 × 32, 64 KiB × 1 × 1, and handshakes per second with 1 and 32 in parallel.
//   taskset -c 0 npx tsx bench/echo.ts        (BENCH_ROUNDS, BENCH_SECONDS, BENCH_SERVER_CORE (default 1),
//   BENCH_SERVERS and BENCH_CELLS: comma-separated server names / cell numbers 1-5 to run only those;
//   BENCH_BASE: the dist/ directory of another build, e.g. another commit's, run beside ours as
//   "wasmsocket (base)" and "wasmsocket on Bun (base)"; BENCH_SIZES: comma-separated payload sizes in bytes,
//   each an extra cell of that size × 64 conns × 32 in flight (cells 6, 7...): where a size costs more;
//   BENCH_FRESH=1: every cell on servers started for it, and each cell's peak server RSS reported)
// Every cell reports the load generator's CPU per message beside the server's: a generator above 80% of
// its core (flagged) may be the limit, and then the rate says less about the server than its CPU does.
import type { Socket } from "node:net";
import { loadavg as osLoadavg } from "node:os";
import { resolve } from "node:path";
import {
  BUN,
  frames,
  handshake,
  median,
  spread,
  startServer,
  stopServer,
  usage,
  type Server,
} from "./load.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? "1";
/** Above this share of its core the load generator may be what limits a cell. */
const GENERATOR_LIMIT = 0.8;
const loadAtStart = loadavg();

// Servers marked `bun` run under the npm package's bun binary (bench/echo-server-bun.ts). "node:net floor"
// does no WebSocket work at all: a fixed 101 for any request, then every read written back as it came
// (masked frames, 4 bytes longer than a server's, which its cells count with): the rates no server on
// node:net can pass.
const servers: {
  name: string;
  impl: string;
  env: Record<string, string>;
  bun?: boolean;
  /** Echoes bytes verbatim (the floor): its replies are the client's masked frames. */
  verbatim?: boolean;
}[] = [
  { name: "wasmsocket", impl: "wasmsocket", env: {} },
  { name: "ws + bufferutil", impl: "ws", env: {} },
  { name: "ws pure JS", impl: "ws", env: { WS_NO_BUFFER_UTIL: "1", WS_NO_UTF_8_VALIDATE: "1" } },
  { name: "uWebSockets.js", impl: "uws", env: {} },
  { name: "wasmsocket on Bun", impl: "wasmsocket", env: {}, bun: true },
  { name: "Bun.serve", impl: "bun.serve", env: {}, bun: true },
  { name: "node:net floor", impl: "net-floor", env: {}, verbatim: true },
];
const BASE = process.env.BENCH_BASE;
if (BASE) {
  const dist = resolve(BASE);
  servers.splice(1, 0, { name: "wasmsocket (base)", impl: "wasmsocket", env: { BENCH_DIST: dist } });
  servers.splice(-2, 0, {
    name: "wasmsocket on Bun (base)",
    impl: "wasmsocket",
    env: { BENCH_DIST: dist },
    bun: true,
  });
}

function startEchoServer(
  name: string,
  impl: string,
  env: Record<string, string>,
  bun = false,
): Promise<Server> {
  const command = bun
    ? [BUN, "bench/echo-server-bun.ts", impl]
    : [process.execPath, "bench/echo-server.mjs", impl];
  return startServer(name, command, env, SERVER_CORE);
}

/** taskset execs node in place, so the child's pid is the server's. */
function serverPid(server: Server): number {
  return server.child.pid!;
}

/** Echo `size`-byte messages on `conns` connections with `inFlight` each; returns messages/s. */
async function echoCell(
  port: number,
  pid: number,
  size: number,
  conns: number,
  inFlight: number,
  seconds: number,
  verbatim = false,
): Promise<Sample> {
  const echoFrame = size + (size < 126 ? 2 : size <= 0xffff ? 4 : 10) + (verbatim ? 4 : 0);
  const batch = frames(size, inFlight);
  const one = batch.subarray(0, batch.length / inFlight);
  let counting = false;
  let messages = 0;
  const sockets: Socket[] = [];
  for (let i = 0; i < conns; i++) {
    const { socket, rest } = await handshake(port);
    let pending = rest.length;
    socket.on("data", (chunk: Buffer) => {
      pending += chunk.length;
      const n = Math.floor(pending / echoFrame);
      if (n === 0) return;
      pending -= n * echoFrame;
      if (counting) messages += n;
      if (n <= inFlight) socket.write(batch.subarray(0, n * one.length));
      else for (let k = 0; k < n; k++) socket.write(one);
    });
    sockets.push(socket);
  }
  for (const s of sockets) s.write(batch);
  await new Promise((r) => setTimeout(r, 300));
  counting = true;
  const cpuBefore = usage(pid).cpu;
  const loadBefore = process.cpuUsage();
  const start = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - start) / 1000;
  counting = false;
  const cpu = usage(pid).cpu - cpuBefore;
  const load = process.cpuUsage(loadBefore);
  for (const s of sockets) s.destroy();
  return sample(messages, elapsed, cpu, load);
}

/** Complete handshakes for `seconds` with `parallel` in flight; returns handshakes/s. */
async function handshakeCell(port: number, pid: number, parallel: number, seconds: number): Promise<Sample> {
  let done = 0;
  const cpuBefore = usage(pid).cpu;
  const loadBefore = process.cpuUsage();
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (performance.now() < deadline) {
        const { socket } = await handshake(port);
        socket.destroy();
        done++;
      }
    }),
  );
  const cpu = usage(pid).cpu - cpuBefore;
  return sample(done, (performance.now() - start) / 1000, cpu, process.cpuUsage(loadBefore));
}

interface Sample {
  rate: number;
  /** Server CPU seconds per million messages (or handshakes). */
  cpuPerMillion: number;
  /** This load generator's CPU seconds per million messages (or handshakes). */
  generatorPerMillion: number;
  /** Fraction of a core the server and this load generator used while counting. */
  serverBusy: number;
  generatorBusy: number;
}

function sample(count: number, elapsed: number, cpu: number, load: NodeJS.CpuUsage): Sample {
  const generator = (load.user + load.system) / 1e6;
  return {
    rate: count / elapsed,
    cpuPerMillion: count ? (cpu / count) * 1e6 : 0,
    generatorPerMillion: count ? (generator / count) * 1e6 : 0,
    serverBusy: cpu / elapsed,
    generatorBusy: generator / elapsed,
  };
}

const allCells = [
  {
    name: "32 B × 64 conns × 32 in flight",
    run: (p: number, pid: number, verbatim: boolean) => echoCell(p, pid, 32, 64, 32, SECONDS, verbatim),
    bytes: 32,
  },
  {
    name: "1 KiB × 64 × 32",
    run: (p: number, pid: number, verbatim: boolean) => echoCell(p, pid, 1024, 64, 32, SECONDS, verbatim),
    bytes: 1024,
  },
  {
    name: "64 KiB × 1 × 1",
    run: (p: number, pid: number, verbatim: boolean) => echoCell(p, pid, 65536, 1, 1, SECONDS, verbatim),
    bytes: 65536,
  },
  {
    name: "handshakes/s, 1 at a time",
    run: (p: number, pid: number) => handshakeCell(p, pid, 1, SECONDS),
    bytes: 0,
  },
  {
    name: "handshakes/s, 32 in parallel",
    run: (p: number, pid: number) => handshakeCell(p, pid, 32, SECONDS),
    bytes: 0,
  },
  ...(process.env.BENCH_SIZES ?? "")
    .split(",")
    .filter((size) => size !== "")
    .map((text) => {
      const size = Number(text);
      return {
        name: `${size} B × 64 × 32`,
        run: (p: number, pid: number, verbatim: boolean) => echoCell(p, pid, size, 64, 32, SECONDS, verbatim),
        bytes: size,
      };
    }),
];

const cells = allCells.filter(
  (_, i) => !process.env.BENCH_CELLS || process.env.BENCH_CELLS.split(",").includes(String(i + 1)),
);
const results: Record<string, Record<string, Sample[]>> = {};
const peak: Record<string, number> = {};
/** BENCH_FRESH: each cell's servers started for it, so a peak RSS is that cell's (VmHWM, MiB). */
const FRESH = process.env.BENCH_FRESH === "1";
const cellPeak: Record<string, Record<string, number>> = {};
const wanted = servers.filter(
  (s) => !process.env.BENCH_SERVERS || process.env.BENCH_SERVERS.split(",").includes(s.name),
);
const startAll = async (): Promise<Server[]> => {
  const started: Server[] = [];
  for (const spec of wanted) started.push(await startEchoServer(spec.name, spec.impl, spec.env, spec.bun));
  return started;
};
const stopAll = async (servers: Server[], cell?: string): Promise<void> => {
  for (const server of servers) {
    const rss = usage(serverPid(server)).peakRss;
    peak[server.name] = Math.max(peak[server.name] ?? 0, rss);
    if (cell) (cellPeak[server.name] ??= {})[cell] = rss;
    await stopServer(server);
  }
};
for (const spec of wanted) results[spec.name] = {};
// Every server runs at once (idle while not measured), and rounds alternate between them, so a change in
// the machine's other load during the run falls on every server alike instead of on one server's cells.
let running: Server[] = FRESH ? [] : await startAll();
for (const cell of cells) {
  if (FRESH) running = await startAll();
  for (const server of running) results[server.name][cell.name] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const server of running) {
      const verbatim = wanted.find((s) => s.name === server.name)?.verbatim ?? false;
      results[server.name][cell.name].push(await cell.run(server.port, serverPid(server), verbatim));
    }
  }
  if (FRESH) await stopAll(running, cell.name);
}
if (!FRESH) await stopAll(running);

const names = wanted.map((s) => s.name);
// Ratios: our Node server against the Node baselines, our Bun server against Bun.serve.
const ratios: Array<[string, string]> = [
  ...wanted
    .filter((s) => !s.bun && s.name !== "wasmsocket")
    .map((s): [string, string] => ["wasmsocket", s.name]),
  ["wasmsocket on Bun", "Bun.serve"],
  ["wasmsocket (base)", "uWebSockets.js"],
  ["wasmsocket on Bun (base)", "Bun.serve"],
  ["wasmsocket", "wasmsocket (base)"],
  ["wasmsocket on Bun", "wasmsocket on Bun (base)"],
].filter(([ours, base]) => names.includes(ours) && names.includes(base)) as Array<[string, string]>;
const of = (n: string, cell: string, key: keyof Sample) => results[n][cell].map((x) => x[key]);
const med = (n: string, cell: string, key: keyof Sample) => median(of(n, cell, key));
const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
const header = (first: string, columns: string[]) =>
  `${row([first, ...columns])}\n${row([first, ...columns].map(() => "---"))}`;
console.log(
  `Load generator: this process (pid ${process.pid}); servers pinned to core ${SERVER_CORE}; ${ROUNDS} rounds × ${SECONDS} s, ` +
    `alternating between servers; median ±half-range. ⚠: the load generator was above ${GENERATOR_LIMIT * 100}% of its core ` +
    `in the median round, so it may have been the limit. Machine load average (1/5/15 min) at the start: ${loadAtStart}, at the end: ${loadavg()}.\n`,
);
console.log(header("cell", [...names, ...ratios.map(([ours, base]) => `${ours} / ${base}`)]));
for (const cell of cells) {
  const mbs = (x: number) => (cell.bytes ? ` (${((x * cell.bytes) / 1e6).toFixed(1)} MB/s)` : "");
  const rate = (n: string) => {
    const m = med(n, cell.name, "rate");
    const flag = med(n, cell.name, "generatorBusy") > GENERATOR_LIMIT ? " ⚠" : "";
    return `${m.toFixed(0)} ±${spread(of(n, cell.name, "rate"))}%${mbs(m)}${flag}`;
  };
  const ratio = ([ours, base]: [string, string]) =>
    `${(med(ours, cell.name, "rate") / med(base, cell.name, "rate")).toFixed(2)}×`;
  console.log(row([cell.name, ...names.map(rate), ...ratios.map(ratio)]));
}
console.log(
  `\nCPU seconds per million messages (or handshakes), median: server / load generator, then each one's share of its core.\n`,
);
console.log(header("cell", [...names, ...ratios.map(([ours, base]) => `server CPU ${ours} / ${base}`)]));
for (const cell of cells) {
  const cpu = (n: string) => {
    const busy = med(n, cell.name, "generatorBusy");
    return (
      `${med(n, cell.name, "cpuPerMillion").toFixed(2)} ±${spread(of(n, cell.name, "cpuPerMillion"))}% / ` +
      `${med(n, cell.name, "generatorPerMillion").toFixed(2)} (${(med(n, cell.name, "serverBusy") * 100).toFixed(0)}% / ` +
      `${(busy * 100).toFixed(0)}%${busy > GENERATOR_LIMIT ? " ⚠" : ""})`
    );
  };
  const ratio = ([ours, base]: [string, string]) =>
    `${(med(ours, cell.name, "cpuPerMillion") / med(base, cell.name, "cpuPerMillion")).toFixed(2)}×`;
  console.log(row([cell.name, ...names.map(cpu), ...ratios.map(ratio)]));
}
console.log(
  `\nPeak server RSS: ${names.map((n) => `${n} ${(peak[n] / 2 ** 20).toFixed(0)} MiB`).join(", ")}`,
);
if (FRESH) {
  console.log(`\nPeak server RSS per cell (MiB; fresh servers for each cell)\n`);
  console.log(header("cell", names));
  for (const cell of cells)
    console.log(row([cell.name, ...names.map((n) => (cellPeak[n][cell.name] / 2 ** 20).toFixed(0))]));
}

function loadavg(): string {
  return osLoadavg()
    .map((x) => x.toFixed(2))
    .join(" / ");
}
