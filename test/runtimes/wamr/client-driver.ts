// The TypeScript end of client_driver.c: one long-lived process of the target that opens C clients on command
// and prints each event they report; here the lines are parsed and kept per client, and awaited.
import type { ChildProcess } from "node:child_process";
import type { CClientConfig } from "../../support/hostile-peer.js";
import { spawnProgram, type Target } from "./host.js";

/** One event a C client reported (client_driver.c's line, parsed); fields its kind does not have are 0. */
export interface ClientEvent {
  /** BEGIN, BEFORE_CONNECT, CONNECTED, DATA, ERROR, CLOSED, DISCONNECTED, FINISH */
  name: string;
  /** DATA: opcode, FIN (the message's end), the frame's payload length, where this chunk starts, its bytes */
  op: number;
  fin: boolean;
  payloadLen: number;
  offset: number;
  data: Buffer;
  /** DATA (close), ERROR, CLOSED, DISCONNECTED */
  closeCode: number;
  /** ERROR, and the DISCONNECTED that follows it (CLOSED: 0): wsk_client_error_type_t, HTTP status, errno */
  type: number;
  status: number;
  errno: number;
}

/** wsk_client_error_type_t */
export const ErrorType = { TcpTransport: 1, Handshake: 2, PongTimeout: 3, Protocol: 4 } as const;

/** What one client did, as its events arrive. */
export class DrivenClient {
  readonly events: ClientEvent[] = [];
  /** Other lines about it (SENT rc, CLOSE_RETURNED err, STOP_RETURNED err, INIT_FAILED...). */
  readonly replies: string[] = [];
  destroyed = false;
  private waiters: Array<() => void> = [];
  constructor(readonly id: number) {}

  has(name: string): boolean {
    return this.events.some((e) => e.name === name);
  }

  get finished(): boolean {
    return this.has("FINISH");
  }

  /** Wake whoever waits on this client. */
  notify(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Wait until `ready()` or `ms` passed; false on timeout. */
  async until(ready: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }
}

function parseEvent(words: string[]): ClientEvent {
  const n = (i: number) => Number(words[i] ?? 0);
  const event: ClientEvent = {
    name: words[1],
    op: 0,
    fin: false,
    payloadLen: 0,
    offset: 0,
    data: Buffer.alloc(0),
    closeCode: 0,
    type: 0,
    status: 0,
    errno: 0,
  };
  if (event.name === "DATA")
    Object.assign(event, {
      op: n(2),
      fin: words[3] === "1",
      payloadLen: n(4),
      offset: n(5),
      closeCode: n(6),
      data: Buffer.from(words[7] ?? "", "hex"),
    });
  else if (event.name === "ERROR")
    Object.assign(event, { type: n(2), closeCode: n(3), status: n(4), errno: n(5) });
  else if (event.name === "CLOSED" || event.name === "DISCONNECTED")
    Object.assign(event, { closeCode: n(2), type: n(3), status: n(4), errno: n(5) });
  return event;
}

/** Lines that answer a command (not events). */
const REPLIES = ["SENT", "CLOSE_RETURNED", "STOP_RETURNED"];

/** The driver process of one target. */
export class ClientDriver {
  private clients = new Map<number, DrivenClient>();
  private buffered = "";
  private statsWaiters: Array<(line: string) => void> = [];
  /** The last STATS line. */
  lastStats = "";
  /** Lines that belong to no client. */
  readonly stray: string[] = [];
  /** Its stderr so far (the host's log lines). */
  stderr = "";
  readonly exited: Promise<number | null>;

  constructor(
    readonly target: Target,
    readonly proc: ChildProcess = spawnProgram(target, "wsk_client_driver"),
  ) {
    proc.stdout!.setEncoding("latin1");
    proc.stdout!.on("data", (text: string) => this.onOutput(text));
    proc.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
    proc.stdin!.on("error", () => {});
  }

