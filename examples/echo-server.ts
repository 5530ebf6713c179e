// Echo server (the ESP-IDF ws_echo_server example's use case): every message goes back as it came.
// Run: npx tsx examples/echo-server.ts [port]   then connect with any WebSocket client to ws://localhost:8080/ws
import { WebSocketServer } from "../runtimes/node/index.js";

const port = Number(process.argv[2] ?? 8080);
const wss = new WebSocketServer({ port, path: "/ws", maxClients: 64 });

wss.on("listening", () => console.log(`echo server on ws://localhost:${port}/ws`));
wss.on("connection", (ws, req) => {
  console.log(`#${ws.id} connected from ${ws.remoteAddress} (${req.headers["user-agent"] ?? "?"})`);
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on("close", (code, reason) => console.log(`#${ws.id} closed ${code} ${reason.toString()}`));
});

process.on("SIGINT", async () => {
  await wss.close(); // 1001 to everyone, resolves when all sockets are gone
  process.exit(0);
});
