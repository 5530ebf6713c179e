// A `ws` peer for the shared host tests, always run by Node (under Bun, `import "ws"` is Bun's own).
//   node ws-peer.mjs server          echo server on 127.0.0.1:0; prints {"port"}; /close-4001 closes
//   node ws-peer.mjs client <url>    sends text, binary and a 1 MiB message, checks the echoes, closes
//                                    with 4002; prints {"ok", "code", "reason"}
// Exits when stdin closes.
import WebSocket, { WebSocketServer } from "ws";

const [mode, url] = process.argv.slice(2);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));

if (mode === "server") {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  wss.on("connection", (ws, req) => {
    if (req.url === "/close-4001") return ws.close(4001, "ws says bye");
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  wss.on("listening", () => console.log(JSON.stringify({ port: wss.address().port })));
} else {
  const ws = new WebSocket(url);
  const big = Buffer.alloc(1 << 20, 7);
  const expected = ["text:héllo", "binary:3", `binary:${big.length}`];
  const got = [];
  ws.on("open", () => {
    ws.send("héllo");
    ws.send(Buffer.from([1, 2, 3]));
    ws.send(big);
  });
  ws.on("message", (data, isBinary) => {
    got.push(isBinary ? `binary:${data.length}` : `text:${data.toString()}`);
    if (got.length === expected.length) ws.close(4002, "ws client done");
  });
  ws.on("close", (code, reason) =>
    console.log(JSON.stringify({ ok: got.join() === expected.join(), code, reason: reason.toString(), got })),
  );
  ws.on("error", (error) => console.log(JSON.stringify({ ok: false, error: error.message })));
}
