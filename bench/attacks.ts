// Hostile clients against our servers and ws, side by side (docs/ATTACKS.md):  npm run bench:attacks
//   ATTACK_SERVERS=node,bun,ws,c which servers (wasmsocket on Node, wasmsocket on Bun, ws 8 on Node, the C
//                                host's wsk_echo_server: x86-64 wasm2c without sanitizers, built here by CMake
//                                into build/c-host/x86-64-wasm2c-plain as test/runtimes/wamr/host.ts does)
//   ATTACKS=slowloris,heads,...  which attacks (their keys, in allAttacks and docs/ATTACKS.md; default all)
//   ATTACK_SCALE=1               multiplies connection counts and volumes (not the spec's fixed sizes)
//   ATTACK_SERVER_CORE=1, ATTACK_CORE=0, ATTACK_JSON=path (also write the results as JSON),
//   ATTACK_SERVER_LOG=path (append every server's stderr there; WSK_LOG_LEVEL=3 makes the C host's verbose)
// Each attack gets a fresh server process (pinned to ATTACK_SERVER_CORE) so its peak RSS (VmHWM) is its
// own; this process (the attacker) and the canary process are pinned to ATTACK_CORE. Attacks use raw
// node:net sockets on 127.0.0.1, bounded in count, volume and time.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { constants, deflateRawSync } from "node:zlib";
import { BUN } from "./load.js";
import { buildDir, buildHost, root, type Target } from "../test/runtimes/wamr/host.js";
import { clientFrame, livePeers, Opcode, openPeers, Peer, tally, upgradeRequest } from "./attack-peer.js";

