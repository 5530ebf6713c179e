// End-to-end echo: a raw-TCP load generator (this process, pinned by bench/run.ts or by hand) against
// each server in its own process pinned to another core. Cells from issue 5: 32 B × 64 conns × 32 in
// flight, 1 KiB × 64 × 32, 64 KiB × 1 × 1, and handshakes per second with 1 and 32 in parallel.
//   taskset -c 1 npx tsx bench/echo.ts        (BENCH_ROUNDS, BENCH_SECONDS, BENCH_SERVER_CORE,
//   BENCH_SERVERS and BENCH_CELLS: comma-separated server names / cell numbers 1-5 to run only those)
import type { Socket } from "node:net";
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
const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? "0";

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
  { name: "wasmsocket on Bun", impl: "wasmsocket", env: {}, bun: true },
  { name: "Bun.serve", impl: "bun.serve", env: {}, bun: true },
  { name: "node:net floor", impl: "net-floor", env: {}, verbatim: true },
];

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
  return {
    rate: messages / elapsed,
    cpuPerMillion: messages ? (cpu / messages) * 1e6 : 0,
    serverBusy: cpu / elapsed,
    generatorBusy: (load.user + load.system) / 1e6 / elapsed,
  };
}

/** Complete handshakes for `seconds` with `parallel` in flight; returns handshakes/s. */
async function handshakeCell(port: number, pid: number, parallel: number, seconds: number): Promise<Sample> {
  let done = 0;
  const cpuBefore = usage(pid).cpu;
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
  return { rate: done / ((performance.now() - start) / 1000), cpuPerMillion: (cpu / done) * 1e6 };
}

interface Sample {
  rate: number;
  cpuPerMillion: number;
  /** Fraction of a core the server and this load generator used while counting (echo cells). */
  serverBusy?: number;
  generatorBusy?: number;
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
];

const cells = allCells.filter(
  (_, i) => !process.env.BENCH_CELLS || process.env.BENCH_CELLS.split(",").includes(String(i + 1)),
);
const results: Record<
  string,
  Record<string, { rate: number[]; cpuPerMillion: number[]; busy: string[] }>
> = {};
const peak: Record<string, number> = {};
const wanted = servers.filter(
  (s) => !process.env.BENCH_SERVERS || process.env.BENCH_SERVERS.split(",").includes(s.name),
);
// Every server runs at once (idle while not measured), and rounds alternate between them, so a change in
// the machine's other load during the run falls on every server alike instead of on one server's cells.
const running: Server[] = [];
for (const spec of wanted) {
  running.push(await startEchoServer(spec.name, spec.impl, spec.env, spec.bun));
  results[spec.name] = {};
}
for (const cell of cells) {
  for (const server of running) results[server.name][cell.name] = { rate: [], cpuPerMillion: [], busy: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const server of running) {
      const entry = results[server.name][cell.name];
      const verbatim = wanted.find((s) => s.name === server.name)?.verbatim ?? false;
      const sample = await cell.run(server.port, serverPid(server), verbatim);
      entry.rate.push(sample.rate);
      entry.cpuPerMillion.push(sample.cpuPerMillion);
      if (sample.serverBusy !== undefined)
        entry.busy.push(
          `server ${(sample.serverBusy * 100).toFixed(0)}% / generator ${(sample.generatorBusy! * 100).toFixed(0)}%`,
        );
    }
  }
}
for (const server of running) {
  peak[server.name] = usage(serverPid(server)).peakRss;
  await stopServer(server);
}

const names = wanted.map((s) => s.name);
// Ratios: our Node server against the Node baselines, our Bun server against Bun.serve.
const ratios: Array<[string, string]> = [
  ...wanted
    .filter((s) => !s.bun && s.name !== "wasmsocket")
    .map((s): [string, string] => ["wasmsocket", s.name]),
  ["wasmsocket on Bun", "Bun.serve"],
].filter(([ours, base]) => names.includes(ours) && names.includes(base)) as Array<[string, string]>;
console.log(
  `Load generator: this process; servers pinned to core ${SERVER_CORE}; ${ROUNDS} rounds × ${SECONDS} s, alternating between servers, median ±half-range.\n`,
);
console.log(
  `| cell | ${names.map((n) => `${n} msgs/s`).join(" | ")} | ${ratios
    .map(([ours, base]) => `${ours} / ${base}`)
    .join(" | ")} |`,
);
console.log(`| --- | ${names.map(() => "---").join(" | ")} | ${ratios.map(() => "---").join(" | ")} |`);
// A server that did not run a cell (the floor's echo cells) shows "—".
const measured = (n: string, cell: string) => results[n][cell].rate.length > 0;
for (const cell of cells) {
  const m = names.map((n) => median(results[n][cell.name].rate));
  const mbs = (x: number) => (cell.bytes ? ` (${((x * cell.bytes) / 1e6).toFixed(1)} MB/s)` : "");
  const rate = (n: string, i: number) =>
    measured(n, cell.name) ? `${m[i].toFixed(0)} ±${spread(results[n][cell.name].rate)}%${mbs(m[i])}` : "—";
  const ratio = ([ours, base]: [string, string]) =>
    measured(ours, cell.name) && measured(base, cell.name)
      ? `${(m[names.indexOf(ours)] / m[names.indexOf(base)]).toFixed(2)}×`
      : "—";
  console.log(`| ${cell.name} | ${names.map(rate).join(" | ")} | ${ratios.map(ratio).join(" | ")} |`);
}
console.log(`\nServer CPU seconds per million messages (or handshakes), median: `);
for (const cell of cells)
  console.log(
    `- ${cell.name}: ${names
      .filter((n) => measured(n, cell.name))
      .map((n) => `${n} ${median(results[n][cell.name].cpuPerMillion).toFixed(2)} s`)
      .join(", ")}`,
  );
console.log("\nCore use while counting (a generator near 100% means the server was not the limit):");
for (const cell of cells.filter((c) => c.bytes > 0))
  console.log(
    `- ${cell.name}: ${names
      .filter((n) => measured(n, cell.name))
      .map((n) => `${n}: ${results[n][cell.name].busy.join(", ")}`)
      .join("; ")}`,
  );
console.log(
  `\nPeak server RSS: ${names.map((n) => `${n} ${(peak[n] / 2 ** 20).toFixed(0)} MiB`).join(", ")}`,
);
