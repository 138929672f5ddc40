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
import { generateProgram } from '../property/generate.js';
import { derive, expectClean } from './clean.js';

const RUNS = Number(process.env.DELTAGRAD_FUZZ_RUNS ?? 250);
const SEED = Number(process.env.DELTAGRAD_FUZZ_SEED ?? 7_2026);
const PATH = process.env.DELTAGRAD_FUZZ_PATH;
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
  // each of these took minutes, or gigabytes, or overflowed the stack, before the limits (src/ir/limits.ts)
  'two 20 000-character function names (did you mean …?)': `def ${'b'.repeat(20000)}(x) = x\ny = ${'a'.repeat(20000)}(x)`,
  'a program just past the length limit': `y = ${'x+'.repeat(500_000)}x`,
  'defs that double: f5(a) would have 2³³ nodes': `def f0(x) = sin(x)*x\n${terms(5, (k) => `def f${k + 1}(x) = f${k}(f${k}(x))`, '\n')}\ny = f5(a)`,
  'defs that double 40 times around an ignored parameter': `def f0(x) = 1\n${terms(40, (k) => `def f${k + 1}(x) = f${k}(f${k}(x))`, '\n')}\ny = f40(a)`,
  '150 chained defs, each 190 calls deep': `def f0(x) = ${nest(190, 'sin(', ')', 'x')}\n${terms(149, (k) => `def f${k + 1}(x) = ${nest(190, 'sin(', ')', `f${k}(x)`)}`, '\n')}\ny = f149(a)`,
  '150 parentheses around 60 divisions each': `y = ${Array.from({ length: 150 }).reduce<string>((e) => `(${e}${'/x'.repeat(60)})`, 'x')}`,
  '150 parentheses around 60 subtractions each': `y = ${Array.from({ length: 150 }).reduce<string>((e) => `(${e}${'-x'.repeat(60)})`, 'x')}`,
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
