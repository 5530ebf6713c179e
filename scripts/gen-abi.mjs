// Generates the engine's ABI for the hosts from its one definition in assembly/ (DESIGN.md "One ABI, written
// once"): bindings/engine/abi.ts for the TypeScript bindings and runtimes/wamr/src/wsk_abi.h for the C host. It reads
// the engine's own sources with the TypeScript parser (AssemblyScript is TypeScript syntax), so the numbers the
// engine compiles are the numbers the hosts get:
//   - every `export namespace` of the ABI files whose members are `@inline export const Name: type = value`,
//   - every top-level `export const NAME: type = value` there whose value is a constant expression,
//   - the build constants (`isDefined(BUILD_X) ? BUILD_X : default`) per asconfig.json target,
//   - the error table: each error constant's doc is its message, tags give `@closeCode`, `@status`,
//     `@argument`, and ws's words for the rule, `@wsCode`, `@wsMessage`, `@wsStatus` (assembly/errors.ts),
//   - the exported functions of assembly/index.ts (what `export ... from` re-exports included).
// Usage: node scripts/gen-abi.mjs          write both files
//        node scripts/gen-abi.mjs --check  exit 1 if either file differs from a fresh generation
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The files whose exported constants form the ABI, in the order the generated files list them. */
const ABI_FILES = [
  "layout.ts",
  "connection.ts",
  "events.ts",
  "opcode.ts",
  "writer.ts",
  "close.ts",
  "http.ts",
  "utf8.ts",
  "errors.ts",
];
/** The error namespaces and the table each belongs to. */
const ERROR_TABLES = { ReadError: "read", HostError: "read", CallError: "call", HandshakeError: "handshake" };
const TS_OUT = "bindings/engine/abi.ts";
const C_OUT = "runtimes/wamr/src/wsk_abi.h";
const REGENERATE = "npm run build (or node scripts/gen-abi.mjs)";

