// Regressions: the bugs the property and fuzz tests found, each as the small program that shows it
// (fast-check's shrunk counterexample, or a hand-minimised one), checked the same way: the program
// checks, its derived program re-parses, and every gradient agrees with central differences.
// Each test names the file of the fix. Every program here failed before its fix (verified by
// reverting that fix alone).
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { derive } from '../../src/index.js';
import { idxVar } from '../../src/ir/affine.js';
import { check } from '../../src/ir/check.js';
import { access, mul, reduce } from '../../src/ir/exprs.js';
import { printExpr } from '../../src/ir/print.js';
import { sizeName } from '../../src/ir/sizes.js';
import { checkGradients } from '../helpers.js';

const TOLERANCE = 1e-6;

interface Regression {
  /** the bug, and where it was fixed */
  readonly name: string;
  readonly source: string;
  readonly sizes?: Record<string, number>;
  readonly range?: { lo: number; hi: number };
  /** a piece of the printed gradient that the fix is about */
  readonly shows?: { readonly of: string; readonly text: string };
}

const REGRESSIONS: Regression[] = [
  {
    name: 'check.ts: a def body may use sizes (the hint says so; `A is not a parameter of g` before)',
    source: 'dims N=3\ndef scaled(x) = x / N\nX: [N]\nY[i] = scaled(X[i])^2',
    shows: { of: 'X', text: 'dX[i] = 2*X[i]*dY[i]/N/N' },
  },
  {
    name: 'check.ts: a gradient position read on a dimension of another extent re-parses (was a shape mismatch)',
    source: 'dims A=2, C\nX: [A]\nV: [C]\nY1[i] = V[C-1-i]*X[C-1-i] + X[i]',
    sizes: { C: 3 },
    shows: { of: 'X', text: 'V[a]*dY1[C-a-1]' },
  },
  {
    name: 'check.ts: an undeclared input takes its shape from any plain read (X[i+1] + X[i] was "shape cannot be known")',
    source: 'dims N=3\nY: [N]\nY[i] = X[i+1] + X[i]',
    shows: { of: 'X', text: 'dX[n] = dY[n-1] + dY[n]' },
  },
  {
    name: 'print.ts: a remainder as a value is parenthesised (-(i%2)*dY, not -i%2*dY = ((-i)%2)*dY)',
    // V keeps the remainder term alone: with + X[i], factorCommon writes dY1[i]*(1 - (i%2))
    source: 'dims A=3\nX: [A]\nV: [A]\nY1[i] = -((i % 2)*X[i]) + V[i]',
    shows: { of: 'X', text: '-(i%2)*dY1[i]' },
  },
  {
    name: 'print.ts: a remainder after a product (X[m]*(m%2), not X[m]*m%2 = (X[m]*m)%2)',
    source: 'dims A=3\nX: [A]\nY1[] = X[m]*((m % 2)*X[m]) + X[m]',
  },
  {
    name: 'print.ts: a floor quotient as a value prints as (e - e%s)/s (i/2 == a re-read as a real division)',
    source: 'dims A=2\nX: [A, A, A]\nY1: [A, A]\nY1[i,j] = X[i/2,i,i]',
    shows: { of: 'X', text: '((i - (i%2))/2 == a)' },
  },
  {
    name: 'print.ts: a size with floor division as a value ((A+3)/2 re-read as 2.5 in a mean)',
    source: 'dims A=2\nX: [A]\nY1[] = mean(r:(A+3)/2) X[m]',
    shows: { of: 'X', text: '1/(((A+3) - (A+3)%2)/2)' },
  },
  {
    name: 'print.ts: a min reduction of a negated body keeps its parentheses (min(q) -X read as the call min(q) minus X)',
    source: 'dims B=2, C=3\nX: [C, C]\nY = min(r:B) (min(q:C) -X[q,q])',
  },
  {
    name: 'print.ts: a negated product as an exponent is parenthesised (a^-(x*x), not a^-x*x = (a^-x)*x)',
    source: 'dims A=2\nX: [A]\nY1[] = pow(1 + tanh(1)^2, -(X[0]*X[0]))',
    shows: { of: 'X', text: '^-(X[0]*X[0])' },
  },
  {
    name: 'affine.ts: a negated floor quotient in a subscript prints as -(h/2) (-h/2 is (-h)/2)',
    source: 'dims H=5\nX: [H]\nW: [H]\nY[u] = sum(i:2) X[2*u+i]*W[-u]',
    shows: { of: 'X', text: 'W[-(h/2)]' },
  },
  {
    name: 'affine.ts: a divisor that is a product of sizes is parenthesised (x%(A*B), not x%A*B)',
    source: 'dims A=2, B=2\nX: [A, A, A]\nY1: [A, A, A]\nY1[i,j,k] = X[j*B+i-1,i*A,i]',
    shows: { of: 'X', text: '%(A*B) == 0' },
  },
  {
    name: 'eliminateDeltas.ts: a negative symbolic coefficient is divided out with a positive divisor (was %(-B))',
    source: 'dims A=2, B=2\nX: [A, A]\nY1: [A, A]\nY1[i,j] = X[j*B+i-1,i]',
    shows: { of: 'X', text: '%B == 0' },
  },
  {
    name: 'eliminateDeltas.ts: a coefficient of unknown sign (B-1, zero when B = 1) stays an equality guard',
    source: 'dims A=3, B=2\nX: [A, A]\nY: [A, A]\nY[i,j] = X[i+j, j*B+i-1]',
    sizes: { B: 1 },
  },
  {
    name: 'differentiate.ts: a logsumexp copy in its softmax does not capture a gradient position (was W[p,a,p])',
    source: 'dims A=2, B=3\nW: [B, A, A]\nY: [A, A]\nY[i,j] = W[0,j,i]*(logsumexp(p) W[p,i,j])',
    shows: { of: 'W', text: 'logsumexp(p) W[p,a,p2]' },
  },
  {
    name: 'differentiate.ts: renamed binders never bind a name twice (was sum(i,r2,r2))',
    source: 'dims A=2\nX: [A]\nV: [A]\nY1: [A]\nY1[i] = sum(r) X[r]*(sum(r:A) (sum(r) V[r]))',
    shows: { of: 'V', text: 'sum(i,r3,r2:A) X[r3]' },
  },
  {
    name: 'evaluate.ts: a masked-out term is 0, not NaN, where it divides by a padded read (0/0)',
    source: 'dims A=4, B=3, C=2\nX: [A]\nY1: [C, B]\nY1[i,j] = sqrt(1 + (min(r:B) X[3*j+1])^2)',
  },
  {
    name: 'evaluate.ts: a masked-out term is 0, not NaN, where a factor is a padded read to a negative power (0·∞)',
    source: 'dims A=4, B=3\nX: [A]\nY[j] = X[3*j+1]^0.5',
    range: { lo: 0.5, hi: 2 },
  },
];

