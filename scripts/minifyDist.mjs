// npm run build's step after pruneDeclarations: the package's JavaScript without its whitespace.
//
// Worked example: dist/src/ir/affine.js, 10.3 KB as tsc prints it (four-space indentation, a line
// per statement), becomes one line of 7.6 KB; its names stay (no mangling), so a stack trace still
// names atomKey and idxKey. A file with `/* @__PURE__ */` marks (generated/index.js: the bundlers'
// tree shaking of unused layers needs them) is left as it is — esbuild's minifier drops them. esbuild
// parses each file, so text inside strings and template literals is untouched. The declaration
// files stay as tsc printed them (they are what an editor shows). Why: the installed package must
// stay under 1 MB (test/package/package.test.ts) — about a quarter of it was indentation.
import { transformSync } from 'esbuild';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url).pathname;
const scriptsIn = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? scriptsIn(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));

let before = 0;
let after = 0;
for (const file of scriptsIn(dist)) {
  const text = readFileSync(file, 'utf8');
  if (text.includes('@__PURE__')) continue;
  // the CLI's #! line must stay the file's first line
  const shebang = text.startsWith('#!') ? text.slice(0, text.indexOf('\n') + 1) : '';
  const { code } = transformSync(text.slice(shebang.length), { minifyWhitespace: true, format: 'esm', charset: 'utf8', target: 'es2022', legalComments: 'none' });
  writeFileSync(file, shebang + code);
  before += text.length;
  after += shebang.length + code.length;
}
process.stderr.write(`minifyDist: ${(before / 1024).toFixed(0)} KB of JavaScript → ${(after / 1024).toFixed(0)} KB\n`);
