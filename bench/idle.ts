// RSS per idle connection (issue 18): N connections (BENCH_IDLE, default 5,000) opened at once by this
// process (raw TCP, one hand-written handshake each, nothing sent after it) against each server in a fresh
// process pinned to BENCH_SERVER_CORE; the server's VmRSS is read from /proc before (after one warm-up
// connection) and after: BENCH_SETTLE ms (default 2 s) once the last 101 arrived, and with BENCH_LATE set
// (ms, e.g. 15000) a second time then. Per connection = (after - before) / N. On Node the first reading
// holds what the burst of handshakes left: V8's young generation grows to its maximum under it (16 MiB
// semi-spaces, about 5.9 KB per connection at 5,000, for ws as for us) and stays until V8's memory reducer
// shrinks it some seconds into the quiet, which a late reading shows in some rounds and not in others.
//   taskset -c 0 npx tsx bench/idle.ts        (BENCH_ROUNDS, BENCH_IDLE, BENCH_SETTLE, BENCH_LATE,
//   BENCH_SERVER_CORE, BENCH_SERVERS: comma-separated server names to run only those)
// The servers are bench/echo-server.mjs and bench/echo-server-bun.ts, as in the echo cells (ours with its
// heartbeat off there), plus ours on Node with the heartbeat on as by default. Rounds alternate between
// servers. A fresh process per round: RSS never returns to a baseline once a heap has grown.
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { loadavg } from "node:os";
import { BUN, handshake, median, spread, startServer, stopServer } from "./load.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_IDLE ?? 5000);
const SETTLE = Number(process.env.BENCH_SETTLE ?? 2000);
const LATE = Number(process.env.BENCH_LATE ?? 0);
const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? "1";
/** Handshakes in flight at most while opening (the kernel's accept queue is the real limit). */
const PARALLEL = Number(process.env.BENCH_IDLE_PARALLEL ?? N);

const servers: { name: string; command: string[] }[] = [
  { name: "wasmsocket", command: [process.execPath, "bench/echo-server.mjs", "wasmsocket"] },
  {
    name: "wasmsocket, heartbeat on",
    command: [process.execPath, "bench/echo-server.mjs", "wasmsocket", '{"heartbeat":true}'],
  },
  { name: "ws", command: [process.execPath, "bench/echo-server.mjs", "ws"] },
  { name: "uWebSockets.js", command: [process.execPath, "bench/echo-server.mjs", "uws"] },
  { name: "wasmsocket on Bun", command: [BUN, "bench/echo-server-bun.ts", "wasmsocket"] },
  { name: "Bun.serve", command: [BUN, "bench/echo-server-bun.ts", "bun.serve"] },
];
// BENCH_BASE: a checkout of another commit, built (`npm run build` there): its Node server runs beside ours
// (bench/echo.ts takes that checkout's dist/ instead).
if (process.env.BENCH_BASE)
  servers.splice(1, 0, {
    name: "wasmsocket (base)",
    command: [process.execPath, `${process.env.BENCH_BASE}/bench/echo-server.mjs`, "wasmsocket"],
  });
const wanted = servers.filter(
  (s) => !process.env.BENCH_SERVERS || process.env.BENCH_SERVERS.split(",").includes(s.name),
);

function vmRss(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bytes of server RSS per idle connection, one fresh server: SETTLE ms after opening, and LATE ms. */
async function round(spec: { name: string; command: string[] }): Promise<[number, number]> {
  const server = await startServer(spec.name, spec.command, {}, SERVER_CORE);
  const pid = server.child.pid!;
  const warm = await handshake(server.port);
  warm.socket.destroy();
  await sleep(500);
  const before = vmRss(pid);
  const sockets: Socket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL, N) }, async () => {
      while (next < N) {
        next++;
        const { socket } = await handshake(server.port);
        socket.on("data", () => {});
        socket.on("error", () => {});
        sockets.push(socket);
      }
    }),
  );
  await sleep(SETTLE);
  const after = vmRss(pid);
  if (LATE > SETTLE) await sleep(LATE - SETTLE);
  const late = LATE > SETTLE ? vmRss(pid) : 0;
  for (const s of sockets) s.destroy();
  await stopServer(server);
  return [(after - before) / N, (late - before) / N];
}

const results: Record<string, number[]> = Object.fromEntries(wanted.map((s) => [s.name, []]));
const lateResults: Record<string, number[]> = Object.fromEntries(wanted.map((s) => [s.name, []]));
const loadAtStart = loadavg().map((x) => x.toFixed(1));
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 ? [...wanted].reverse() : wanted;
  for (const spec of order) {
    const [early, late] = await round(spec);
    results[spec.name].push(early);
    lateResults[spec.name].push(late);
  }
}
const kb = (x: number) => (x / 1000).toFixed(1);
console.log(
  `RSS per idle connection: ${N} connections opened at once, VmRSS after the last 101 minus VmRSS before; ` +
    `fresh server per round pinned to core ${SERVER_CORE}; ${ROUNDS} rounds, median ±half-range (each round's ` +
    `value after it); load average ${loadAtStart.join(" / ")} at the start.\n`,
);
const readings: Array<[string, Record<string, number[]>]> = [[`${SETTLE / 1000} s after`, results]];
if (LATE > SETTLE) readings.push([`${LATE / 1000} s after`, lateResults]);
console.log(`| server | ${readings.map(([label]) => `KB per connection, ${label} | / ws`).join(" | ")} |`);
console.log(`| --- | ${readings.map(() => "--- | ---").join(" | ")} |`);
for (const spec of wanted) {
  const cells = readings.map(([, data]) => {
    const xs = data[spec.name];
    const ws = data.ws ? median(data.ws) : 0;
    const m = median(xs);
    return `${kb(m)} ±${spread(xs)}% (${xs.map(kb).join(", ")}) | ${ws ? `${(m / ws).toFixed(2)}×` : ""}`;
  });
  console.log(`| ${spec.name} | ${cells.join(" | ")} |`);
}
console.log(
  JSON.stringify(
    Object.fromEntries(
      wanted.map((s) => [s.name, readings.map(([, data]) => Math.round(median(data[s.name])))]),
    ),
  ),
);
