// npm run build's last step: remove the declaration files no public entry point reaches.
//
// Worked example: dist/src/index.d.ts imports ./codegen/compile.js, whose declarations import
// ./emitTs.js and ../opt/chooseTarget.js (for WasmMode): those three are kept. dist/src/lower/*.d.ts
// describe internal passes no exported type mentions: deleted. A consumer's `tsc` (skipLibCheck
// false) sees the same types, and the installed package is ~85 KB smaller (the package test checks
// both).
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const dist = new URL('../dist/', import.meta.url).pathname;
const declarationsIn = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? declarationsIn(join(dir, e.name)) : e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []));

// the package's entry points (package.json exports and bin): the core, every generated layer, the CLI
const entries = [join(dist, 'src/index.d.ts'), ...declarationsIn(join(dist, 'generated')), ...declarationsIn(join(dist, 'src/bin'))];
const reached = new Set();
const queue = [...entries];
while (queue.length) {
  const file = queue.pop();
  if (reached.has(file) || !existsSync(file)) continue;
  reached.add(file);
  // static imports, re-exports and import('…') types, all relative in our own declarations
  for (const m of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    queue.push(join(dirname(file), m[1].replace(/\.js$/, '.d.ts')));
  }
}
let removed = 0;
for (const file of declarationsIn(dist)) {
  if (reached.has(file)) continue;
  rmSync(file);
  removed++;
}
process.stderr.write(`declarations: ${reached.size} kept, ${removed} (no entry point reaches them) removed\n`);
