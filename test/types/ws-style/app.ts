// Code written against ws and @types/ws, with only the module name changed: it must type-check against
// wasmsocket's published declarations (dist/, through package.json "exports"), as test/types/ws-types.test.ts
// checks. Not run; compiled only.
import type { IncomingMessage } from "node:http";
import WebSocket, { WebSocketServer, createWebSocketStream } from "wasmsocket";
import type { ClientOptions, Data, RawData, ServerOptions } from "wasmsocket";

// The server: options, connections, messages as Buffers, broadcast to the other clients.
const serverOptions: WebSocket.ServerOptions = { port: 0, maxPayload: 1024 * 1024, clientTracking: true };
const wss = new WebSocketServer(serverOptions);
wss.on("connection", function connection(ws: WebSocket.ServerConnection, req: IncomingMessage) {
  ws.on("error", console.error);
  ws.on("message", function message(data: WebSocket.RawData, isBinary: boolean) {
    wss.clients.forEach(function each(client) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
  });
  ws.on("close", (code: number, reason: Buffer) => console.log(code, reason.toString("utf8")));
  ws.on("pong", (data: Buffer) => console.log(data.byteLength));
  ws.ping();
  ws.send("something");
  console.log(req.socket.remoteAddress, ws._socket.remoteAddress);
});
wss.on("headers", (headers: string[], req: IncomingMessage) => headers.push(`X-Url: ${req.url}`));

// The client: ws's options, EventEmitter events with Buffers and the handshake's response, WHATWG handlers.
const options: WebSocket.ClientOptions = {
  perMessageDeflate: false,
  headers: { "X-Token": "t" },
  handshakeTimeout: 1000,
  followRedirects: true,
};
const ws = new WebSocket("ws://127.0.0.1:1/path", options);
ws.on("open", function open() {
  ws.send(Buffer.from("hi"), (error?: Error) => void error);
  ws.send("text", { binary: false, compress: true });
});
ws.on("message", (data: RawData, isBinary: boolean) => {
  if (!isBinary) console.log(data.toString());
});
ws.on("close", (code: number, reason: Buffer) => console.log(code, reason.toString("utf8")));
ws.on("ping", (data: Buffer) => console.log(data.length));
ws.on("upgrade", (response: IncomingMessage) => console.log(response.headers["sec-websocket-protocol"]));
ws.on("unexpected-response", (request, response: IncomingMessage) => {
  console.log(request.path, response.statusCode);
  ws.terminate();
});
ws.onmessage = (event: WebSocket.MessageEvent) => console.log(event.data);
ws.onclose = (event: WebSocket.CloseEvent) => console.log(event.code, event.reason, event.wasClean);
ws.addEventListener("error", (event: WebSocket.ErrorEvent) => console.log(event.message));
ws.binaryType = "arraybuffer";
console.log(
  ws.readyState === WebSocket.CONNECTING,
  ws.url,
  ws.protocol,
  ws.bufferedAmount,
  ws._socket?.remoteAddress,
);

// The namespace's other names, and the module's other members.
const noServer: WebSocket.Server = new WebSocket.Server({ noServer: true });
const alsoServer: WebSocket.WebSocketServer = new WebSocket.WebSocketServer({ noServer: true });
const more: ServerOptions = { noServer: true, perMessageDeflate: { threshold: 512 } };
const clientOptions: ClientOptions = { maxPayload: 1 << 20 };
const stream = createWebSocketStream(ws, { encoding: "utf8" });
function broadcast(server: WebSocket.Server, message: Data): void {
  for (const client of server.clients) if (client.readyState === WebSocket.OPEN) client.send(message);
}
broadcast(noServer, "x");
void [alsoServer, more, clientOptions, stream];

// The `WebSocket` option: connections are instances of a subclass of the client class, as @types/ws infers.
class TaggedWebSocket extends WebSocket {
  tag = "tagged";
}
const taggedServer = new WebSocketServer({ noServer: true, WebSocket: TaggedWebSocket });
taggedServer.on("connection", (ws: TaggedWebSocket) => ws.send(ws.tag));
taggedServer.clients.forEach((ws: TaggedWebSocket) => ws.close(1000, ws.tag));
