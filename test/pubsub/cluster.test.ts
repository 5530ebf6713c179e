// The cluster examples, run as users run them: two workers on one port (node:cluster on Node,
// SO_REUSEPORT on Bun) joined through a real Redis. Clients land on both workers; a message said in a
// room reaches everyone in it once, whichever worker they are on.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { within } from "../support/raw-client.js";
import { freePort, Peer, redisMissing, startRedis, stopProcess } from "../support/redis.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUN = fileURLToPath(new URL("../../node_modules/.bin/bun", import.meta.url));
const missing = redisMissing();

const commands = {
  node: [process.execPath, "--import", "tsx", "examples/cluster/node.ts"],
  bun: [BUN, "examples/cluster/bun.ts"],
};

describe.skipIf(missing)("cluster examples with the Redis adapter", () => {
  let redis: ChildProcess;
  let redisUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    redis = await startRedis(port);
    redisUrl = `redis://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    if (redis) await stopProcess(redis);
  });

  for (const [runtime, [command, ...args]] of Object.entries(commands)) {
    it(`${runtime}: two workers on one port share rooms`, async () => {
      const port = await freePort();
      const primary = spawn(command, args, {
        cwd: ROOT,
        env: { ...process.env, PORT: String(port), WORKERS: "2", REDIS_URL: redisUrl },
        stdio: ["ignore", "pipe", "inherit"],
      });
      try {
        const listening = new Set<string>();
        const lines = createInterface({ input: primary.stdout! });
        await within(
          new Promise<void>((resolve) =>
            lines.on("line", (line) => {
              const match = /^worker (\d+) listening/.exec(line);
              if (match) listening.add(match[1]);
              if (listening.size === 2) resolve();
            }),
          ),
          20_000,
          "two workers listening",
        );
        const peers = await Promise.all(Array.from({ length: 16 }, () => Peer.open(port, [], `/?room=r`)));
        for (const peer of peers) await peer.until((got) => got.length === 1, "welcome");
        const workers = new Set(peers.map((peer) => /on worker (\d+)/.exec(peer.got[0])![1]));
        expect(workers.size).toBe(2);
        // Both workers' Redis subscriptions are confirmed once a message from each side arrives everywhere.
        const other = await Peer.open(port, [], `/?room=elsewhere`);
        await other.until((got) => got.length === 1, "welcome");
        peers[0].ws.send("from the first");
        const far = peers.find((peer) => peer.got[0] !== peers[0].got[0])!;
        far.ws.send("from the other worker");
        for (const peer of peers) await peer.until((got) => got.length === 3, "both messages", 10_000);
        await new Promise((resolve) => setTimeout(resolve, 200));
        for (const peer of peers)
          expect(peer.got.slice(1).sort()).toEqual(["from the first", "from the other worker"]);
        expect(other.got).toHaveLength(1);
        for (const peer of [...peers, other]) peer.close();
      } finally {
        await stopProcess(primary);
      }
    });
  }
});