/** Parse one engine source. */
function parse(file) {
  const path = join(root, "assembly", file);
  const text = readFileSync(path, "utf8");
  return ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

/** The last `/** ... *\/` comment before `node`: its text and its `@tags`. */
function docOf(node, text) {
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  const jsdoc = ranges.filter((r) => text.startsWith("/**", r.pos)).pop();
  if (!jsdoc) return { text: "", tags: {} };
  const body = text
    .slice(jsdoc.pos + 3, jsdoc.end - 2)
    .split("\n")
    .map((line) => line.replace(/^\s*\*?\s?/, "").trim())
    .join(" ")
    .trim();
  const [main, ...tagParts] = body.split(/\s(?=@\w)|^(?=@\w)/);
  const tags = {};
  for (const part of tagParts) {
    const m = /^@(\w+)\s*(.*)$/.exec(part.trim());
    if (m) tags[m[1]] = m[2] === "" ? true : m[2];
  }
  return { text: main.startsWith("@") ? "" : main.trim(), tags };
}

/** Evaluate a constant expression of literals and known constants; undefined when it is not one. */
function evaluate(expr, known) {
  if (ts.isNumericLiteral(expr)) return Number(expr.text);
  if (ts.isParenthesizedExpression(expr)) return evaluate(expr.expression, known);
  if (ts.isTypeAssertionExpression(expr) || ts.isAsExpression(expr)) return evaluate(expr.expression, known);
  if (ts.isIdentifier(expr)) return known.get(expr.text);
  if (ts.isPrefixUnaryExpression(expr) && expr.operator === ts.SyntaxKind.MinusToken) {
    const v = evaluate(expr.operand, known);
    return v === undefined ? undefined : -v;
  }
  if (ts.isBinaryExpression(expr)) {
    const a = evaluate(expr.left, known);
    const b = evaluate(expr.right, known);
    if (a === undefined || b === undefined) return undefined;
    switch (expr.operatorToken.kind) {
      case ts.SyntaxKind.PlusToken:
        return a + b;
      case ts.SyntaxKind.MinusToken:
        return a - b;
      case ts.SyntaxKind.AsteriskToken:
        return a * b;
      case ts.SyntaxKind.LessThanLessThanToken:
        return a << b;
      case ts.SyntaxKind.BarToken:
        return a | b;
    }
  }
  return undefined;
}

/** `isDefined(BUILD_X) ? BUILD_X : default`: the build constant's name and default, else null. */
function buildConstantOf(expr) {
  if (!ts.isConditionalExpression(expr) || !ts.isCallExpression(expr.condition)) return null;
  const call = expr.condition;
  if (call.expression.getText() !== "isDefined" || !ts.isIdentifier(call.arguments[0])) return null;
  return { define: call.arguments[0].text, fallback: evaluate(expr.whenFalse, new Map()) };
}

/** What one file contributes: constants, build constants, namespaces. */
function readFile(file, known, abi) {
  const source = parse(file);
  const text = source.getFullText();
  for (const statement of source.statements) {
    const exported = statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) continue;
    if (ts.isVariableStatement(statement) && statement.declarationList.flags & ts.NodeFlags.Const) {
      const decl = statement.declarationList.declarations[0];
      const name = decl.name.getText();
      const doc = docOf(statement, text).text;
      const build = buildConstantOf(decl.initializer);
      if (build) {
        abi.builds.push({ name, doc, ...build });
        continue;
      }
      const value = evaluate(decl.initializer, known);
      if (value === undefined) continue;
      known.set(name, value);
      abi.constants.push({ name, doc, value, file });
    } else if (ts.isModuleDeclaration(statement) && statement.body && ts.isModuleBlock(statement.body)) {
      const members = [];
      for (const inner of statement.body.statements) {
        if (!ts.isVariableStatement(inner)) continue;
        const decl = inner.declarationList.declarations[0];
        const value = evaluate(decl.initializer, known);
        if (value === undefined)
          throw new Error(`${file}: ${statement.name.text}.${decl.name.getText()} is not a constant`);
        members.push({ name: decl.name.getText(), value, ...docOf(inner, text) });
      }
      abi.namespaces.push({ name: statement.name.text, doc: docOf(statement, text).text, members, file });
    }
  }
}