const SCALE = Number(process.env.ATTACK_SCALE ?? 1);
const SERVER_CORE = process.env.ATTACK_SERVER_CORE ?? "1";
const ATTACKER_CORE = process.env.ATTACK_CORE ?? "0";
const SERVER_LOG = process.env.ATTACK_SERVER_LOG;
const KiB = 1024;
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (n: number) => Math.max(1, Math.round(n * SCALE));
const fmtBytes = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${(n / KiB).toFixed(0)} KiB`);
const fmtMs = (ms: number) =>
  Number.isNaN(ms) ? "—" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
const median = (xs: number[]) => {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : NaN;
};
const maxOf = (xs: number[]) => {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length ? Math.max(...v) : NaN;
};

const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["-a", "-p", "-c", ATTACKER_CORE, String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const pinned = (core: string, command: string[]) =>
  hasTaskset ? ["taskset", "-c", core, ...command] : command;

// ---------------------------------------------------------------------------------------------- servers

interface ServerSpec {
  key: string;
  name: string;
  command: (options: Record<string, unknown>) => string[];
  /** build what the command runs (once, before its first attack) */
  prepare?: () => Promise<void>;
}

/** The C host's plain build (the one host.ts makes for valgrind): x86-64, wasm2c engine, no sanitizers. */
const cHost: Target = {
  name: "x86-64 wasm2c plain",
  backend: "wasm2c",
  arch: "x86-64",
  sanitize: "",
  tls: true,
};
// The C echo server's limits: 8 clients (the engine's CONFIG_WSK_MAX_CONNECTIONS slots; more is refused at
// start; the default is 4, too few for the canary and its probes), 16 MiB messages like the others, its default 1 KiB receive area (largest
// handshake head, bytes per read), its 5 s handshake/send timeouts, the others' 3 s + 3 s heartbeat, and no
// permessage-deflate (the deflate bomb's offer is declined, so it measures compressed frames on a connection
// without it).
const C_ARGS = ["--max-clients", "8", "--max-message", String(16 * MiB), "--heartbeat", "3000,3000"];

const allServers: ServerSpec[] = [
  {
    key: "node",
    name: "wasmsocket (Node)",
    command: (o) => [process.execPath, "bench/attack-server.mjs", "wasmsocket", JSON.stringify(o)],
  },
  {
    key: "bun",
    name: "wasmsocket (Bun)",
    command: (o) => [BUN, "bench/attack-server-bun.ts", JSON.stringify(o)],
  },
  {
    key: "ws",
    name: "ws 8 (Node)",
    command: (o) => [process.execPath, "bench/attack-server.mjs", "ws", JSON.stringify(o)],
  },
  {
    key: "c",
    name: "wasmsocket C host (wasm2c)",
    command: () => [`${buildDir(cHost)}/wsk_echo_server`, "--port", "0", ...C_ARGS],
    prepare: async () => {
      if (!existsSync(join(root, "build", "engine.firmware.wasm")))
        throw new Error("the C host embeds build/engine.firmware.wasm: run `npm run build` first");
      process.stderr.write(`building the C host (${cHost.name}) in ${buildDir(cHost)} ...\n`);
      await buildHost(cHost);
    },
  },
];

interface RunningServer {
  child: ChildProcess;
  pid: number;
  port: number;
  stderr: string;
}

async function startServer(spec: ServerSpec, options: Record<string, unknown>): Promise<RunningServer> {
  const [command, ...args] = pinned(SERVER_CORE, spec.command(options));
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  const server: RunningServer = { child, pid: child.pid!, port: 0, stderr: "" };
  child.stderr!.on("data", (chunk: Buffer) => {
    server.stderr = (server.stderr + chunk.toString()).slice(-2000);
    if (SERVER_LOG) appendFileSync(SERVER_LOG, chunk);
  });
  // Our Node and Bun servers print {"port": n}; the C host prints "ENGINE <back end>", then "PORT <n>".
  server.port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const c = /^PORT (\d+)$/.exec(line);
      if (c) resolve(Number(c[1]));
      else if (line.startsWith("{")) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once("exit", (code) => reject(new Error(`${spec.name} exited with ${code}: ${server.stderr}`)));
  });
  return server;
}

async function stopServer(server: RunningServer): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.stdin!.end();
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

/** VmRSS and VmHWM (bytes) and utime + stime (s) of a process, from /proc; zeros once it is gone. */
function probeProcess(pid: number): { rss: number; hwm: number; cpu: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * KiB;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return { rss: field("VmRSS"), hwm: field("VmHWM"), cpu: (Number(stat[11]) + Number(stat[12])) / 100 };
  } catch {
    return { rss: 0, hwm: 0, cpu: 0 };
  }
}

// ----------------------------------------------------------------------------------------------- canary

class Canary {
  private child: ChildProcess;
  private lines: AsyncIterator<string>;

  constructor() {
    const [command, ...args] = pinned(ATTACKER_CORE, [
      process.execPath,
      "--import",
      "tsx",
      "bench/attack-canary.ts",
    ]);
    this.child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
    this.lines = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }

  async command(line: string): Promise<CanaryReport> {
    this.child.stdin!.write(`${line}\n`);
    const next = await this.lines.next();
    return JSON.parse(next.value as string) as CanaryReport;
  }

  stop(): void {
    this.child.stdin!.end();
  }
}

/** A fresh client connects, gets one echo, closes: the server still serves. */
async function freshEcho(port: number): Promise<boolean> {
  let echoed!: () => void;
  const echo = new Promise<void>((r) => (echoed = r));
  const peer = new Peer(port, { onFrame: () => echoed() });
  const ok = await Promise.race([
    peer.opened.then(async (open) => {
      if (!open) return false;
      await peer.write(clientFrame(Opcode.Text, Buffer.from("after")));
      await echo;
      return true;
    }),
    sleep(3000).then(() => false),
  ]);
  peer.destroy();
  return ok;
}

// ---------------------------------------------------------------------------------------------- attacks

interface Context {
  port: number;
  pid: number;
  baselineRss: number;
}

interface Attack {
  key: string;
  name: string;
  serverOptions?: Record<string, unknown>;
  run: (ctx: Context) => Promise<string>;
}

/** "200× close 1009 (median 2.1 ms, max 9.0 ms)": outcomes with how long the server took. */
function ended(peers: Peer[], from?: (p: Peer) => number): string {
  const times = peers.map((p) => p.endedAfter(from ? from(p) : undefined));
  const m = median(times);
  return `${tally(peers)}${Number.isNaN(m) ? "" : ` (ended after median ${fmtMs(m)}, max ${fmtMs(maxOf(times))})`}`;
}

async function waitAll(peers: Peer[], ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (peers.some((p) => !p.gone) && performance.now() < deadline) await sleep(50);
}

const slowloris: Attack = {
  key: "slowloris",
  name: `slowloris: ${count(200)} request heads, one byte a second, for 12 s`,
  async run({ port }) {
    const peers = Array.from({ length: count(200) }, () => new Peer(port, { upgrade: false }));
    for (const p of peers) void p.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `);
    const deadline = performance.now() + 12_000;
    while (performance.now() < deadline && peers.some((p) => !p.gone)) {
      await sleep(1000);
      for (const p of peers) void p.write("a");
    }
    const open = peers.filter((p) => !p.gone).length;
    for (const p of peers) p.destroy();
    return `${ended(peers)}${open ? `; ${open} still open after 12 s` : ""}`;
  },
};

