// Reads the shared byte vectors (test/vectors/*.json); the frame vector format and runner are in
// test/vectors/frame-vectors.ts, shared with the browser page's engine self-test.
import { readFileSync } from "node:fs";

export * from "../vectors/frame-vectors.js";

/** Load a vector file from test/vectors. */
export function loadVectors<T>(name: string): T[] {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), "utf8")) as T[];
}
