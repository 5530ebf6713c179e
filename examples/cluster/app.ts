// The application both cluster examples run in every worker: chat rooms on pub/sub topics. A client joins
// the room in its URL (`/?room=lobby`); what it says is published to the room, so it reaches everyone in
// the room whichever worker (process, machine) they are connected to. Same code on Node and Bun.
import { createRedisAdapter, type RedisAdapter } from "../../adapters/redis.js";
import type { ServerCore } from "../../bindings/api/server-core.js";
import type { ServerConnection } from "../../bindings/api/server-connection.js";

/** Chat rooms on a WebSocketServer (Node's or Bun's: both are a ServerCore). */
export function chatRooms<Req extends { url?: string }, S, N>(
  wss: ServerCore<Req, Buffer, S, ServerConnection<Buffer, S, N>>,
  adapter: RedisAdapter,
): void {
  wss.on("connection", async (ws, req) => {
    const room = new URL(req.url ?? "/", "http://localhost").searchParams.get("room") || "lobby";
    ws.on("message", (data, isBinary) => {
      wss.publish(room, isBinary ? data : new TextDecoder().decode(data), { binary: isBinary });
    });
    ws.subscribe(room);
    // "joined" once Redis confirmed the room's channel: from then on nothing said in it is missed here.
    await adapter.settled();
    ws.send(`joined ${room} on worker ${process.pid}`);
  });
}

/** Settings from the environment: PORT (8080), WORKERS (CPUs), REDIS_URL (redis://127.0.0.1:6379). */
export function settings(cpus: number): { port: number; workers: number; redisUrl: string } {
  return {
    port: Number(process.env.PORT ?? 8080),
    workers: Number(process.env.WORKERS ?? cpus),
    redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  };
}

/**
 * One worker: its Redis adapter, the server `listen` makes with it, the chat rooms; SIGTERM closes both
 * (connections get 1001) and exits.
 */
export async function startWorker<Req extends { url?: string }, S, N>(
  redisUrl: string,
  port: number,
  listen: (adapter: RedisAdapter) => ServerCore<Req, Buffer, S, ServerConnection<Buffer, S, N>>,
): Promise<void> {
  const adapter = await createRedisAdapter({ url: redisUrl });
  adapter.on("error", (error) => console.error(`worker ${process.pid}: ${error.message}`));
  const wss = listen(adapter);
  chatRooms(wss, adapter);
  wss.on("listening", () => console.log(`worker ${process.pid} listening on ${port}`));
  process.on("SIGTERM", async () => {
    await wss.close();
    await adapter.close();
    process.exit(0);
  });
}
