// Connections ended abruptly at every phase (RST, FIN, a close frame; the server's terminate and close):
// afterwards no engine slot, `wss.clients` entry, zlib stream or send callback is left, and every callback
// ran once. A bounded sample of the stress run recorded in docs/ATTACKS.md ("Abrupt endings").
import { once } from "node:events";
import * as net from "node:net";
import * as zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { EnginePool } from "../../../bindings/engine/pool.js";
import { openDeflateStreams, openInflateStreams } from "../../../runtimes/node/deflate.js";
import { WebSocketServer, type ServerConnection } from "../../../runtimes/node/index.js";
import { closePayload, frame, upgradeRequest } from "../../support/raw-client.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const BIG = Buffer.alloc(1 << 20, 0x61);
const BOMB = zlib
  .deflateRawSync(Buffer.alloc(4 << 20), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
  .subarray(0, -4);
const DEFLATE = "Sec-WebSocket-Extensions: permessage-deflate\r\n";

/** A raw peer: connects, writes `bytes` (after the 101 when `upgraded`), then ends as `how` says. */
async function peer(
  port: number,
  act: string,
  steps: { deflate?: boolean; head?: number; after101?: Buffer[]; read?: boolean; wait?: number },
  how: "rst" | "fin" | "closeframe",
): Promise<void> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await once(socket, "connect");
  let got = "";
  if (steps.read === false) socket.pause();
  else socket.on("data", (chunk: Buffer) => (got += chunk.toString("latin1", 0, 256)));
  const request = upgradeRequest(port, `/?act=${act}`, steps.deflate ? DEFLATE : "");
  socket.write(steps.head === undefined ? request : request.slice(0, steps.head));
  if (steps.after101) {
    const deadline = Date.now() + 2000;
    while (!got.includes("\r\n\r\n") && Date.now() < deadline) await sleep(2);
    for (const bytes of steps.after101) socket.write(bytes);
  }
  if (steps.wait !== 0) await sleep(steps.wait ?? 2);
  if (how === "rst") socket.resetAndDestroy();
  else {
    if (how === "closeframe") socket.write(frame(8, closePayload(1000)));
    socket.end();
    setTimeout(() => socket.destroy(), 1000);
  }
}

describe("abrupt endings", () => {
  it("leave no slot, client, zlib stream or send callback behind, at every phase", async () => {
    const pool = new EnginePool();
    const wss = new WebSocketServer({
      port: 0,
      host: "127.0.0.1",
      pool,
      perMessageDeflate: true,
      heartbeat: { interval: 100, timeout: 150 },
      handshakeTimeout: 300,
      closeTimeout: 300,
      stallTimeout: 300,
    });
    await once(wss, "listening");
    const port = (wss.address() as net.AddressInfo).port;
    let sends = 0;
    const calls = new Map<number, number>();
    const track = () => {
      const id = sends++;
      calls.set(id, 0);
      return () => calls.set(id, calls.get(id)! + 1);
    };
    wss.on("connection", (ws: ServerConnection, req) => {
      ws.on("error", () => {});
      ws.on("message", (data, binary) => ws.send(data, { binary }, track()));
      const act = new URL(req.url ?? "/", "http://x").searchParams.get("act");
      if (act === "bigsend") ws.send(BIG, track());
      if (act === "blob") ws.send(new Blob([BIG]), track());
      // A Blob read begins as the peer's last bytes arrive, so its socket closes during the read.
      if (act === "blobreply") ws.on("message", () => ws.send(new Blob([BIG]), track()));
      if (act === "flood") for (let i = 0; i < 40; i++) ws.send(Buffer.alloc(64 * 1024, i), track());
      if (act === "terminate") setImmediate(() => ws.terminate());
      if (act === "close") setImmediate(() => ws.close(1000));
    });
    const fragment = [frame(1, "hello ", { fin: false })];
    const phases: Array<[string, Parameters<typeof peer>[2]]> = [
      ["echo", { head: 12 }], // mid request line
      ["echo", { head: 90 }], // mid headers
      ["echo", {}], // the request, ended before or after the 101
      ["echo", { after101: [] }], // after the 101, no frame
      ["echo", { after101: [frame(2, Buffer.alloc(70_000)).subarray(0, 3)] }], // mid frame header
      ["echo", { after101: [frame(2, Buffer.alloc(200_000)).subarray(0, 90_000)] }], // mid payload
      ["echo", { after101: fragment }], // mid fragmented message
      ["echo", { deflate: true, after101: [frame(2, BOMB, { rsv: 4 }), frame(1, "behind")] }], // inflating
      ["bigsend", { deflate: true, after101: [] }], // deflating
      ["blob", { after101: [] }], // reading a Blob
      ["blobreply", { after101: [frame(1, "reply with a Blob")], wait: 0 }],
      ["flood", { after101: [], read: false }], // output stalled
      ["terminate", { after101: [] }],
      ["close", { after101: [] }], // during the close handshake
    ];
    const runs: Array<() => Promise<void>> = [];
    for (const how of ["rst", "fin", "closeframe"] as const)
      for (const [act, steps] of phases) runs.push(() => peer(port, act, steps, how));
    let next = 0;
    const worker = async () => {
      while (next < runs.length) await runs[next++]();
    };
    await Promise.all([...Array(6)].map(worker));
    const settled = () =>
      wss.clients.size === 0 &&
      pool.inUse === 0 &&
      openInflateStreams() === 0 &&
      openDeflateStreams() === 0 &&
      [...calls.values()].every((n) => n > 0);
    const deadline = Date.now() + 10_000;
    while (!settled() && Date.now() < deadline) await sleep(20);
    expect(wss.clients.size).toBe(0);
    expect(pool.inUse).toBe(0);
    expect([openInflateStreams(), openDeflateStreams()]).toEqual([0, 0]);
    expect(sends).toBeGreaterThan(0);
    expect([...calls.values()].filter((n) => n !== 1)).toEqual([]);
    await wss.close();
  });
});
