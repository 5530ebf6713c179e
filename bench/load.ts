// What the end-to-end benchmarks share: servers in their own pinned processes, raw-TCP handshakes and
// frames (the load generator spends nothing on a WebSocket library), and /proc readings of the server.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { createInterface } from "node:readline";

export const BUN = new URL("../node_modules/.bin/bun", import.meta.url).pathname;

export interface Server {
  name: string;
  child: ChildProcess;
  port: number;
}

/** Start `command` pinned to `core`; it prints {"port": n} on its first line. */
export async function startServer(
  name: string,
  command: string[],
  env: Record<string, string>,
  core: string,
): Promise<Server> {
  const child = spawn("taskset", ["-c", core, ...command], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`${name} server exited with ${code}`)));
  });
  return { name, child, port: (JSON.parse(line) as { port: number }).port };
}

/** Stop a server started by `startServer` (it exits when its stdin ends). */
export async function stopServer(server: Server): Promise<void> {
  server.child.stdin!.end();
  await new Promise((r) => server.child.once("exit", r));
}

/** utime + stime of a process in seconds, and its peak RSS in bytes, from /proc. */
export function usage(pid: number): { cpu: number; peakRss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return { cpu: ticks / 100, peakRss: Number(hwm?.[1] ?? 0) * 1024 };
}

/**
 * Open a WebSocket by hand (`extra`: more header lines, each ending in CRLF; `ca`: over TLS, trusting it);
 * resolves with the socket, the 101 head's text and any bytes after it.
 */
export function handshake(
  port: number,
  path = "/",
  extra = "",
  ca?: string,
): Promise<{ socket: Socket; head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const host = "127.0.0.1";
    const socket = ca
      ? tlsConnect({ port, host, ca, ALPNProtocols: ["http/1.1"] }).setNoDelay(true)
      : connect({ port, host, noDelay: true });
    const key = randomBytes(16).toString("base64");
    socket.once("error", reject);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      const text = head.subarray(0, end).toString("latin1");
      if (!text.startsWith("HTTP/1.1 101")) return reject(new Error(text));
      resolve({ socket, head: text, rest: head.subarray(end + 4) });
    };
    socket.on("data", onData);
  });
}

/** Header bytes of a server (unmasked) frame with a `size`-byte payload. */
export function headerBytes(size: number): number {
  return size < 126 ? 2 : size <= 0xffff ? 4 : 10;
}

/** A masked binary frame carrying `payload` (a client's frame). */
export function maskedFrame(payload: Uint8Array): Buffer {
  const size = payload.length;
  const header =
    size < 126
      ? [0x82, 0x80 | size]
      : size <= 0xffff
        ? [0x82, 0xfe, size >> 8, size & 255]
        : [0x82, 0xff, 0, 0, 0, 0, (size >>> 24) & 255, (size >> 16) & 255, (size >> 8) & 255, size & 255];
  const key = [1, 2, 3, 4];
  const body = Buffer.from(payload);
  for (let i = 0; i < size; i++) body[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(header), Buffer.from(key), body]);
}

/** A masked binary frame of `size` random bytes, repeated `count` times. */
export function frames(size: number, count: number): Buffer {
  const one = maskedFrame(randomBytes(size));
  return Buffer.concat(Array.from({ length: count }, () => one));
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Half the range, as a percentage of the median. */
export const spread = (xs: number[]) =>
  (((Math.max(...xs) - Math.min(...xs)) / 2 / median(xs)) * 100).toFixed(0);