/** A request head of `size` bytes: a valid upgrade request padded with 1 KiB header lines. */
function bigHead(port: number, size: number): Buffer {
  const start = upgradeRequest(port).slice(0, -2);
  const line = `X-Pad: ${"a".repeat(KiB - 10)}\r\n`;
  const lines = Math.max(1, Math.ceil((size - start.length) / line.length));
  return Buffer.from(start + line.repeat(lines) + "\r\n");
}

const heads: Attack = {
  key: "heads",
  name: "request heads of 64 KiB, 1 MiB and 16 MiB (2 connections each)",
  async run({ port }) {
    const parts: string[] = [];
    for (const size of [64 * KiB, MiB, 16 * MiB]) {
      const head = bigHead(port, size);
      const peers = [new Peer(port, { upgrade: false }), new Peer(port, { upgrade: false })];
      const written = await Promise.all(peers.map((p) => p.writeAll(head, performance.now() + 10_000)));
      await waitAll(peers, 3000);
      const stuck = peers.filter((p) => !p.gone).length;
      for (const p of peers) p.destroy();
      parts.push(
        `${fmtBytes(size)}: ${ended(peers)}, ${fmtBytes(Math.min(...written))}–${fmtBytes(Math.max(...written))} written${stuck ? `, ${stuck} not ended 3 s after` : ""}`,
      );
    }
    return parts.join("; ");
  },
};

