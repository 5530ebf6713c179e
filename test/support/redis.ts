// A real Redis for tests: Debian's redis-server on a free loopback port (.ci/run installs it).
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import * as net from "node:net";
import { createInterface } from "node:readline";
import { WebSocket } from "../../runtimes/node/index.js";
import { within } from "./raw-client.js";
import { toolMissing } from "./missing.js";

/** Why the Redis tests cannot run here, or false. */
export function redisMissing(): string | false {
  return toolMissing(
    "redis-server",
    ["--version"],
    "redis-server is not installed (apt-get install redis-server; .ci/run does)",
  );
}
const missing = redisMissing();
if (missing) console.warn(`skipping the Redis scale-out tests: ${missing}`);

export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

/** A redis-server on `port`, ready to accept connections. */
export async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout! });
  await within(
    new Promise<void>((resolve, reject) => {
      lines.on("line", (line) => line.includes("Ready to accept connections") && resolve());
      child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
    }),
    10_000,
    "redis-server ready",
  );
  return child;
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill(signal);
  await within(exited, 10_000, "process exits");
}

/** A client of one server process that records every message it receives. */
export class Peer {
  readonly got: string[] = [];
  private waiters: Array<() => void> = [];
  private constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (e) => {
      this.got.push(String((e as MessageEvent).data));
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Connect to `path` (default: subscribe to `topics` through `?t=`, as pubsub-server.mjs reads it). */
  static async open(port: number, topics: string[] = [], path = `/?t=${topics.join(",")}`): Promise<Peer> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    const peer = new Peer(ws);
    await within(once(ws as unknown as EventTarget, "open"), 5000, "client open");
    return peer;
  }

  /** Wait until `check` holds of what arrived (bounded). */
  async until(check: (got: string[]) => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check(this.got)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out: ${what} (have ${this.got.length}: ${this.got.slice(-3)})`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.min(left, 100));
      });
    }
  }

  /** Send a command and return its one-line answer. */
  async ask(command: string): Promise<string> {
    const before = this.got.length;
    this.ws.send(command);
    await this.until((got) => got.length > before, `answer to ${command}`);
    return this.got.splice(before, 1)[0];
  }

  close(): void {
    this.ws.close();
  }
}
