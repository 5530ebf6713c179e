// The hostile client of test/runtimes/shared/hostile-server.test.ts against the C host's echo server on the
// x86-64 and i386 wasm2c builds (ASan+UBSan): seeded random frame sequences, valid then mutated, split at random
// points, judged by the reference model through the server's echoes (test/support/hostile-run.ts,
// EchoServerRun). Two servers: maxPayload 1000 with a 512-byte receive area (a request head fits, reads go in pieces), and
// maxPayload 70,000 with the default 1 KiB one; neither takes permessage-deflate, both deliver whole messages.
// FUZZ_SEED and FUZZ_CONNECTIONS override the seed and the count.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configKey, type HostConfig, type HostileCase } from "../../support/hostile-peer.js";
import { EchoServerRun, fuzzSettings } from "../../support/hostile-run.js";
import { buildHost, startServer, takeSanitizerReports, targets, type Server } from "./host.js";

const VECTORS = new URL("../../vectors/hostile-cases.json", import.meta.url).pathname;
const PATH = "/fuzz";
/** The servers: their settings as the model sees them, and their command line. */
const SETTINGS: { config: HostConfig; args: string[] }[] = [
  {
    config: { maxPayload: 1000, fragments: "message", deflate: false, pool: "small" },
    args: ["--rx-buffer", "512"],
  },
  { config: { maxPayload: 70_000, fragments: "message", deflate: false, pool: "large" }, args: [] },
];
const SERVERS = SETTINGS.map(({ config, args }) => ({
  config,
  args: ["--max-message", String(config.maxPayload), "--max-clients", "8", "--path", PATH, ...args],
}));
const configs = SERVERS.map((s) => s.config);
const keys = new Set(configs.map(configKey));
// The kept server cases whose configuration one of the C servers has (the C host's own included).
const kept = (JSON.parse(readFileSync(VECTORS, "utf8")) as { cases: HostileCase[] }).cases.filter(
  (c) => c.role === "server" && (keys.has(configKey(c.config)) || c.note.includes("C host")),
);
const { seed, count } = fuzzSettings(1000);

for (const name of ["x86-64 wasm2c", "i386 wasm2c"]) {
  const t = targets.find((target) => target.name === name);
  const connections = count;
  describe.skipIf(!t)(`hostile client against the C echo server [${name}]`, () => {
    let servers: Server[] = [];
    let run: EchoServerRun;

    beforeAll(async () => {
      await buildHost(t!);
      servers = await Promise.all(SERVERS.map((s) => startServer(t!, s.args)));
      run = new EchoServerRun(new Map(SERVERS.map((s, i) => [configKey(s.config), servers[i].port])), PATH);
    }, 180_000);

    afterAll(async () => {
      await run?.close();
      // Exit 0: the server stopped cleanly with every client released (and LeakSanitizer found nothing).
      const codes = await Promise.all(servers.map((server) => server.stop()));
      expect(codes).toEqual(servers.map(() => 0));
      expect(takeSanitizerReports()).toEqual([]);
    });

    it(`replays the ${kept.length} kept cases`, async () => {
      for (const [i, c] of kept.entries())
        await run.run(
          keys.has(configKey(c.config)) ? c : { ...c, config: configs[0] },
          `kept case ${i} (${c.note})`,
        );
      expect(run.report()).toBe("");
      expect(takeSanitizerReports()).toEqual([]);
    });

    it(`answers ${connections} random connections as the model does (FUZZ_SEED=${seed})`, async () => {
      const started = Date.now();
      await run.fuzz("server", seed, connections, 0, configs);
      console.log(
        `${run.connections} connections (${run.skipped} skipped) ` + `in ${Date.now() - started} ms`,
      );
      run.record(VECTORS);
      expect(run.report()).toBe("");
      expect(await run.checkServers()).toEqual([]);
      expect(servers.map((s) => s.proc.exitCode)).toEqual(servers.map(() => null));
      expect(takeSanitizerReports()).toEqual([]);
    }, 90_000);
  });
}
