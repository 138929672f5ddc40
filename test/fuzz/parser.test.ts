// Fuzzing the parser, the checker and the whole `derive` command in process: random and mutated
// program text — truncations, stray characters, unicode, huge numbers, deep nesting, very long sums.
// Every call must return (never throw), never report an internal error (exit 70) or a stack trace,
// finish within CPU_LIMIT_MS of CPU time, and either succeed (exit 0) or exit 1 with `<program>:line:col`, the
// source line and a caret under that column.
//
// Seeded and reproducible: on a failure fast-check prints the seed, the path and the shrunk input;
// replay with DELTAGRAD_FUZZ_SEED=<seed> DELTAGRAD_FUZZ_PATH=<path>. `npm run test:deep` runs more
// (DELTAGRAD_FUZZ_RUNS).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { generateProgram } from '../property/generate.js';

const RUNS = Number(process.env.DELTAGRAD_FUZZ_RUNS ?? 250);
const SEED = Number(process.env.DELTAGRAD_FUZZ_SEED ?? 7_2026);
const PATH = process.env.DELTAGRAD_FUZZ_PATH;
/** CPU time of one call (wall time depends on what else the machine runs), and a wall-time backstop. */
const CPU_LIMIT_MS = 2000;
const WALL_LIMIT_MS = 10_000;

interface Outcome {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  readonly cpuMs: number;
  readonly wallMs: number;
}

