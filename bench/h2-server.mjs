// The server of bench/h2.ts, run with plain node (no transpiler in the measured process): one node:http2 TLS
// server with allowHTTP1 and our WebSocketServer attached, echoing every message, so WebSockets arrive over
// HTTP/2 streams (RFC 8441) and over HTTP/1.1 upgrades on the same port.
//   node bench/h2-server.mjs <key.pem> <cert.pem>     prints {"port": n}; exits when stdin closes.
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import { WebSocketServer } from "../dist/runtimes/node/index.js";

const [key, cert] = process.argv.slice(2, 4).map((file) => readFileSync(file, "utf8"));
// H2_WINDOW (bytes): a stream's and the session's receive window, as Chromium sizes its own (6 MiB a stream,
// 15 MiB the connection); node:http2's default is 64 KiB for both.
const window = Number(process.env.H2_WINDOW ?? 0);
const settings = window ? { initialWindowSize: window } : {};
const server = http2.createSecureServer({ key, cert, allowHTTP1: true, settings });
if (window) server.on("session", (session) => session.setLocalWindowSize(window * 2.5));
const wss = new WebSocketServer({ server, maxPayload: 1 << 20, heartbeat: false });
wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: server.address().port })));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
