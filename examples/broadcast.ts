// Broadcast / chat (esp32-Simple-WebSocket-Server and nanoFramework's use case): what one client says,
// everyone else hears; a timer pushes a tick to all. Run: npx tsx examples/broadcast.ts [port]
import { WebSocketServer } from "../runtimes/node/index.js";

const port = Number(process.argv[2] ?? 8080);
const wss = new WebSocketServer({ port, maxClients: 100, maxPayload: 64 * 1024 });

wss.on("listening", () => console.log(`broadcast server on ws://localhost:${port}/`));
wss.on("connection", (ws) => {
  wss.broadcast(`#${ws.id} joined (${wss.clients.size} online)`, { except: ws });
  ws.on("message", (data, isBinary) => {
    if (isBinary) return ws.close(1003, "text only");
    wss.broadcast(`#${ws.id}: ${data.toString()}`, { except: ws });
  });
  ws.on("close", () => wss.broadcast(`#${ws.id} left (${wss.clients.size} online)`));
});

// A server-side push to every client, skipping slow readers (backpressure as a number you can read).
const tick = setInterval(
  () => wss.broadcast(new Date().toISOString(), { filter: (ws) => ws.bufferedAmount < 64 * 1024 }),
  5000,
);

process.on("SIGINT", async () => {
  clearInterval(tick);
  await wss.close();
  process.exit(0);
});