async function derive(source: string, extra: readonly string[] = []): Promise<Outcome> {
  let out = '';
  let err = '';
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const code = await main(['-e', source, ...extra], { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') });
  const used = process.cpuUsage(cpu);
  return { code, out, err, cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - wall };
}

/** The contract of every outcome (see the file comment); throws a readable failure. */
function expectClean(source: string, r: Outcome): void {
  const shown = JSON.stringify(source.length > 300 ? `${source.slice(0, 300)}…` : source);
  expect(r.code, `exit code for ${shown}\n${r.err}`).toBeOneOf([0, 1]);
  expect(`${r.out}${r.err}`, `a stack trace for ${shown}`).not.toMatch(/^\s+at .*:\d+(:\d+)?\)?$/m);
  expect(r.cpuMs, `CPU time for ${shown}`).toBeLessThan(CPU_LIMIT_MS);
  expect(r.wallMs, `wall time for ${shown}`).toBeLessThan(WALL_LIMIT_MS);
  if (r.code === 0) return;
  const lines = r.err.split('\n');
  const head = /^<program>:(\d+):(\d+): error: \S/.exec(lines[0]!);
  expect(head, `a located error for ${shown}\n${r.err}`).not.toBeNull();
  const line = Number(head![1]);
  const col = Number(head![2]);
  const text = source.replace(/^\uFEFF/, '').split(/\r?\n/)[line - 1];
  expect(text, `line ${line} exists in ${shown}`).toBeDefined();
  expect(col, `column ${col} within line ${line} of ${shown}`).toBeLessThanOrEqual([...text!].length + 1);
  // nothing a terminal would act on reaches it: control characters of the source are shown escaped
  expect(r.err, `a raw control character on stderr for ${shown}`).not.toMatch(TERMINAL_CONTROLS);
  // the echoed line: the source line as shown (escapes, tabs kept), whole or as a window cut with `…`
  const cells = [...text!].map(shownInExcerpt);
  const full = cells.join('');
  const gutter = `  ${line} | `;
  expect(lines[1]?.startsWith(gutter), `the echoed source line for ${shown}\n${r.err}`).toBe(true);
  const echoed = lines[1]!.slice(gutter.length);
  const caret = new RegExp(`^  ${' '.repeat(String(line).length)} \\| ([ \\t]*)\\^+$`).exec(lines[2] ?? '');
  expect(caret, `a caret line for ${shown}\n${r.err}`).not.toBeNull();
  const pad = [...caret![1]!];
  if (echoed === full) {
    // the caret sits under column `col`: one space per column of what precedes it (a tab as a tab)
    expect(caret![1], `caret column for ${shown}\n${r.err}`).toBe(cells.slice(0, col - 1).map((c) => (c === '\t' ? c : ' '.repeat([...c].length))).join(''));
    return;
  }
  // a long line is cut around the caret: what the window shows left of the caret ends the line's
  // text before column `col`, and what it shows from the caret on starts the text from `col`
  expect([...full].length, `only a long line is cut, for ${shown}\n${r.err}`).toBeGreaterThan(100);
  const cut = echoed.startsWith('…') ? 1 : 0;
  const shownChars = [...echoed];
  const left = shownChars.slice(cut, pad.length).join('');
  const right = shownChars.slice(pad.length).join('').replace(/…$/u, '');
  const before = cells.slice(0, col - 1).join('');
  expect(before.endsWith(left), `the window left of the caret for ${shown}\n${r.err}`).toBe(true);
  expect(cells.slice(col - 1).join('').startsWith(right), `the window from the caret for ${shown}\n${r.err}`).toBe(true);
  expect(pad.slice(cut).join(''), `tabs in the caret's padding for ${shown}\n${r.err}`).toBe([...left].map((c) => (c === '\t' ? c : ' ')).join(''));
}

/** Control characters (but tab and newline), DEL, C1 controls, bidirectional overrides and isolates. */
const TERMINAL_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/** How the excerpt shows one code point: `\x1b`, `\r`, `\u202e`, a lone surrogate `\ud800`, or itself. */
function shownInExcerpt(ch: string): string {
  const c = ch.codePointAt(0)!;
  const escaped = (c < 0x20 && ch !== '\t') || (c >= 0x7f && c <= 0x9f) || [0x61c, 0x200e, 0x200f, 0x2028, 0x2029, 0xfeff].includes(c) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || (c >= 0xd800 && c <= 0xdfff);
  if (!escaped) return ch;
  return ch === '\r' ? '\\r' : c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

// ---- inputs ------------------------------------------------------------------------------------

const layersDir = fileURLToPath(new URL('../../examples/layers/', import.meta.url));
const LAYERS = readdirSync(layersDir)
  .filter((f) => f.endsWith('.dg'))
  .sort()
  .map((f) => readFileSync(`${layersDir}${f}`, 'utf8'));

const HUGE = ['1e999', '99999999999999999999', '1e-999', '1e308', '4.9e-324', '1e', '1e+', '00', '007', '.5', '1.', '9'.repeat(400), '0.' + '0'.repeat(400) + '1'];
const STRAY = [
  ...'$@#()[]{},:;=^%/*-+.\\"\'`~!?&|<>_',
  '==', '!=', '<=', '>=', '..', '->', '=>', '**', '//', '\t', '\n', '\r', '\r\n', '\n\n', ' ',
  '\u0000', '\uFEFF', '\u200B', '\u00A0', '\u0301', 'é', 'Σ', '∑', 'Σ_', 'Σ_{', 'Σ(', 'λ', 'ß', 'ﬁ', '中', '𝑥', '😀', '\uD800',
];
const WORDS = ['dims', 'def', 'sum', 'max', 'min', 'mean', 'logsumexp', 'argmax', 'argmin', 'relu', 'where', 'pow', 'elu', 'X', 'Y', 'W', 'i', 'j', 'N', 'H', 'x'];
const VOCABULARY = [...WORDS, ...STRAY, ...HUGE.slice(0, 6), '0', '1', '2', 'X[i]', 'Y[i,j]', 'sum(i)', 'max(i:2)', 'argmax(i:2 @ u)', ' = ', ': [', ']', '(', ')', ', '];

const insertion = fc.oneof(
  fc.constantFrom(...STRAY),
  fc.constantFrom(...HUGE),
  fc.constantFrom(...WORDS),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.nat({ max: 300 }).map((n) => '('.repeat(n)),
);

type Mutation = (s: string) => string;
const at = (s: string, k: number) => Math.min(s.length, k % (s.length + 1));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map((k): Mutation => (s) => s.slice(0, at(s, k))), // truncate
  fc.tuple(fc.nat(), insertion).map(([k, x]): Mutation => (s) => s.slice(0, at(s, k)) + x + s.slice(at(s, k))), // insert
  fc.tuple(fc.nat(), fc.nat({ max: 12 })).map(([k, n]): Mutation => (s) => s.slice(0, at(s, k)) + s.slice(at(s, k) + n)), // delete
  fc.tuple(fc.nat(), fc.nat({ max: 40 })).map(([k, n]): Mutation => (s) => s.slice(0, at(s, k) + n) + s.slice(at(s, k))), // duplicate
  fc.tuple(fc.nat(), fc.constantFrom(...HUGE)).map(([k, h]): Mutation => (s) => { // a number made huge
    const nums = [...s.matchAll(/\d+(\.\d+)?/g)];
    const m = nums[k % Math.max(1, nums.length)];
    return m ? s.slice(0, m.index) + h + s.slice(m.index! + m[0].length) : s;
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Mutation => (s) => { // two lines swapped
    const ls = s.split('\n');
    const i = a % ls.length;
    const j = b % ls.length;
    [ls[i], ls[j]] = [ls[j]!, ls[i]!];
    return ls.join('\n');
  }),
);

const generated = fc
  .tuple(fc.array(fc.nat({ max: 9999 }), { maxLength: 300, size: 'max' }), fc.integer({ min: 1, max: 1000 }))
  .map(([choices, seed]) => generateProgram(choices, seed).source);
const base = fc.oneof(fc.constantFrom(...LAYERS), generated);
const mutated = fc.tuple(base, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([s, ms]) => ms.reduce((acc, m) => m(acc), s));
const soup = fc.array(fc.constantFrom(...VOCABULARY), { maxLength: 40 }).map((ts) => ts.join(''));
const noise = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 80 }));
const options = fc.constantFrom<readonly string[]>([], ['--format', 'json'], ['--format', 'index'], ['--format', 'matrix'], ['--format', 'latex'], ['--steps']);

