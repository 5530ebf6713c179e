// The engine back end on every target of host.ts (backend_check.c): traps from reads and writes past the end of
// linear memory fail only that call, calls work after a thousand traps, a call with too few cells is refused,
// and loading again gives zeroed memory. For wasm2c this is our own runtime (src/wsk_wasm_rt.c) at work.
import { describe, expect, it } from "vitest";
import { buildHost, runProgram, takeSanitizerReports, targets } from "./host.js";

for (const t of targets)
  describe(`engine back end [${t.name}]`, () => {
    it("traps out-of-bounds accesses per call, recovers, refuses bad calls, reloads fresh", async () => {
      await buildHost(t);
      const run = await runProgram(t, "wsk_backend_check", []);
      expect(run.stdout).toContain(`backend ${t.backend},`);
      expect(run.stdout).not.toContain("FAIL");
      expect(run.stdout.match(/^ok /gm)?.length).toBe(11);
      expect(run.stdout).toContain("PASSED");
      expect(run.status).toBe(0);
      expect(takeSanitizerReports()).toEqual([]);
    }, 180_000);
  });
