// The CommonJS builds, for `require("wasmsocket")`: each host's ESM entry (dist/, from tsc) bundled by esbuild
// into one file whose module.exports is the client class carrying every named export, as ws's is.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

for (const host of ["node", "bun"]) {
  await build({
    entryPoints: [join(root, "dist", "runtimes", host, "index.js")],
    outfile: join(root, "dist", "cjs", `${host}.cjs`),
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    external: ["bun"],
    logLevel: "warning",
    // module.exports = the default export (the WebSocket class), with the named exports on it.
    footer: {
      js:
        "module.exports = Object.assign(module.exports.default, " +
        "Object.fromEntries(Object.entries(module.exports).filter(([k]) => k !== 'default' && !(k in module.exports.default))));",
    },
  });
}