// ---- the fixed hard cases ------------------------------------------------------------------------

const nest = (n: number, open: string, close: string, inner: string) => open.repeat(n) + inner + close.repeat(n);
const terms = (n: number, f: (k: number) => string, op: string) => Array.from({ length: n }, (_, k) => f(k)).join(op);

const HARD: Record<string, string> = {
  '500 nested parentheses': `Y = ${nest(500, '(', ')', 'x')}`,
  '150 nested parentheses (allowed)': `Y = ${nest(150, '(', ')', 'x')}`,
  '500 nested subscripts': `X: [N]\nY[i] = X[${nest(500, '(', ')', 'i')}]`,
  '500 nested calls': `Y = ${nest(500, 'relu(', ')', 'x')}`,
  '199 nested calls (allowed)': `Y = ${nest(199, 'relu(', ')', 'x')}`,
  '10 000 unary minus': `Y = ${'-'.repeat(10000)}x`,
  '10 000 powers': `Y = ${terms(10000, () => 'x', '^')}`,
  '10 000 nested sums': `X: [N]\nY = ${'sum(i) '.repeat(10000)}X[i]`,
  '10 000 nested Σ': `X: [N]\nY = ${'Σ_i '.repeat(10000)}X[i]`,
  '10 000 divisions': `Y = ${terms(10000, () => 'x', '/')}`,
  '10 000-term sum': `L = ${terms(10000, () => 'x', ' + ')}`,
  '10 000-term difference': `L = ${terms(10000, () => 'x', ' - ')}`,
  '10 000-term sum of tensor reads': `dims N=4\nX: [N]\nL = ${terms(10000, (k) => `X[${k % 4}]`, ' + ')}`,
  '10 000-term sum of products': `L = ${terms(10000, (k) => `${k % 7}*x*y`, ' + ')}`,
  '1 000 distinct scalar inputs': `L = ${terms(1000, (k) => `x${k}`, ' + ')}`,
  '10 000-term subscript': `X: [N]\nY[i] = X[i${'+1'.repeat(10000)}]`,
  '10 000-term shape': `X: [${terms(10000, () => 'N', '+')}]\nY[i] = X[i]`,
  '10 000 chained def functions': terms(10000, (k) => `def f${k}(x) = ${k ? `f${k - 1}(x)` : 'x'}`, '\n') + '\nY = f9999(z)',
  '300 statements in a chain': terms(300, (k) => `Y${k} = ${k ? `Y${k - 1}` : 'x'} * 2`, '\n'),
  // each of these cost more than the CPU limit while some step was quadratic in the program
  '5 000 statements in a chain': terms(5000, (k) => `Y${k} = ${k ? `Y${k - 1}` : 'x'} * 2`, '\n'),
  '5 000 declared inputs read in one sum': `${terms(5000, (k) => `X${k}: [N]`, '\n')}\nL = ${terms(5000, (k) => `X${k}[0]`, ' + ')}`,
  '5 000 undeclared inputs read in one sum': `dims N=2\nL = sum(i) ${terms(5000, (k) => `X${k}[i]`, ' + ')}`,
  '120 nested quotients 1/(a+1/(a+…))': `y = ${nest(120, '1/(a+', ')', 'a')}`,
  'a 100 000-character name': `${'a'.repeat(100000)} = x`,
  '1e999': 'Y = 1e999 * x',
  '99999999999999999999': 'Y = 99999999999999999999 * x',
  '1e-999': 'Y = 1e-999 * x',
  'a huge size default': 'dims N=99999999999999999999\nX: [N]\nY[i] = X[i]',
  'a huge subscript offset': 'X: [N]\nY[i] = X[i + 99999999999999999999]',
  'a huge stride': 'X: [N]\nY[i] = X[i*1e300]',
  'a huge reduction range': 'X: [N]\nY = sum(r:99999999999999999999) X[r]',
  'a 400-digit number': `Y = ${'9'.repeat(400)} * x`,
  'an astral letter in a name': '𝑥 = y $',
  'a lone surrogate': 'Y = x\uD800',
  'a byte-order mark': '\uFEFFY = x',
  'carriage returns': 'Y = x\r\nZ = Y\r',
  'a NUL': 'Y = x\u0000',
  'tabs before the error': '\tY = x\t$',
  'an escape sequence before the error': 'Y = x\u001b[2J\u001b]0;pwned\u0007 $',
  'a carriage return inside a line': 'Y = x\r+ $',
  'C1 controls and a bidi override': 'Y = x\u009b\u202e $',
  'an error at the end of a 5 000-character line': `Y = ${terms(2500, () => 'x', '+')} $`,
  'an error in the middle of a 5 000-character line': `Y = ${terms(1250, () => 'x', '+')} $ ${terms(1250, () => 'x', '+')}`,
  'a byte-order mark before an error': '\uFEFFY = x $',
  'empty': '',
  'only a comment': '# nothing',
};

describe('the parser, checker and derive command never crash', () => {
  for (const [name, source] of Object.entries(HARD))
    it(name, async () => {
      await derive('f = x'); // warm: the first call loads modules
      expectClean(source, await derive(source));
    });

  const property = (arb: fc.Arbitrary<string>, runs: number) =>
    fc.assert(
      fc.asyncProperty(arb, options, async (source, extra) => expectClean(source, await derive(source, extra))),
      { seed: SEED, numRuns: runs, ...(PATH ? { path: PATH } : {}) },
    );

  it(`${RUNS} mutated programs (seed ${SEED})`, async () => property(mutated, RUNS), 60_000 + RUNS * 100);
  it(`${Math.ceil(RUNS / 2)} token soups (seed ${SEED})`, async () => property(soup, Math.ceil(RUNS / 2)), 60_000 + RUNS * 50);
  it(`${Math.ceil(RUNS / 2)} random strings (seed ${SEED})`, async () => property(noise, Math.ceil(RUNS / 2)), 60_000 + RUNS * 50);
});
