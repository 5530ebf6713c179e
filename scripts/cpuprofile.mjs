// Summarise a V8 .cpuprofile (from `node --cpu-prof`): time per function, self and inclusive, divided by
// `count` (handshakes or messages the run did, default 1), idle samples left out.
//   node scripts/cpuprofile.mjs CPU.....cpuprofile [count] [top=40] [inclusive-filter regexp]
// The time is wall time on the JS thread while it was busy, system calls included: on a shared machine
// other processes' preemption inflates it, so compare proportions, or runs made side by side.
import { readFileSync } from "node:fs";

const [file, countArg, topArg, filter] = process.argv.slice(2);
if (!file) {
  console.error("usage: node scripts/cpuprofile.mjs <file.cpuprofile> [count] [top] [inclusive filter]");
  process.exit(2);
}
const count = Number(countArg ?? 1);
const top = Number(topArg ?? 40);
const profile = JSON.parse(readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
const label = (id) => {
  const frame = nodes.get(id).callFrame;
  const where = frame.url.split("/").slice(-2).join("/");
  return `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber + 1}`;
};

let busy = 0;
const self = new Map();
const inclusive = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  const dt = profile.timeDeltas[i] ?? 0;
  const leaf = label(id);
  if (leaf.startsWith("(idle)")) continue;
  busy += dt;
  self.set(leaf, (self.get(leaf) ?? 0) + dt);
  const seen = new Set();
  for (let at = id; at !== undefined; at = parents.get(at)) {
    const name = label(at);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + dt);
  }
}

const unit = count === 1 ? "µs" : "µs per unit";
console.log(`busy ${(busy / count).toFixed(1)} ${unit} (${count} units, ${profile.samples.length} samples)`);
const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [name, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${(time / count).toFixed(2).padStart(9)} ${name}`);
};
print("self", self);
const pattern = filter ? new RegExp(filter) : null;
print("inclusive", pattern ? new Map([...inclusive].filter(([name]) => pattern.test(name))) : inclusive);
