// Scale-out through a real Redis (Debian's redis-server, started here on a free loopback port): three
// server processes (two on Node, one on Bun, from dist/), clients spread across them. Each publish reaches
// every subscriber exactly once and in publish order per publisher; unsubscribe and disconnect stop
// delivery (and the process leaves the Redis channel); broadcasts cross processes; Redis restarted
// mid-run: the adapters reconnect by themselves, and what was published during the outage reached the
// publisher's own process only: nothing duplicated, nothing out of order.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisAdapter } from "../../adapters/redis.js";
import { RawClient, within } from "../support/raw-client.js";
import { freePort, Peer, redisMissing, startRedis, stopProcess } from "../support/redis.js";

const SERVER = fileURLToPath(new URL("../support/pubsub-server.mjs", import.meta.url));
const BUN = fileURLToPath(new URL("../../node_modules/.bin/bun", import.meta.url));
const PREFIX = "test:";
const missing = redisMissing();
if (missing) console.warn(`skipping the Redis scale-out tests: ${missing}`);

/** A plain ioredis client for looking at Redis's side (PUBSUB NUMSUB). */
async function connectMonitor(port: number): Promise<Redis> {
  const client = new Redis(port, "127.0.0.1", { lazyConnect: true });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** One server process on Node or Bun; resolves with its port. */
async function startServer(
  runtime: "node" | "bun",
  redisUrl: string,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(runtime === "bun" ? BUN : process.execPath, [SERVER, redisUrl, PREFIX], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const [line] = (await within(once(child.stdout!, "data"), 20_000, `${runtime} server port`)) as [Buffer];
  return { child, port: Number(String(line).trim()) };
}

describe("createRedisAdapter", () => {
  it("rejects with a clear error when no Redis answers in time", async () => {
    const port = await freePort();
    await expect(
      createRedisAdapter({ url: `redis://127.0.0.1:${port}`, connectTimeout: 300 }),
    ).rejects.toThrow(`createRedisAdapter: no Redis at redis://127.0.0.1:${port} within 300 ms`);
  });
});

describe.skipIf(missing)("Redis adapter: three server processes (Node, Node, Bun) on one Redis", () => {
  let redisPort: number;
  let redis: ChildProcess;
  let servers: Array<{ child: ChildProcess; port: number }> = [];
  let monitor: Redis;

  beforeAll(async () => {
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    const url = `redis://127.0.0.1:${redisPort}`;
    servers = await Promise.all([
      startServer("node", url),
      startServer("node", url),
      startServer("bun", url),
    ]);
    monitor = await connectMonitor(redisPort);
  });

  afterAll(async () => {
    monitor?.disconnect();
    await Promise.all(
      servers.map(async ({ child }) => {
        const exited = once(child, "exit");
        child.stdin!.end();
        await within(exited, 5000, "server exits").catch(() => child.kill("SIGKILL"));
      }),
    );
    if (redis) await stopProcess(redis);
  });

  /** Three subscribers of `topic` per process, each subscription confirmed by Redis. */
  async function subscribers(topic: string): Promise<Peer[]> {
    const peers = await Promise.all(
      servers.flatMap(({ port }) => [0, 1, 2].map(() => Peer.open(port, [topic]))),
    );
    for (const peer of peers) expect(await peer.ask("settle")).toBe("ok");
    return peers;
  }

  it("each publish reaches every subscriber on every process exactly once, in order per publisher", async () => {
    const subs = await subscribers("news");
    const other = await Peer.open(servers[1].port, ["sport"]);
    expect(await other.ask("settle")).toBe("ok");
    const publishers = [await Peer.open(servers[0].port), await Peer.open(servers[2].port)];
    const N = 200;
    for (let i = 0; i < N; i++)
      for (const [p, pub] of publishers.entries()) pub.ws.send(`pub:news:p${p}-${i}`);
    for (const sub of subs) await sub.until((got) => got.length >= 2 * N, "all publishes");
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const sub of subs) {
      expect(sub.got.length).toBe(2 * N);
      for (const p of [0, 1]) {
        const mine = sub.got.filter((m) => m.startsWith(`p${p}-`));
        expect(mine).toEqual(Array.from({ length: N }, (_, i) => `p${p}-${i}`));
      }
    }
    expect(other.got).toEqual([]);
    for (const peer of [...subs, other, ...publishers]) peer.close();
  });

  it("broadcast reaches every connection on every process once", async () => {
    const peers = await Promise.all(servers.map(({ port }) => Peer.open(port)));
    for (const peer of peers) expect(await peer.ask("settle")).toBe("ok");
    peers[1].ws.send("bcast:hello all");
    for (const peer of peers) await peer.until((got) => got.includes("hello all"), "broadcast");
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const peer of peers) expect(peer.got.filter((m) => m === "hello all")).toHaveLength(1);
    for (const peer of peers) peer.close();
  });

  it("unsubscribe and disconnect stop delivery, and a process leaves the channel with its last subscriber", async () => {
    const channel = `${PREFIX}t:room`;
    const numsub = async () => Number(((await monitor.pubsub("NUMSUB", channel)) as [string, number])[1]);
    const a = await Peer.open(servers[0].port, ["room"]);
    const b = await Peer.open(servers[1].port, ["room"]);
    const c = await Peer.open(servers[2].port, ["room"]);
    for (const peer of [a, b, c]) expect(await peer.ask("settle")).toBe("ok");
    expect(await numsub()).toBe(3);
    expect(await b.ask("unsub:room")).toBe("ok");
    expect(await numsub()).toBe(2);
    c.close();
    const deadline = Date.now() + 5000;
    while ((await numsub()) !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await numsub()).toBe(1);
    a.ws.send("pub:room:after");
    const marker = await Peer.open(servers[1].port, ["room"]);
    expect(await marker.ask("settle")).toBe("ok");
    a.ws.send("pub:room:marker");
    await marker.until((got) => got.includes("marker"), "marker");
    await a.until((got) => got.includes("marker"), "marker at a");
    expect(a.got).toEqual(["after", "marker"]);
    expect(b.got).toEqual([]);
    for (const peer of [a, b, marker]) peer.close();
  });

  it("compress: false crosses Redis: a deflate subscriber on each other process gets that publish uncompressed", async () => {
    const offer = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n";
    const raws = await Promise.all([1, 2].map((i) => RawClient.open(servers[i].port, "/?t=zip", offer)));
    const settle = await Promise.all([1, 2].map((i) => Peer.open(servers[i].port)));
    for (const peer of settle) expect(await peer.ask("settle")).toBe("ok");
    const publisher = await Peer.open(servers[0].port);
    const body = "z".repeat(3000);
    publisher.ws.send(`pubplain:zip:${body}`);
    publisher.ws.send(`pub:zip:${body}`);
    for (const raw of raws) {
      const plain = await raw.readFrame(10_000);
      expect([plain.rsv, plain.payload.toString()]).toEqual([0, body]);
      const compressed = await raw.readFrame(10_000);
      expect(compressed.rsv).toBe(4);
      expect(compressed.payload.length).toBeLessThan(100);
    }
    for (const raw of raws) raw.destroy();
    for (const peer of [...settle, publisher]) peer.close();
  });

  it("Redis restarted mid-run: adapters reconnect; outage publishes reach only the publisher's process, none twice or out of order", async () => {
    const subs = await subscribers("ticks");
    const publisher = await Peer.open(servers[0].port);
    let sent = 0;
    const publish = () => publisher.ws.send(`pub:ticks:${sent++}`);
    for (let i = 0; i < 50; i++) {
      publish();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    for (const sub of subs) await sub.until((got) => got.length >= 50, "before the outage");
    await stopProcess(redis, "SIGKILL");
    const outageStart = sent;
    for (let i = 0; i < 50; i++) {
      publish();
      await new Promise((resolve) => setTimeout(resolve, 4));
    }
    redis = await startRedis(redisPort);
    // Publish until every process gets ticks again (the adapters reconnect and resubscribe by themselves).
    const recovered = () => subs.every((sub) => Number(sub.got.at(-1)) >= outageStart + 50);
    for (let i = 0; i < 2000 && !recovered(); i++) {
      publish();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(recovered()).toBe(true);
    const last = sent - 1;
    for (const sub of subs) await sub.until((got) => Number(got.at(-1)) === last, "the last tick");
    for (const [index, sub] of subs.entries()) {
      const ticks = sub.got.map(Number);
      // Strictly increasing: never duplicated, never reordered.
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]).toBeGreaterThan(ticks[i - 1]);
      expect(ticks.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      const local = index < 3; // the first three are on the publisher's process
      if (local) expect(ticks).toEqual(Array.from({ length: sent }, (_, i) => i));
      else expect(ticks.filter((t) => t >= outageStart && t < outageStart + 50)).toEqual([]);
    }
    const stats = JSON.parse(await publisher.ask("stats"));
    expect(stats.dropped).toBeGreaterThanOrEqual(50);
    monitor.disconnect();
    monitor = await connectMonitor(redisPort);
    for (const peer of [...subs, publisher]) peer.close();
  }, 60_000);
});
