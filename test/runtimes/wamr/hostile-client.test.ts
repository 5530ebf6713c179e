// A hostile server against the C client (runtimes/wamr/src/wsk_client.c) on the wasm2c back end with ASan and
// UBSan: seeded random and mutated 101 responses (split anywhere, frames glued behind them, heads padded around
// the client's limit), frame sequences valid then mutated (huge lengths, every opcode and RSV bit, bad text and
// close frames), each against a client with random settings (buffer_size, max_message_size, max_fragment_size,
// ping_interval_sec) whose app may send while connected, judged by the reference model
// (test/runtimes/wamr/hostile-client.ts). The clients run in one driver process per target (client_driver.c),
// which must end with no heap, no slot, no leak and no sanitizer report. Beside them, in a driver process of
// their own (which must end the same way), run lifecycle cases (one per 25 connections, at least 8, eight at a
// time; hostile-client.ts): the app's close and stop against a server that sends garbage, crosses the close,
// keeps sending or stops reading; the client's pings against a server that never answers, answers late,
// wrongly or floods pongs; auto-reconnect through several hostile connections; reconnecting clients through
// server closes of each code class, resets, FINs mid-message and pong timeouts, then the app's close or stop
// (during the handshake, during its close). x86-64
// runs the most connections; i386, ARM (under qemu) and WAMR (when WAMR_ROOT is set) fewer. FUZZ_SEED and
// FUZZ_CONNECTIONS (x86-64's count) override the seed and the count; `npm run fuzz` runs many more.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostileCase } from "../../support/hostile-peer.js";
import { fuzzSettings } from "../../support/hostile-run.js";
import { ClientDriver } from "./client-driver.js";
import { CClientRun, lifecycleCount } from "./hostile-client.js";
import { buildHost, takeSanitizerReports, targets } from "./host.js";

const VECTORS = new URL("../../vectors/hostile-c-client-cases.json", import.meta.url).pathname;
const kept = (JSON.parse(readFileSync(VECTORS, "utf8")) as { cases: HostileCase[] }).cases;
const { seed, count } = fuzzSettings(3000);
/** Each target's share of the connections. */
const SHARE: Record<string, number> = {
  "x86-64 wasm2c": 1,
  "i386 wasm2c": 1 / 6,
  "arm wasm2c": 1 / 12,
  "x86-64 wamr": 1 / 6,
};

/**
 * At most this many on ARM: each client is a thread, and ASan under qemu-arm does not survive thousands of them
 * in one process (a driver hung after about 2,700 clients, every thread in futex_wait; a bare pthread
 * create/join loop under qemu-arm with ASan fails an ASan CHECK after about 13,500 threads).
 */
const ARM_MAX = 1000;

const fuzzed = targets.filter((target) => SHARE[target.name] !== undefined);
// WSK_HOST_TARGETS may leave none of them (vitest fails a file that defines no test).
if (fuzzed.length === 0) describe("hostile server against the C client", () => it.skip("no fuzzed target"));

for (const t of fuzzed) {
  const share = Math.max(1, Math.round(count * SHARE[t.name]));
  const connections = t.arch === "arm" ? Math.min(share, ARM_MAX) : share;
  const lifecycles = lifecycleCount(connections);

  describe(`hostile server against the C client [${t.name}]`, () => {
    let driver: ClientDriver;
    let run: CClientRun;
    // The lifecycle cases' own driver process (its own engine and 8 slots).
    let lifeDriver: ClientDriver;
    let lifeRun: CClientRun;

    beforeAll(async () => {
      await buildHost(t);
      driver = new ClientDriver(t);
      run = new CClientRun(driver);
      lifeDriver = new ClientDriver(t);
      lifeRun = new CClientRun(lifeDriver);
    }, 180_000);

    afterAll(async () => {
      await run?.close();
      await lifeRun?.close();
      // Exit 0: every client finished and was freed, with no host heap and no engine slot left.
      const [code, lifeCode] = await Promise.all([driver?.stop(), lifeDriver?.stop()]);
      expect(driver.stray).toEqual([]);
      expect(lifeDriver.stray).toEqual([]);
      expect(code).toBe(0);
      expect(lifeCode).toBe(0);
      expect(takeSanitizerReports()).toEqual([]);
    }, 60_000);

    it(`replays the ${kept.length} kept cases`, async () => {
      for (const [i, c] of kept.entries()) await run.run(c, `kept case ${i} (${c.note})`);
      expect(run.report()).toBe("");
      expect(takeSanitizerReports()).toEqual([]);
    });

    it(
      `answers ${connections} random connections and ${lifecycles} lifecycle cases as the model does (FUZZ_SEED=${seed})`,
      async () => {
        const started = Date.now();
        let fuzzDone = 0;
        let lifeDone = 0;
        await Promise.all([
          run.fuzz("client", seed, connections).then(() => (fuzzDone = Date.now() - started)),
          lifeRun.lifecycle(seed, lifecycles).then(() => (lifeDone = Date.now() - started)),
        ]);
        if (process.env.FUZZ_SLOW)
          console.log(
            `${run.connections} connections in ${fuzzDone} ms; ${lifeRun.connections} lifecycle cases (${lifeRun.lifecycleConnections} connections) in ${lifeDone} ms`,
          );
        run.record(VECTORS);
        lifeRun.record(VECTORS);
        expect(run.report()).toBe("");
        expect(lifeRun.report()).toBe("");
        expect(takeSanitizerReports()).toEqual([]);
        expect(driver.proc.exitCode).toBe(null);
        expect(lifeDriver.proc.exitCode).toBe(null);
      },
      Math.max(120_000, connections * 40),
    );
  });
}
