// Our Bun host as an echo server for bench/attacks.ts, with the same limits as bench/attack-server.mjs
// (maxPayload 16 MiB, heartbeat 3 s + 3 s, an error listener per connection):
//   node_modules/.bin/bun bench/attack-server-bun.ts [options JSON]
// Prints {"port": n}; exits when stdin closes.
const extra = (process.argv[2] ? JSON.parse(process.argv[2]) : {}) as {
  perMessageDeflate?: boolean;
  heartbeat?: false;
};
const { WebSocketServer } = (await import(
  "../dist/runtimes/bun/index.js" as string
)) as typeof import("../runtimes/bun/index.js");
const server = new WebSocketServer({
  port: 0,
  host: "127.0.0.1",
  maxPayload: 16 * 2 ** 20,
  heartbeat: extra.heartbeat ?? { interval: 3000, timeout: 3000 },
  perMessageDeflate: extra.perMessageDeflate ?? false,
});
server.on("connection", (ws) => {
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on("error", (error) => console.error("server error:", error));
await new Promise<void>((resolve) => server.once("listening", () => resolve()));
console.log(JSON.stringify({ port: server.address()!.port }));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
