// An echo server for bench/echo.ts: `tsx bench/echo-server.ts <wasmsocket|ws>` (ws pure JS when
// WS_NO_BUFFER_UTIL=1). Prints {"port": n} once listening; exits when stdin closes.
const impl = process.argv[2] ?? "wasmsocket";

interface EchoSocket {
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): void;
  send(data: Buffer, options: { binary: boolean }): void;
}
interface EchoServer {
  on(event: "connection", listener: (ws: EchoSocket) => void): void;
  on(event: "listening", listener: () => void): void;
  address(): { port: number } | string | null;
}
type ServerClass = new (options: { port: number; host: string; maxPayload: number }) => EchoServer;

const module = (impl === "ws"
  ? await import("ws")
  : await import("../runtimes/node/index.js")) as unknown as {
  WebSocketServer: ServerClass;
};
const options: Record<string, unknown> = { port: 0, host: "127.0.0.1", maxPayload: 1 << 20 };
if (impl !== "ws") options.heartbeat = false;
const server = new module.WebSocketServer(options as { port: number; host: string; maxPayload: number });
server.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
server.on("listening", () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 }));
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