const churn: Attack = {
  key: "churn",
  name: `connect/close churn: 16 loops for 8 s (≤ ${count(10_000)} cycles): upgrade + drop, upgrade + close 1000, connect + drop`,
  async run({ port }) {
    const start = performance.now();
    const deadline = start + 8000;
    const cap = count(10_000);
    let cycles = 0;
    let failed = 0;
    const clean: Peer[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async (_, worker) => {
        for (let i = worker; performance.now() < deadline && cycles < cap; i++) {
          cycles++;
          const kind = i % 3;
          if (kind === 2) {
            const peer = new Peer(port, { upgrade: false });
            await new Promise((r) => (peer.socket.once("connect", r), peer.socket.once("close", r)));
            peer.destroy();
            continue;
          }
          const peer = new Peer(port);
          const opened = await Promise.race([peer.opened, sleep(3000).then(() => false)]);
          if (!opened) {
            failed++;
            peer.destroy();
            continue;
          }
          if (kind === 0) {
            peer.destroy();
            continue;
          }
          await peer.write(clientFrame(Opcode.Close, Buffer.from([0x03, 0xe8])));
          await peer.waitEnd(3000);
          if (clean.length < 1000) clean.push(peer);
          peer.destroy();
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    return `${cycles} cycles in ${seconds.toFixed(1)} s (${(cycles / seconds).toFixed(0)}/s), ${failed} handshakes failed; clean closes: ${tally(clean)}`;
  },
};

const idle: Attack = {
  key: "idle",
  name: `${count(2000)} idle connections held 8 s (answering pings)`,
  async run({ port, pid, baselineRss }) {
    const peers = await openPeers(port, count(2000), {}, 100);
    const opened = peers.filter((p) => p.status === 101).length;
    await sleep(8000);
    const rss = probeProcess(pid).rss;
    const open = peers.filter((p) => p.status === 101 && !p.gone).length;
    const pings = peers.reduce((n, p) => n + p.pings, 0);
    const gone = peers.filter((p) => p.gone);
    for (const p of peers) p.destroy();
    return (
      `${opened} upgraded, ${open} open after 8 s, ${pings} heartbeat pings answered; ` +
      `RSS +${((rss - baselineRss) / opened / KiB).toFixed(1)} KiB per connection` +
      (gone.length ? `; ended: ${tally(gone)}` : "")
    );
  },
};

/** One message of `frames` frames: a first frame, continuations, a last one (each `payload` bytes). */
function fragmented(opcode: number, frames: number, payload: Buffer): Buffer {
  const first = clientFrame(opcode, payload, { fin: false });
  const middle = clientFrame(Opcode.Continuation, payload, { fin: false });
  const last = clientFrame(Opcode.Continuation, payload);
  const all = Buffer.alloc(first.length + middle.length * (frames - 2) + last.length);
  first.copy(all, 0);
  all.fill(middle, first.length, first.length + middle.length * (frames - 2));
  last.copy(all, all.length - last.length);
  return all;
}

/** Send one fragmented message and wait for its echo of `expected` bytes (or the server's answer). */
async function fragmentedEcho(port: number, message: Buffer, expected: number): Promise<string> {
  let echoed = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const peer = new Peer(port, {
    onFrame: (_o, fin, payload) => {
      echoed += payload.length;
      if (fin) done();
    },
  });
  if (!(await peer.opened)) return peer.outcome();
  const start = performance.now();
  void peer.writeAll(message, start + 60_000);
  await Promise.race([finished, peer.waitEnd(60_000)]);
  const took = performance.now() - start;
  peer.destroy();
  if (echoed === expected)
    return `echoed the ${expected.toLocaleString("en")}-byte message ${fmtMs(took)} after the first byte was sent`;
  return `${peer.outcome()} after ${fmtMs(took)} (${echoed} bytes echoed)`;
}

const oneByteFrames: Attack = {
  key: "frames1M",
  name: `one message of ${count(1_000_000).toLocaleString("en")} one-byte frames (binary)`,
  async run({ port }) {
    const frames = count(1_000_000);
    return fragmentedEcho(port, fragmented(Opcode.Binary, frames, Buffer.from("a")), frames);
  },
};

const emptyContinuations: Attack = {
  key: "empty100k",
  name: `a text message of "a" then ${count(100_000).toLocaleString("en")} empty continuations`,
  async run({ port }) {
    const frames = count(100_000) + 1;
    const message = Buffer.concat([
      clientFrame(Opcode.Text, Buffer.from("a"), { fin: false }),
      fragmented(Opcode.Continuation, frames, Buffer.alloc(0)).subarray(6),
    ]);
    return fragmentedEcho(port, message, 1);
  },
};

/**
 * Whether the server has ended `peer`'s connection, from the kernel's table (a paused Node socket sees no FIN,
 * and a FIN queued behind unread data never reaches the peer): "open", "FIN" (the server's end is closing)
 * or "RST" (our end is gone).
 */
function serverEnded(peer: Peer): string {
  const hex = (n: number) => `:${n.toString(16).toUpperCase().padStart(4, "0")}`;
  const ours = hex(peer.socket.localPort ?? 0);
  const theirs = hex(peer.port);
  let client = "";
  let server = "";
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n")) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (local?.endsWith(ours) && remote?.endsWith(theirs)) client = state;
    if (local?.endsWith(theirs) && remote?.endsWith(ours)) server = state;
  }
  if (!client) return "RST";
  return server === "01" && client === "01" ? "open" : "FIN";
}

/**
 * Peers that never read write `unit` (repeated) for 8 s up to `cap` bytes each, then stay connected without
 * reading for 14 s more while the kernel's view of each connection is polled (a paused Node socket sees no
 * FIN); at the end they read what the server held for them. How far each got shows whether the server
 * stopped reading them; the poll shows whether and when it ended them. With `readAt` they start reading that
 * many ms after the flood began instead, whether the server has ended them or not.
 */
async function neverReads(
  port: number,
  unit: Buffer,
  peersCount: number,
  cap: number,
  readAt?: number,
): Promise<string> {
  const peers = await openPeers(port, peersCount, { autoPong: false });
  for (const p of peers) p.socket.pause();
  const batch = Buffer.concat(
    Array.from({ length: Math.max(1, Math.floor((64 * KiB) / unit.length)) }, () => unit),
  );
  const start = performance.now();
  const deadline = start + 8000;
  const cut = new Map<Peer, { state: string; at: number }>();
  const poll = setInterval(() => {
    for (const p of peers) {
      const state = p.end === "RST" ? "RST" : serverEnded(p);
      if (state !== "open" && !cut.has(p))
        cut.set(p, { state, at: (p.end ? p.endAt : performance.now()) - start });
    }
  }, 250);
  const written = await Promise.all(
    peers.map(async (p) => {
      let n = 0;
      while (n < cap && !p.gone && !cut.has(p) && performance.now() < deadline) {
        if (!p.socket.write(batch)) await p.drained(deadline);
        n += batch.length;
      }
      return n - p.socket.writableLength;
    }),
  );
  const stalled = peers.filter((p) => !cut.has(p) && p.socket.writableLength > 0).length;
  const holdUntil = readAt === undefined ? performance.now() + 14_000 : start + readAt;
  while ((readAt !== undefined || cut.size < peers.length) && performance.now() < holdUntil) await sleep(250);
  clearInterval(poll);
  for (const p of peers) p.socket.resume();
  await waitAll(peers, 2000);
  const received = peers.reduce((n, p) => n + p.dataBytes, 0);
  const pongs = peers.reduce((n, p) => n + p.pongs, 0);
  const ends = [...cut.values()];
  const how = tally(
    [...cut.keys()],
    (p) =>
      `${cut.get(p)!.state === "FIN" ? "FIN" : "RST"}${p.closeCode ? ` after close ${p.closeCode}` : ""}`,
  );
  for (const p of peers) p.destroy();
  return (
    `${fmtBytes(Math.min(...written))}–${fmtBytes(Math.max(...written))} per peer went in during the 8 s ` +
    `(cap ${fmtBytes(cap)}; ${stalled} peers' writes stalled: the server stopped reading them); ` +
    `server ended ${cut.size}/${peers.length}` +
    (cut.size
      ? ` (${how}, ${(median(ends.map((e) => e.at)) / 1000).toFixed(1)} s after the flood began)`
      : "") +
    `${cut.size < peers.length ? `, ${peers.length - cut.size} still connected after ${readAt === undefined ? 22 : readAt / 1000} s` : ""}; ` +
    `read afterwards: ${fmtBytes(received)} of echoes, ${pongs} pongs` +
    (readAt === undefined ? "" : `; once read: ${tally(peers)}`)
  );
}

const pingFlood: Attack = {
  key: "pingflood",
  name: `ping flood: 4 peers send 125-byte pings for 8 s (≤ ${count(32)} MiB each) and never read`,
  run: ({ port }) => neverReads(port, clientFrame(Opcode.Ping, randomBytes(125)), 4, count(32) * MiB),
};

const slowReader: Attack = {
  key: "slowreader",
  name: `slow readers: 4 peers send 64 KiB messages for 8 s (≤ ${count(64)} MiB each) and never read the echoes`,
  run: ({ port }) => neverReads(port, clientFrame(Opcode.Binary, randomBytes(64 * KiB)), 4, count(64) * MiB),
};

const lateReader: Attack = {
  key: "latereader",
  name: `late readers: 4 peers send 64 KiB messages for 8 s (≤ ${count(64)} MiB each) without reading the echoes, then read from 12 s on`,
  run: ({ port }) =>
    neverReads(port, clientFrame(Opcode.Binary, randomBytes(64 * KiB)), 4, count(64) * MiB, 12_000),
};

const hugeLength: Attack = {
  key: "len2^62",
  name: `frame headers announcing 2^62 bytes (${count(50)} peers) and 2^63 (top bit set, ${count(50)} peers)`,
  async run({ port }) {
    const result: string[] = [];
    for (const [label, length] of [
      ["2^62", 2n ** 62n],
      ["2^63", 2n ** 63n],
    ] as const) {
      const peers = await openPeers(port, count(50));
      const frame = Buffer.concat([
        clientFrame(Opcode.Binary, Buffer.alloc(0), { length }),
        randomBytes(KiB),
      ]);
      const sentAt = performance.now();
      for (const p of peers) void p.write(frame);
      await waitAll(peers, 3000);
      for (const p of peers) p.destroy();
      result.push(`${label}: ${ended(peers, () => sentAt)}`);
    }
    return result.join("; ");
  },
};

const garbage: Attack = {
  key: "garbage",
  name: `random garbage after the handshake: ${count(100)} peers × 64 KiB`,
  async run({ port }) {
    const peers = await openPeers(port, count(100));
    const sentAt = performance.now();
    for (const p of peers) void p.write(randomBytes(64 * KiB));
    await waitAll(peers, 4000);
    for (const p of peers) p.destroy();
    return ended(peers, () => sentAt);
  },
};

let bombPayload: Buffer | undefined;
const deflateBomb: Attack = {
  key: "deflatebomb",
  name: `deflate bombs: ${count(20)} peers each send one message inflating to 64 MiB of zeros (server with perMessageDeflate)`,
  serverOptions: { perMessageDeflate: true },
  async run({ port }) {
    bombPayload ??= deflateRawSync(Buffer.alloc(64 * MiB), { finishFlush: constants.Z_SYNC_FLUSH }).subarray(
      0,
      -4,
    );
    const frame = clientFrame(Opcode.Binary, bombPayload, { rsv1: true });
    const peers = await openPeers(port, count(20), {
      extra: "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    });
    const negotiated = peers.filter((p) => /permessage-deflate/i.test(p.responseHead)).length;
    const sentAt = performance.now();
    for (const p of peers) void p.write(frame);
    await waitAll(peers, 10_000);
    const received = peers.reduce((n, p) => n + p.dataBytes, 0);
    for (const p of peers) p.destroy();
    return `${fmtBytes(bombPayload.length)} each, deflate negotiated on ${negotiated}/${peers.length}; ${ended(peers, () => sentAt)}; ${fmtBytes(received)} echoed`;
  },
};

let echoPayload: Buffer | undefined;
const deflateEcho: Attack = {
  key: "deflateecho",
  name:
    `deflate echo: ${count(8)} peers each send ${count(4)} messages of 16 MiB of zeros, compressed (16 KiB each ` +
    `on the wire), and read the echoes, which the server compresses again (server with perMessageDeflate)`,
  serverOptions: { perMessageDeflate: true },
  async run({ port }) {
    echoPayload ??= deflateRawSync(Buffer.alloc(16 * MiB), { finishFlush: constants.Z_SYNC_FLUSH }).subarray(
      0,
      -4,
    );
    const messages = count(4);
    const frame = clientFrame(Opcode.Binary, echoPayload, { rsv1: true });
    // Each peer's echoes: when each arrived (ms after the peer sent) and the bytes it took on the wire.
    const arrivals = Array.from({ length: count(8) }, () => ({ at: [] as number[], bytes: 0, sentAt: 0 }));
    const peers = arrivals.map(
      (echo) =>
        new Peer(port, {
          extra: "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
          onFrame: (_opcode, fin, payload) => {
            echo.bytes += payload.length;
            if (fin) echo.at.push(performance.now() - echo.sentAt);
          },
        }),
    );
    await Promise.all(peers.map((p) => Promise.race([p.opened, sleep(5000)])));
    const negotiated = peers.filter((p) => /permessage-deflate/i.test(p.responseHead)).length;
    for (const [i, p] of peers.entries()) {
      arrivals[i].sentAt = performance.now();
      for (let m = 0; m < messages; m++) void p.write(frame);
    }
    const deadline = performance.now() + 30_000;
    while (arrivals.some((a, i) => a.at.length < messages && !peers[i].gone) && performance.now() < deadline)
      await sleep(50);
    const got = arrivals.reduce((n, a) => n + a.at.length, 0);
    const last = arrivals.map((a) => (a.at.length ? Math.max(...a.at) : NaN));
    const wire = arrivals.reduce((n, a) => n + a.bytes, 0);
    const open = peers.filter((p) => !p.gone).length;
    for (const p of peers) p.destroy();
    return (
      `deflate negotiated on ${negotiated}/${peers.length}; ${got}/${peers.length * messages} echoes back ` +
      `(a peer's last after median ${fmtMs(median(last))}, max ${fmtMs(maxOf(last))}), ` +
      `${fmtBytes(got ? wire / got : 0)} per echo on the wire; ` +
      (open === peers.length ? "all peers kept" : tally(peers))
    );
  },
};

const halfOpen: Attack = {
  key: "halfopen",
  name: `half-open peers: ${count(200)} upgraded peers that then send nothing and answer no ping (12 s)`,
  async run({ port }) {
    const peers = await openPeers(port, count(200), { autoPong: false });
    await waitAll(peers, 12_000);
    const open = peers.filter((p) => !p.gone).length;
    for (const p of peers) p.destroy();
    return `${ended(peers)}${open ? `; ${open} still open after 12 s` : ""}`;
  },
};

const invalidUtf8: Attack = {
  key: "utf8",
  name: `invalid UTF-8 inside a fragmented text message, on ${count(1000)} connections at once`,
  async run({ port }) {
    const peers = await openPeers(port, count(1000), {}, 100);
    const message = Buffer.concat([
      clientFrame(Opcode.Text, Buffer.from("héllo "), { fin: false }),
      clientFrame(Opcode.Continuation, Buffer.from("wörld "), { fin: false }),
      clientFrame(Opcode.Continuation, Buffer.from([0x61, 0xce, 0xff, 0x62]), { fin: false }),
      clientFrame(Opcode.Continuation, Buffer.from(" end")),
    ]);
    const sentAt = performance.now();
    for (const p of peers) void p.write(message);
    await waitAll(peers, 10_000);
    for (const p of peers) p.destroy();
    return ended(peers, () => sentAt);
  },
};

const allAttacks: Attack[] = [
  slowloris,
  heads,
  churn,
  idle,
  oneByteFrames,
  emptyContinuations,
  pingFlood,
  slowReader,
  lateReader,
  hugeLength,
  garbage,
  deflateBomb,
  deflateEcho,
  halfOpen,
  invalidUtf8,
];

// ---------------------------------------------------------------------------------------------- harness

/** The canary's "report" line: numbers and flags, and probeFailureKinds (how each failed probe ended). */
type CanaryReport = Record<string, number | boolean | Record<string, number>>;

interface Row {
  server: string;
  attack: string;
  key: string;
  outcome: string;
  survived: boolean;
  serverExit: string;
  baselineRss: number;
  peakRss: number;
  endRss: number;
  cpu: number;
  canary: CanaryReport;
}

async function runAttack(spec: ServerSpec, attack: Attack, canary: Canary): Promise<Row> {
  const server = await startServer(spec, attack.serverOptions ?? {});
  await canary.command(`connect ${server.port}`);
  await sleep(300);
  const before = probeProcess(server.pid);
  await canary.command("reset");
  let outcome: string;
  try {
    outcome = await attack.run({ port: server.port, pid: server.pid, baselineRss: before.rss });
  } catch (error) {
    outcome = `attack failed: ${(error as Error).message}`;
  }
  for (const p of livePeers) p.destroy();
  await sleep(1000);
  const exited = server.child.exitCode !== null || server.child.signalCode !== null;
  const after = probeProcess(server.pid);
  const survived = !exited && (await freshEcho(server.port));
  const report = await canary.command("report");
  await canary.command("disconnect");
  const serverExit = exited
    ? `exited (${server.child.exitCode ?? server.child.signalCode}): ${server.stderr.trim().split("\n").slice(-3).join(" / ")}`
    : "";
  await stopServer(server);
  return {
    server: spec.name,
    attack: attack.name,
    key: attack.key,
    outcome,
    survived,
    serverExit,
    baselineRss: before.rss,
    peakRss: after.hwm,
    endRss: after.rss,
    cpu: after.cpu - before.cpu,
    canary: report,
  };
}

const mib = (n: number) => (n / MiB).toFixed(0);
const canaryCell = (c: CanaryReport) =>
  `${fmtMs(c.p50 as number)} / ${fmtMs(c.p99 as number)} / ${fmtMs(c.max as number)}` +
  ((c.waiting as number) > 0 ? ` (${c.waiting} unanswered)` : "") +
  ((c.drops as number) > 0 ? ` (canary cut ${c.drops}×)` : "");
const probeCell = (c: CanaryReport) =>
  `${c.probes} ok${(c.probeFailures as number) > 0 ? `, **${c.probeFailures} failed** (${failureKinds(c)})` : ""}, max ${fmtMs(c.probeMax as number)}`;
const failureKinds = (c: CanaryReport) =>
  Object.entries((c.probeFailureKinds ?? {}) as Record<string, number>)
    .map(([kind, n]) => `${n}× ${kind}`)
    .join(", ");

function serverTable(rows: Row[]): string {
  const lines = [
    "| attack | what the server did | served after | RSS before → peak → after (MiB) | server CPU | canary echo p50 / p99 / max | new clients during (every 250 ms) |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows)
    lines.push(
      `| ${r.key} | ${r.outcome}${r.serverExit ? ` **server ${r.serverExit}**` : ""} | ${r.survived ? "yes" : "**no**"} | ${mib(r.baselineRss)} → ${mib(r.peakRss)} → ${mib(r.endRss)} | ${r.cpu.toFixed(1)} s | ${canaryCell(r.canary)} | ${probeCell(r.canary)} |`,
    );
  return lines.join("\n");
}

function combinedTable(rows: Row[], servers: ServerSpec[], attacks: Attack[]): string {
  const lines = [
    `| attack | ${servers.map((s) => `${s.name}: peak RSS, canary p99 / max`).join(" | ")} |`,
    `| --- | ${servers.map(() => "---").join(" | ")} |`,
  ];
  for (const a of attacks) {
    const cells = servers.map((s) => {
      const r = rows.find((x) => x.server === s.name && x.key === a.key);
      if (!r) return "—";
      return `${mib(r.peakRss)} MiB, ${fmtMs(r.canary.p99 as number)} / ${fmtMs(r.canary.max as number)}${r.survived ? "" : ", **not serving after**"}`;
    });
    lines.push(`| ${a.key} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

const servers = allServers.filter(
  (s) => !process.env.ATTACK_SERVERS || process.env.ATTACK_SERVERS.split(",").includes(s.key),
);
const attacks = allAttacks.filter(
  (a) => !process.env.ATTACKS || process.env.ATTACKS.split(",").includes(a.key),
);
const canary = new Canary();
const rows: Row[] = [];
const started = performance.now();
console.log(
  `# Attacks (${new Date().toISOString()}, node ${process.version}, scale ${SCALE}, ` +
    `${hasTaskset ? `servers on core ${SERVER_CORE}, attacker and canary on core ${ATTACKER_CORE}` : "unpinned"})\n`,
);
for (const spec of servers) {
  await spec.prepare?.();
  for (const attack of attacks) {
    process.stderr.write(`${spec.name}: ${attack.key} ... `);
    const row = await runAttack(spec, attack, canary);
    rows.push(row);
    process.stderr.write(`${row.survived ? "served after" : "NOT SERVING"}; ${row.outcome}\n`);
  }
  console.log(`## ${spec.name}\n\n${serverTable(rows.filter((r) => r.server === spec.name))}\n`);
}
console.log(`## All servers\n\n${combinedTable(rows, servers, attacks)}\n`);
console.log("Attacks:\n");
for (const a of attacks) console.log(`- **${a.key}**: ${a.name}`);
console.log(`\nTotal time ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (process.env.ATTACK_JSON) writeFileSync(process.env.ATTACK_JSON, JSON.stringify(rows, null, 2));
canary.stop();
process.exit(0);
