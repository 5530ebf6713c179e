// An echo server for bench/attacks.ts, run with plain node:  node bench/attack-server.mjs <wasmsocket|ws> [options JSON]
// Both get the same limits: maxPayload 16 MiB (ws's default is 100 MiB), a heartbeat of 3 s (ours: ping
// after 3 s of silence, terminate 3 s later; ws has none built in, so it runs the ping/isAlive loop from
// ws's README every 3 s), an error listener on every connection (as any real app has). The options JSON
// may set `perMessageDeflate` (the deflate bomb). wasmsocket is loaded from dist/ (`npm run build`).
// Prints {"port": n}; exits when stdin closes.
const impl = process.argv[2] ?? "wasmsocket";
const extra = process.argv[3] ? JSON.parse(process.argv[3]) : {};
const MAX_PAYLOAD = 16 * 2 ** 20;
const HEARTBEAT = { interval: 3000, timeout: 3000 };
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));

const echo = (ws) => {
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
};

let server;
if (impl === "ws") {
  const { WebSocketServer } = await import("ws");
  server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    maxPayload: MAX_PAYLOAD,
    perMessageDeflate: extra.perMessageDeflate ?? false,
  });
  const alive = new WeakSet();
  server.on("connection", (ws) => {
    alive.add(ws);
    ws.on("pong", () => alive.add(ws));
    echo(ws);
  });
  setInterval(() => {
    for (const ws of server.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, HEARTBEAT.interval).unref();
} else {
  const { WebSocketServer } = await import("../dist/runtimes/node/index.js");
  server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    maxPayload: MAX_PAYLOAD,
    heartbeat: extra.heartbeat ?? HEARTBEAT,
    perMessageDeflate: extra.perMessageDeflate ?? false,
  });
  server.on("connection", echo);
}
server.on("error", (error) => console.error("server error:", error));
server.on("listening", () => console.log(JSON.stringify({ port: server.address().port })));
