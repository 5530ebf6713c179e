// Code written against ws's types (@types/ws) type-checks against ours once the import names wasmsocket:
// test/types/ws-style/app.ts compiled by tsc against the published declarations (dist/, through
// package.json "exports", so `npm run build` first, as `npm test` does). Twice: with the DOM library and
// every declaration checked, and as a Node-only project (`lib: ES2022`, skipLibCheck as `tsc --init` sets it).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

function typeCheck(project: string): string {
  try {
    execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", project], {
      cwd: root,
      encoding: "utf8",
      stdio: "pipe",
    });
    return "";
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}

describe("@types/ws-style code against our declarations", () => {
  it.each(["test/types/ws-style/tsconfig.json", "test/types/ws-style/tsconfig.node.json"])(
    "compiles with %s",
    (project) => {
      expect(typeCheck(project)).toBe("");
    },
    60_000,
  );
});
