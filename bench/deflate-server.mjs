// An echo server with permessage-deflate for bench/deflate.ts, run with plain node (no transpiler in the
// measured process):  node bench/deflate-server.mjs <wasmsocket|ws> [options JSON]
// Options default to `true` (each library's defaults). Prints {"port": n}; exits when stdin closes.
const impl = process.argv[2] ?? "wasmsocket";
const perMessageDeflate = process.argv[3] ? JSON.parse(process.argv[3]) : true;
const { WebSocketServer } =
  impl === "ws" ? await import("ws") : await import("../dist/runtimes/node/index.js");

const options = { port: 0, host: "127.0.0.1", maxPayload: 1 << 20, perMessageDeflate };
if (impl !== "ws") options.heartbeat = false;
const server = new WebSocketServer(options);
server.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
server.on("listening", () => console.log(JSON.stringify({ port: server.address().port })));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