/** The engine's exported functions, in the order assembly/index.ts exports them. */
function readExports() {
  const functions = new Map();
  const fileFunctions = (file) => {
    const source = parse(file);
    const text = source.getFullText();
    const list = [];
    for (const statement of source.statements) {
      if (!ts.isFunctionDeclaration(statement)) continue;
      if (!statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
      list.push({
        name: statement.name.text,
        params: statement.parameters.map((p) => p.name.getText()),
        // 32-bit argument cells a C host passes (WAMR's wasm_runtime_call_wasm): an f64 or i64 takes two.
        cells: statement.parameters.reduce(
          (n, p) => n + (/^(f64|i64|u64)$/.test(p.type?.getText() ?? "") ? 2 : 1),
          0,
        ),
        returns: statement.type?.getText() === "void" ? "void" : "number",
        doc: docOf(statement, text).text,
      });
    }
    return list;
  };
  const index = parse("index.ts");
  for (const statement of index.statements) {
    if (ts.isFunctionDeclaration(statement)) continue;
    if (!ts.isExportDeclaration(statement)) continue;
    const from = statement.moduleSpecifier ? `${statement.moduleSpecifier.text.replace("./", "")}.ts` : null;
    if (!from) continue;
    const list = fileFunctions(from);
    if (!statement.exportClause) for (const f of list) functions.set(f.name, f);
    else
      for (const el of statement.exportClause.elements)
        functions.set(
          el.name.text,
          list.find((f) => f.name === el.name.text),
        );
  }
  // Names re-exported without `from` (`export { entropyFilled }`) come from their import.
  for (const statement of index.statements) {
    if (!ts.isExportDeclaration(statement) || statement.moduleSpecifier) continue;
    for (const el of statement.exportClause.elements) {
      const imp = index.statements.find(
        (s) =>
          ts.isImportDeclaration(s) &&
          s.importClause?.namedBindings?.elements?.some((e) => e.name.text === el.name.text),
      );
      const file = `${imp.moduleSpecifier.text.replace("./", "")}.ts`;
      functions.set(
        el.name.text,
        fileFunctions(file).find((f) => f.name === el.name.text),
      );
    }
  }
  const own = fileFunctions("index.ts").filter((f) => f.name !== "heapBase");
  const all = [...own, ...functions.values()];
  for (const f of all) if (!f) throw new Error("an index.ts export could not be resolved");
  return all;
}

/** Every ABI number, read from assembly/ and asconfig.json. */
export function readAbi() {
  const abi = { constants: [], builds: [], namespaces: [], exports: readExports(), targets: {} };
  const known = new Map();
  for (const file of ABI_FILES) readFile(file, known, abi);
  const config = JSON.parse(readFileSync(join(root, "asconfig.json"), "utf8"));
  for (const [target, options] of Object.entries(config.targets)) {
    if (target === "debug") continue;
    const uses = new Map(
      (options.use ?? [])
        .map((u) => u.split("="))
        .filter(([, v]) => v !== "" && v !== undefined)
        .map(([k, v]) => [k, Number(v)]),
    );
    abi.targets[target] = Object.fromEntries(
      abi.builds.map((b) => [b.name, uses.get(b.define) ?? b.fallback]),
    );
  }
  return abi;
}

/** The error table rows of one table kind. */
function errorRows(abi, table) {
  return abi.namespaces
    .filter((ns) => ERROR_TABLES[ns.name] === table)
    .flatMap((ns) => ns.members)
    .map((m) => ({
      id: m.value,
      name: m.name,
      message: m.text.replace(/\.$/, ""),
      closeCode: m.tags.closeCode === undefined ? undefined : Number(m.tags.closeCode),
      status: m.tags.status === undefined ? 0 : Number(m.tags.status),
      argument: m.tags.argument === true,
      wsCode: typeof m.tags.wsCode === "string" ? m.tags.wsCode : "",
      wsMessage: typeof m.tags.wsMessage === "string" ? m.tags.wsMessage : "",
      wsStatus: m.tags.wsStatus === undefined ? undefined : Number(m.tags.wsStatus),
    }));
}

const jsdoc = (doc, indent = "") => (doc ? `${indent}/** ${doc} */\n` : "");
const key = (id) => (id < 0 ? `[${id}]` : String(id));

function renderTs(abi) {
  let out =
    "// Generated by scripts/gen-abi.mjs from the engine's sources (assembly/) and asconfig.json: the engine's ABI.\n" +
    `// Do not edit: change assembly/ and regenerate with ${REGENERATE}; test/assembly/abi.test.ts fails when stale.\n\n`;
  out += "/** The engine's numbers-only exports (assembly/index.ts). */\nexport interface EngineExports {\n";
  out += "  memory: WebAssembly.Memory;\n";
  for (const f of abi.exports)
    out +=
      jsdoc(f.doc, "  ") + `  ${f.name}(${f.params.map((p) => `${p}: number`).join(", ")}): ${f.returns};\n`;
  out += "}\n\n";
  out += "/** The engine's export names, in assembly/index.ts order. */\n";
  out += `export const EXPORTS = [${abi.exports.map((f) => JSON.stringify(f.name)).join(", ")}] as const;\n\n`;
  for (const c of abi.constants)
    out += jsdoc(`${c.doc} (assembly/${c.file})`) + `export const ${c.name} = ${c.value};\n`;
  out += "\n/** Build constants per engine build (asconfig.json `--use BUILD_...`; assembly/layout.ts). */\n";
  out += "export const BUILD = {\n";
  for (const [target, values] of Object.entries(abi.targets)) {
    out += `  ${target}: {\n`;
    for (const b of abi.builds) out += jsdoc(b.doc, "    ") + `    ${b.name}: ${values[b.name]},\n`;
    out += "  },\n";
  }
  out += "} as const;\n";
  out += "\n/** What each build constant is when a build does not set it (no `--use BUILD_...`). */\n";
  out += "export const BUILD_DEFAULTS = {\n";
  for (const b of abi.builds) out += `  ${b.name}: ${b.fallback},\n`;
  out += "} as const;\n";
  for (const ns of abi.namespaces) {
    out += "\n" + jsdoc(`${ns.doc || ns.name} (assembly/${ns.file} ${ns.name})`);
    out += `export const ${ns.name} = {\n`;
    for (const m of ns.members) out += jsdoc(m.text, "  ") + `  ${m.name}: ${m.value},\n`;
    out += "} as const;\n";
  }
  out +=
    "\n/** One row of the read error table: a rule the peer broke and the close code it is failed with. */\n";
  out += "export interface ReadErrorRow {\n  name: string;\n  closeCode: number;\n  message: string;\n";
  out += "  /** ws's `err.code` for the rule. */\n  wsCode: string;\n";
  out += "  /** ws's message for the rule; `{value}` stands for the number the Error event reports. */\n";
  out += "  wsMessage: string;\n}\n";
  out += "\n/** ReadError and HostError ids → name, close code, message, ws's code and message. */\n";
  out += "export const readErrors: Readonly<Record<number, ReadErrorRow>> = {\n";
  for (const r of errorRows(abi, "read"))
    out +=
      `  ${key(r.id)}: { name: ${JSON.stringify(r.name)}, closeCode: ${r.closeCode}, message: ${JSON.stringify(r.message)},` +
      ` wsCode: ${JSON.stringify(r.wsCode)}, wsMessage: ${JSON.stringify(r.wsMessage)} },\n`;
  out += "};\n";
  out +=
    "\n/** One row of the call error table; `argument` when the caller passed a bad argument (a TypeError). */\n";
  out += "export interface CallErrorRow {\n  name: string;\n  message: string;\n  argument: boolean;\n}\n";
  out += "\n/** CallError values (negative) → name, message, argument. */\n";
  out += "export const callErrors: Readonly<Record<number, CallErrorRow>> = {\n";
  for (const r of errorRows(abi, "call"))
    out += `  ${key(r.id)}: { name: ${JSON.stringify(r.name)}, message: ${JSON.stringify(r.message)}, argument: ${r.argument} },\n`;
  out += "};\n";
  out +=
    "\n/** A handshake rule: its name, the status a server refuses with (0: responses only), a message. */\n";
  out += "export interface HandshakeRule {\n  name: string;\n  status: number;\n  message: string;\n";
  out +=
    "  /** ws's words for the rule (\"\" where ws does not check it); `{value}`: the response's status. */\n";
  out +=
    "  wsMessage: string;\n  /** The status ws refuses a request with for the rule. */\n  wsStatus: number;\n}\n";
  out += "\n/** HandshakeError ids → rule. */\n";
  out += "export const handshakeErrors: Readonly<Record<number, HandshakeRule>> = {\n";
  for (const r of errorRows(abi, "handshake"))
    out +=
      `  ${key(r.id)}: { name: ${JSON.stringify(r.name)}, status: ${r.status}, message: ${JSON.stringify(r.message)},` +
      ` wsMessage: ${JSON.stringify(r.wsMessage)}, wsStatus: ${r.wsStatus ?? r.status} },\n`;
  out += "};\n";
  return out;
}

/** `EventCapacity` → `EVENT_CAPACITY`. */
const upper = (name) =>
  name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toUpperCase();
const cString = (s) => JSON.stringify(s);
const cValue = (v) => (v < 0 ? `(${v})` : v > 0x7fffffff ? `${v}u` : String(v));

function renderC(abi) {
  let out =
    "/* Generated by scripts/gen-abi.mjs from the engine's sources (assembly/) and asconfig.json: the engine's\n" +
    ` * ABI. Do not edit: change assembly/ and regenerate with ${REGENERATE}; test/assembly/abi.test.ts fails\n` +
    " * when stale. */\n#ifndef WSK_ABI_H\n#define WSK_ABI_H\n\n";
  out +=
    "/* The engine's exports, by number (assembly/index.ts order); WSK_EXPORT_NAMES lists their names. */\n";
  out += "enum wsk_export {\n";
  for (const f of abi.exports)
    out += `    WSK_EXPORT_${upper(f.name)}, /* ${f.name}(${f.params.join(", ")}) */\n`;
  out += "    WSK_EXPORT_COUNT\n};\n";
  out += `#define WSK_EXPORT_NAMES { ${abi.exports.map((f) => cString(f.name)).join(", ")} }\n`;
  out += `#define WSK_EXPORT_ARGC { ${abi.exports.map((f) => f.params.length).join(", ")} }\n`;
  out +=
    "/* 32-bit argument cells of each export, as WAMR's wasm_runtime_call_wasm takes them (an f64 or i64: two). */\n";
  out += `#define WSK_EXPORT_CELLS { ${abi.exports.map((f) => f.cells).join(", ")} }\n\n`;
  for (const c of abi.constants) out += `/* ${c.doc} */\n#define WSK_${c.name} ${cValue(c.value)}\n`;
  out += "\n/* Build constants per engine build (asconfig.json). */\n";
  for (const [target, values] of Object.entries(abi.targets))
    for (const b of abi.builds)
      out += `#define WSK_${target.toUpperCase()}_${b.name} ${cValue(values[b.name])}\n`;
  out += "/* What each build constant is when a build does not set it. */\n";
  for (const b of abi.builds) out += `#define WSK_DEFAULT_${b.name} ${cValue(b.fallback)}\n`;
  for (const ns of abi.namespaces) {
    const prefix = `WSK_${upper(ns.name)}_`;
    out += `\n/* ${ns.doc || ns.name} (assembly/${ns.file} ${ns.name}) */\n`;
    for (const m of ns.members) out += `#define ${prefix}${upper(m.name)} ${cValue(m.value)}\n`;
  }
  out +=
    "\n/* The error tables as X-macros: X(id, NAME, closeCode, message) for read (and host) errors, */\n";
  out += "/* X(id, NAME, message) for call errors, X(id, NAME, status, message) for handshake errors. */\n";
  out += "#define WSK_READ_ERRORS(X) \\\n";
  out += errorRows(abi, "read")
    .map((r) => `    X(${r.id}, ${upper(r.name)}, ${r.closeCode}, ${cString(r.message)})`)
    .join(" \\\n");
  out += "\n#define WSK_CALL_ERRORS(X) \\\n";
  out += errorRows(abi, "call")
    .map((r) => `    X(${r.id}, ${upper(r.name)}, ${cString(r.message)})`)
    .join(" \\\n");
  out += "\n#define WSK_HANDSHAKE_ERRORS(X) \\\n";
  out += errorRows(abi, "handshake")
    .map((r) => `    X(${r.id}, ${upper(r.name)}, ${r.status}, ${cString(r.message)})`)
    .join(" \\\n");
  out += "\n\n#endif /* WSK_ABI_H */\n";
  return out;
}

/** The generated files' contents by path. */
export async function generate() {
  const abi = readAbi();
  const prettier = await import("prettier");
  const options = (await prettier.resolveConfig(join(root, TS_OUT))) ?? {};
  const tsText = await prettier.format(renderTs(abi), { ...options, parser: "typescript" });
  return { [TS_OUT]: tsText, [C_OUT]: renderC(abi) };
}

/** Write the generated files (or, with `check`, only report the stale ones); true when all were fresh. */
export async function writeAbi(check = false) {
  const files = await generate();
  let stale = false;
  for (const [path, text] of Object.entries(files)) {
    const full = join(root, path);
    let old = "";
    try {
      old = readFileSync(full, "utf8");
    } catch {}
    if (old === text) continue;
    if (check) {
      console.error(`${path} is stale: run ${REGENERATE}`);
      stale = true;
    } else writeFileSync(full, text);
  }
  return !stale;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!(await writeAbi(process.argv.includes("--check")))) process.exit(1);
}
