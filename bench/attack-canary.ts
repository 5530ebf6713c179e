// The canary for bench/attacks.ts, in its own process so an attack's work in the attacker's event loop does
// not delay it: one connection sends a 16-byte text message every 20 ms and times its echo, and every
// 250 ms a fresh client connects, sends one message, waits for its echo and closes (new clients must keep
// being accepted). Commands on stdin, one per line: "connect <port>", "reset", "report" (prints one JSON
// line), "disconnect".
import { createInterface } from "node:readline";
import { clientFrame, Opcode, Peer } from "./attack-peer.js";

const INTERVAL = 20;
const PROBE_INTERVAL = 250;
const PROBE_TIMEOUT = 3000;

let port = 0;
let canary: Peer | undefined;
let seq = 0;
const sent = new Map<number, number>();
let latencies: number[] = [];
let drops = 0;
let probes: number[] = [];
let probeFailures = 0;
/** Bumped by each reset: a probe begun before (against the previous server) is not counted. */
let resets = 0;
/** How each failed probe ended, counted: "HTTP 503", "close 1013 before its echo", "no TCP connection"... */
let probeFailureKinds: Record<string, number> = {};

function openCanary(): Promise<boolean> {
  const peer = new Peer(port, {
    onFrame: (_opcode, _fin, payload) => {
      const n = Number(payload.toString("latin1").slice(7));
      const at = sent.get(n);
      if (at === undefined) return;
      sent.delete(n);
      latencies.push(performance.now() - at);
    },
  });
  canary = peer;
  peer.socket.on("close", () => {
    if (canary !== peer) return;
    drops++;
    canary = undefined;
    setTimeout(() => port && !canary && void openCanary(), 100);
  });
  return peer.opened;
}

setInterval(() => {
  if (!canary || canary.status !== 101 || canary.gone) return;
  const n = seq++;
  sent.set(n, performance.now());
  canary.socket.write(clientFrame(Opcode.Text, Buffer.from(`canary ${String(n).padStart(9, "0")}`)));
}, INTERVAL);

setInterval(() => void probe(), PROBE_INTERVAL);

async function probe(): Promise<void> {
  if (!port) return;
  const start = performance.now();
  let echoed!: () => void;
  const echo = new Promise<void>((resolve) => (echoed = resolve));
  const generation = resets;
  const peer = new Peer(port, { onFrame: () => echoed() });
  let connected = false;
  peer.socket.once("connect", () => (connected = true));
  const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), PROBE_TIMEOUT));
  const ok = await Promise.race([
    peer.opened.then(async (opened) => {
      if (!opened) return false;
      peer.socket.write(clientFrame(Opcode.Text, Buffer.from("probe")));
      await echo;
      return true;
    }),
    timeout,
  ]);
  if (generation !== resets) {
    // begun against the previous attack's server (its stop may have cut it): counted nowhere
  } else if (ok) probes.push(performance.now() - start);
  else {
    probeFailures++;
    const kind = probeFailure(peer, connected);
    probeFailureKinds[kind] = (probeFailureKinds[kind] ?? 0) + 1;
  }
  peer.socket.on("error", () => {});
  if (ok) peer.socket.end(clientFrame(Opcode.Close, Buffer.from([0x03, 0xe8])));
  else peer.destroy();
}

/** Why a probe got no echo within PROBE_TIMEOUT, as seen from the client. */
function probeFailure(peer: Peer, connected: boolean): string {
  if (!connected) return "no TCP connection (SYN unanswered)";
  if (peer.status === 101)
    return peer.closeCode !== undefined
      ? `close ${peer.closeCode} before its echo`
      : peer.gone
        ? `${peer.end} after 101, no echo`
        : "101, no echo in time";
  if (peer.status !== 0) return `HTTP ${peer.status}`;
  return peer.gone ? `${peer.end} before any response` : "connected, no response in time";
}

const percentile = (xs: number[], p: number) =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] : NaN;

function report(): Record<string, number | Record<string, number>> {
  const now = performance.now();
  // A message still waiting for its echo counts with its age so far: a stalled server shows up in max.
  const waiting = [...sent.values()].map((at) => now - at);
  const all = [...latencies, ...waiting];
  return {
    sent: latencies.length + waiting.length,
    echoed: latencies.length,
    waiting: waiting.length,
    p50: percentile(all, 0.5),
    p99: percentile(all, 0.99),
    max: all.length ? Math.max(...all) : NaN,
    drops,
    probes: probes.length,
    probeFailures,
    probeFailureKinds,
    probeP50: percentile(probes, 0.5),
    probeMax: probes.length ? Math.max(...probes) : NaN,
  };
}

function reset(): void {
  resets++;
  latencies = [];
  probes = [];
  probeFailures = 0;
  probeFailureKinds = {};
  drops = 0;
  sent.clear();
}

for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg] = line.trim().split(" ");
  if (command === "connect") {
    port = Number(arg);
    reset();
    const ok = await openCanary();
    console.log(JSON.stringify({ ok }));
  } else if (command === "reset") {
    reset();
    console.log(JSON.stringify({ ok: true }));
  } else if (command === "report") console.log(JSON.stringify(report()));
  else if (command === "disconnect") {
    port = 0;
    const peer = canary;
    canary = undefined;
    peer?.destroy();
    console.log(JSON.stringify({ ok: true }));
  }
}
process.exit(0);
