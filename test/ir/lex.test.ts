// The character-code lexer (src/ir/parse.ts, lex) against the code-point lexer it replaced
// (test/ir/lexOracle.ts): on every example layer, on hand-picked Unicode and error cases, and on
// random and mutated text, both give the same tokens (text, line, column, the unclosed bracket at the
// end) or both fail with the same message, position and hint.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeltagradError } from '../../src/ir/errors.js';
import { lex } from '../../src/ir/parse.js';
import { lexByCodePoints } from './lexOracle.js';

const outcome = (f: (s: string) => unknown, source: string): unknown => {
  try {
    return { tokens: f(source) };
  } catch (e) {
    if (!(e instanceof DeltagradError)) throw e;
    return { error: { message: e.message, span: e.span, hint: e.hint, code: e.code } };
  }
};
const agree = (source: string): void => {
  expect(outcome(lex, source), JSON.stringify(source)).toEqual(outcome(lexByCodePoints, source));
};

const layersDir = fileURLToPath(new URL('../../examples/layers/', import.meta.url));
const LAYERS = readdirSync(layersDir)
  .filter((f) => f.endsWith('.dg'))
  .sort()
  .map((f) => readFileSync(`${layersDir}${f}`, 'utf8'));

const CASES = [
  '',
  '# only a comment',
  'Y[i] = X[i] $ 2',
  '𝑥 = y $',
  '𝑥𝑦 = 𝑦1 + λ2 # 😀 comment',
  'a𝟙b = x', // an astral digit inside a name
  '😀 = x',
  'y = x\uD800',
  'y = x\uD800 + 1',
  'y\uDC00 = x',
  '\uFEFFY = x $',
  'Y = x\r\nZ = Y\r',
  'Y = x\u2028Z = Y\u2029W = Z',
  'Y = Σ_i X[i] + ∑(j) X[j] + ∑_{k} X[k] + aΣb',
  'y = 1.5e-3 + .5 + 1. + 1e + 1e+ + 2E+7 + 007 + 1.2.3',
  "y = a <= b >= c == d != e .* f ./ g .^ h ' ; @ % ^ < > !",
  'y = a ! b',
  'y = a .. b',
  'Y[i = (X[i]\n+ 1',
  'Y[i] = X[i]]) + {1}',
  'Y = x\t+\ty $',
  'é = ß + ﬁ + 中 + \u0301x',
  'Y = x\u001b[2J $',
];

describe('the character-code lexer matches the code-point lexer', () => {
  it('on every example layer', () => {
    expect(LAYERS.length).toBeGreaterThan(5);
    for (const source of LAYERS) agree(source);
  });
  it('on Unicode, numbers, operators and errors', () => {
    for (const source of CASES) agree(source);
  });
  it('on random text', () => {
    const pieces = [...CASES, ...'$#()[]{},:;=^%/*-+.!<>\'Σ∑_ \t\n\r', '𝑥', '😀', '\uD800', '\uDC00', 'λ', '٣', 'e', 'E', '1', '.5', 'X[i]'];
    const soup = fc.array(fc.constantFrom(...pieces), { maxLength: 30 }).map((ps) => ps.join(''));
    const noise = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 60 }));
    const mutatedLayer = fc.tuple(fc.constantFrom(...LAYERS), fc.nat(), fc.constantFrom(...pieces)).map(([s, k, x]) => s.slice(0, k % (s.length + 1)) + x + s.slice(k % (s.length + 1)));
    fc.assert(fc.property(fc.oneof(soup, noise, mutatedLayer), (source) => agree(source)), { numRuns: 3000, seed: 15_2026 });
  });
});
