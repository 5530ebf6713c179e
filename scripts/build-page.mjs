// Bundles the browser test page (runtimes/browser/page) into build/page/ with esbuild: index.html,
// page.js (the page, with test/vectors/frames.json inlined for the engine self-test), and
// wasmsocket.js (the package's browser entry as one ES module, for pages and tests that import it).
// Needs build/wasm.ts, so it runs after scripts/build.mjs.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build", "page");
const vectors = JSON.parse(readFileSync(join(root, "test", "vectors", "frames.json"), "utf8"));

mkdirSync(out, { recursive: true });
const common = {
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  sourcemap: "linked",
  minify: true,
  logLevel: "warning",
};
await build({
  ...common,
  entryPoints: [join(root, "runtimes", "browser", "page", "page.ts")],
  outfile: join(out, "page.js"),
  define: { __FRAME_VECTORS__: JSON.stringify(vectors) },
});
await build({
  ...common,
  entryPoints: [join(root, "runtimes", "browser", "index.ts")],
  outfile: join(out, "wasmsocket.js"),
});
copyFileSync(join(root, "runtimes", "browser", "page", "index.html"), join(out, "index.html"));
