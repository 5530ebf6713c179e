// The demo server `npm start` runs: the browser test page (build/page/), an echo endpoint (/echo) and a
// broadcast chat (/chat), on one node:http server. PORT sets the port (default 8080).
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { WebSocketServer } from "../runtimes/node/index.js";

const pageDir = fileURLToPath(new URL("../build/page/", import.meta.url));
const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
};

/** Options of `startDemoServer`. */
export interface DemoServerOptions {
  /** TCP port; 0 picks a free one (default 8080). */
  port?: number;
  /** Interface to listen on (default all). */
  host?: string;
}

/** A running demo server. */
export interface DemoServer {
  /** http://host:port/ of the page. */
  url: string;
  port: number;
  /** Stop listening and drop every connection. */
  close(): Promise<void>;
}

async function servePage(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const file = normalize(join(pageDir, path === "/" ? "index.html" : decodeURIComponent(path)));
  if (!file.startsWith(pageDir) || (req.method !== "GET" && req.method !== "HEAD")) {
    res.writeHead(404).end("not found\n");
    return;
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
    res.end(req.method === "HEAD" ? undefined : body);
  } catch {
    const hint = path === "/" ? " (run `npm run build` to bundle the page)" : "";
    res.writeHead(404, { "content-type": "text/plain" }).end(`not found${hint}\n`);
  }
}

/** Start the page, /echo and /chat on one port. */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const server = createServer((req, res) => void servePage(req, res));
  // Two servers attached to one http server, each taking its own path (other paths get 400, as in ws).
  const echo = new WebSocketServer({ server, path: "/echo" });
  const chat = new WebSocketServer({ server, path: "/chat" });

  echo.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });

  const presence = () => chat.broadcast(JSON.stringify({ type: "presence", count: chat.clients.size }));
  chat.on("connection", (ws) => {
    presence();
    ws.on("close", presence);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      let said: { name?: unknown; text?: unknown };
      try {
        said = JSON.parse(String(data)) as typeof said;
      } catch {
        return;
      }
      const name = String(said.name ?? "anonymous").slice(0, 40);
      const text = String(said.text ?? "").slice(0, 2000);
      chat.broadcast(JSON.stringify({ type: "message", name, text, time: Date.now() }));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}/`,
    port,
    close: async () => {
      for (const wss of [echo, chat]) for (const ws of wss.clients) ws.terminate();
      await Promise.all([echo.close(), chat.close()]);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const demo = await startDemoServer({ port: Number(process.env.PORT ?? 8080) });
  const base = `localhost:${demo.port}`;
  console.log(`wasmsocket demo: page http://${base}/  echo ws://${base}/echo  chat ws://${base}/chat`);
  const stop = () => void demo.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
