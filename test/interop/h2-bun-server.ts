// Run by http2-browser.test.ts under Bun: our Node host on Bun's node:http2, serving a page and echoing
// WebSockets over HTTP/2. Reads the PEM files named in argv; prints `port <n>`, then one line per event.
import * as http2 from "node:http2";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "../../runtimes/node/index.js";

const [key, cert] = process.argv.slice(2, 4).map((file) => readFileSync(file, "utf8"));
const server = http2.createSecureServer({ key, cert, allowHTTP1: true }, (req, res) => {
  res.setHeader("content-type", "text/html; charset=utf-8");
  res.end(`<!doctype html><title>page over HTTP/${req.httpVersion}</title>`);
});
server.on("upgrade", () => console.log("upgrade"));
const wss = new WebSocketServer({ server, path: "/ws" });
wss.on("connection", (ws, req) => {
  console.log(`connection HTTP/${req.httpVersion}`);
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on("close", (code, reason) => console.log(`close ${code} ${reason.toString()}`));
});
server.listen(0, "127.0.0.1", () => console.log(`port ${(server.address() as AddressInfo).port}`));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