  private onOutput(text: string): void {
    const lines = (this.buffered + text).split("\n");
    this.buffered = lines.pop()!;
    for (const line of lines) {
      const words = line.split(" ");
      if (words[0] === "STATS") {
        this.lastStats = line;
        for (const resolve of this.statsWaiters.splice(0)) resolve(line);
        continue;
      }
      const client = this.clients.get(Number(words[0]));
      if (!client) {
        this.stray.push(line);
        continue;
      }
      if (words[1] === "DESTROYED") client.destroyed = true;
      else if (/^[A-Z_]+$/.test(words[1]) && !REPLIES.includes(words[1]))
        client.events.push(parseEvent(words));
      if ([...REPLIES, "INIT_FAILED", "START_FAILED"].includes(words[1]))
        client.replies.push(words.slice(1).join(" "));
      client.notify();
    }
  }

  private command(line: string): void {
    this.proc.stdin!.write(line + "\n");
  }

  /**
   * Start a client for ws://127.0.0.1:`port``path` (wss:// trusting the PEM file `ca` when given), reconnecting
   * after `config.reconnectTimeoutMs` when that is set, never otherwise.
   */
  open(
    id: number,
    port: number,
    path: string,
    config: CClientConfig,
    networkTimeoutMs: number,
    ca?: string,
  ): DrivenClient {
    const client = new DrivenClient(id);
    this.clients.set(id, client);
    this.command(
      `open ${id} ${port} ${path} ${config.bufferSize} ${config.maxMessageSize} ${config.maxFragmentSize} ` +
        `${config.pingIntervalSec} ${config.pingpongTimeoutSec ?? 0} ${config.reconnectTimeoutMs ?? -1} ` +
        `${networkTimeoutMs}${ca ? ` ${ca}` : ""}`,
    );
    return client;
  }

  /** wsk_client_send_text/bin of `length` bytes (from the driver's main thread; it waits for the call). */
  send(id: number, kind: "text" | "binary", length: number, timeoutMs = 1000): void {
    this.command(`send ${id} ${kind} ${length} ${timeoutMs}`);
  }

  /**
   * The next `count` clients opened wait on their own tasks, just before they connect, until all of them are
   * there (at most 10 s), then connect at the same moment.
   */
  together(count: number): void {
    this.command(`together ${count}`);
  }

  /**
   * wsk_client_close, or wsk_client_close_with_code with `code` and `reason` (bytes, no NUL) when `code` is given,
   * on a thread of the driver's own (its wait holds up no other command); the client's reply is
   * "CLOSE_RETURNED err".
   */
  close(id: number, timeoutMs: number, code?: number, reason?: Buffer): void {
    const hex = reason && reason.length > 0 ? reason.toString("hex") : "-";
    this.command(`close ${id} ${timeoutMs}${code === undefined ? "" : ` ${code} ${hex}`}`);
  }

  /** The client's next CLOSED or DISCONNECTED handler waits `ms` once its line is out (its task ends later). */
  hold(id: number, ms: number): void {
    this.command(`hold ${id} ${ms}`);
  }

  /** wsk_client_stop (from the driver's main thread); the client's reply is "STOP_RETURNED err". */
  stopClient(id: number): void {
    this.command(`stop ${id}`);
  }

  /** Forget a client once judged (its lines are no longer needed). */
  forget(id: number): void {
    this.clients.delete(id);
  }

  /** The driver's STATS line: host heap and engine slots in use now. */
  stats(): Promise<Record<string, number>> {
    const line = new Promise<string>((resolve) => this.statsWaiters.push(resolve));
    this.command("stats");
    return line.then(parseStats);
  }

  /** End its input: it waits for every client to finish, frees them and exits (0: no heap, no slot left). */
  async stop(): Promise<number | null> {
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.proc.kill(), 40_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

export function parseStats(line: string): Record<string, number> {
  return Object.fromEntries(
    line
      .split(" ")
      .slice(1)
      .map((kv) => [kv.split("=")[0], Number(kv.split("=")[1])]),
  );
}
