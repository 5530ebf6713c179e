// The C host's sends through the engine's writer on every target of host.ts (writer_check.c): messages framed
// by the engine's message writer (no fragmenting loop of the host's own), a client's masking, and the control
// and close limits only the engine checks, as the host's error codes.
import { describe, expect, it } from "vitest";
import { buildHost, runProgram, takeSanitizerReports, targets } from "./host.js";

for (const t of targets)
  describe(`C host sends through the engine writer [${t.name}]`, () => {
    it("frames messages, control and close frames as the engine says, and refuses what it refuses", async () => {
      await buildHost(t);
      const run = await runProgram(t, "wsk_writer_check", []);
      expect(run.stdout).not.toContain("FAIL");
      expect(run.stdout.match(/^ok /gm)?.length).toBe(20);
      expect(run.stdout).toContain("PASSED");
      expect(run.status).toBe(0);
      expect(takeSanitizerReports()).toEqual([]);
    }, 180_000);
  });