describe('regressions found by the property tests', () => {
  for (const r of REGRESSIONS)
    it(r.name, () => {
      const { errors, magnitudes, program } = checkGradients(r.source, r.sizes ?? {}, r.range ?? {});
      for (const [name, error] of Object.entries(errors)) expect(error, `d${name} of\n${program}`).toBeLessThan(TOLERANCE);
      expect(Math.max(...Object.values(magnitudes)), 'a gradient that is not all zero').toBeGreaterThan(0);
      if (r.shows) expect(derive(r.source).gradients[r.shows.of]!.index).toContain(r.shows.text);
    });

  it('print.ts: a bound index keeps its range when a nested reduction binds the same name', () => {
    // sum(r:A) (sum(r) X[r])*W[i]: the X[r] inside belongs to the inner r, so the outer needs `r:A`
    const A = sizeName('A');
    const inner = reduce('sum', [{ name: 'r', extent: A }], access('X', [idxVar('r')]));
    const text = printExpr(reduce('sum', [{ name: 'r', extent: A }], mul([inner, access('W', [idxVar('i')])])));
    expect(text).toBe('sum(r:A) (sum(r) X[r])*W[i]');
    expect(() => check(`dims A=2\nX: [A]\nW: [A]\nY[i] = ${text}`)).not.toThrow();
  });

  it('check.ts: a shape mismatch with an explicit reduction range says where the range came from (was "(undefined)")', () => {
    expect(() => check('X: [N]\nY = sum(r:4) X[r]')).toThrow(/index r runs over 4 \(its range in the reduction\) but over N in X dimension 1/);
  });
});

describe('regressions found by fuzzing the command', () => {
  async function cli(source: string) {
    let out = '';
    let err = '';
    const code = await main(['-e', source], { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') });
    return { code, out, err };
  }
  const terms = (n: number, f: (k: number) => string, op: string) => Array.from({ length: n }, (_, k) => f(k)).join(op);

  it('parse.ts: a 10 000-term sum derives (was an internal error: the call stack overflowed)', async () => {
    const r = await cli(`L = ${terms(10000, () => 'x', ' + ')} - ${terms(10, () => 'x', ' - ')}`);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^dx = 9990$/m);
  });
  it('parse.ts: a 10 000-factor product parses; long chains of divisions, powers and nested reductions are located errors', async () => {
    expect(check(`L = ${terms(10000, () => 'x', '*')}`).statements).toHaveLength(1);
    for (const source of [`Y = ${terms(10000, () => 'x', '/')}`, `Y = ${terms(10000, () => 'x', '^')}`, `X: [N]\nY = ${'sum(i) '.repeat(10000)}X[i]`]) {
      const r = await cli(source);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^<program>:\d+:\d+: error: syntax error: expression nested too deeply/);
    }
  });
  it('check.ts: 10 000 def functions calling each other are a located error (was a stack overflow)', async () => {
    const r = await cli(terms(10000, (k) => `def f${k}(x) = ${k ? `f${k - 1}(x)` : 'x'}`, '\n') + '\nY = f9999(z)');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: recursive function: f\d+ is called through 200 other functions/);
  });
  it('parse.ts: a line of 10 000 numbers lexes in linear time (the lexer re-read the rest of the line per number)', () => {
    const started = performance.now();
    check(`X: [N]\nY[i] = X[i${'+1'.repeat(10000)}]`);
    expect(performance.now() - started).toBeLessThan(1500);
  });
  it('errors.ts: the caret counts code points (an astral letter before the error moved it one column left)', async () => {
    const r = await cli('𝑥 = y $');
    expect(r.err.split('\n').slice(0, 3)).toEqual(['<program>:1:7: error: syntax error: unexpected character "$"', '  1 | 𝑥 = y $', '    |       ^']);
  });
});
