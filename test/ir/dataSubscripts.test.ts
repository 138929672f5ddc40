// Data-dependent subscripts (issue 16, item 6): an integer input `tok: int[N]` read as a subscript,
// Y[n,d] = E[tok[n], d] — checked, evaluated with a range check of the data, and differentiated to
// a scatter-add (dE[tok[n],d] += dY[n,d]) whose program re-parses and matches central differences.
import { describe, expect, it } from 'vitest';
import { check, derive, evaluate } from '../../src/index.js';
import { formatError } from '../../src/ir/errors.js';
import { InputError } from '../../src/ir/evaluate.js';
import { printStatement } from '../../src/ir/print.js';
import { checkGradients, errorOf } from '../helpers.js';

const EMBED = 'dims V=5, D=3, N=6\nE: [V, D]\ntok: int[N]\nY[n,d] = E[tok[n], d]';
/** repeated tokens (2 three times, 0 twice): their gradients must add up */
const TOK = Float64Array.from([2, 0, 2, 4, 0, 2]);
const E = Float64Array.from({ length: 15 }, (_, i) => i / 7 - 1);

/** The message evaluate throws (an InputError: the caller's data, not the program, is at fault). */
function inputErrorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof InputError) return e.message;
    throw e;
  }
  throw new Error('no error');
}

describe('integer inputs and data subscripts: the checker', () => {
  it('declares tok: int[N] an integer input and reads it as a subscript', () => {
    const p = check(EMBED);
    expect(p.tensors.map((t) => [t.name, t.role, t.elem ?? 'real'])).toEqual([
      ['E', 'input', 'real'],
      ['tok', 'input', 'int'],
      ['Y', 'output', 'real'],
    ]);
    expect(printStatement(p.statements[0]!)).toBe('Y[n,d] = E[tok[n],d]');
  });

  it('reads integer data as an index value, (y[n] == c), and with a constant offset', () => {
    const p = check('S: [N, C]\ny: int[N]\nM[n,c] = (y[n] == c) * S[n,c]\nE: [V, D]\nZ[n,d] = E[tok2[n]+1, d]\ntok2: int[N]');
    expect(p.statements.map(printStatement)).toEqual(['M[n,c] = (y[n] == c)*S[n,c]', 'Z[n,d] = E[tok2[n]+1,d]']);
  });

  const cases: [string, string, string][] = [
    ['E: [V, D]\nX: [N]\nY[n,d] = E[X[n], d]', 'name used in the wrong role: X holds real numbers: a subscript reads only an integer tensor (at 3:12)', 'declare it `X: int[…]`'],
    ['E: [V, D]\ntok: int[N]\nY[n,d] = E[2*tok[n], d]', 'index is not affine: a data-dependent subscript is one element of an integer tensor plus sizes and whole numbers (at 3:13)', 'E[tok[n]+1, d]'],
    ['E: [V, D]\ntok: int[N]\nY[n,d] = E[tok[n+1], d]', 'index is not affine: tok is integer data: its subscripts are plain indices (at 3:17)', 'E[tok[n]+1, d]'],
    ['E: [V, D]\ntok: int[N, N]\nY[n,d] = E[tok[n,n], d]', 'index is not affine: tok is integer data: its subscripts are distinct indices, and n repeats (at 3:18)', 'read the whole of it'],
    ['tok: int[N]\ntok[n] = 1', 'name used in the wrong role: tok is an integer input (declared int) and cannot be assigned (at 2:1)', 'read as subscripts'],
    ['E: [V, D]\ntok: int[N]\nY: [V, D]\nY[tok[n], d] = E[tok[n], d]', 'bad left side: a data-dependent left side adds into Y: write `Y[…] += …` (at 4:3)', 'scatter-add into it with +='],
    ['E: [V, D]\ntok: int[N]\nY: [V, D]\nY[tok[n], d] += E[tok[n], d]', 'bad left side: += adds into Y, which no earlier statement assigns (at 4:1)', 'assign it first'],
    ['E: [V, D]\ntok: int[M]\nY: [N, D]\nY[n,d] = E[tok[n], d]', 'shape mismatch: index n runs over N but reads tok, whose dimension 1 is M (at 4:12)', 'read in range'],
  ];
  it.each(cases)('%s → a located error', (src, message, hint) => {
    const e = errorOf(() => check(src));
    expect(e.message).toBe(message);
    const shown = formatError(e, src);
    expect(shown).toContain('^');
    expect(shown).toContain(hint);
  });

  it('a scalar of integer data is a subscript too, printed without brackets', () => {
    const src = 'dims V=4, D=2\nE: [V, D]\nk: int[]\nY[d] = E[k, d]';
    expect(derive(src).gradients.E!.index).toBe('dE[v,d] = (k == v)*dY[d]');
    expect(evaluate(src, { E: Float64Array.from({ length: 8 }, (_, i) => i), k: 2 }).Y).toEqual(Float64Array.from([4, 5]));
    expect(inputErrorOf(() => evaluate(src, { E: new Float64Array(8), k: 4 }))).toBe('Y: k = 4 makes the subscript k of E 4, outside [0, 4) (dimension 1 of E)');
  });

  it('refuses a gradient with respect to integer data, and leaves it out by default', () => {
    const e = errorOf(() => derive(EMBED, { wrt: ['tok'] }));
    expect(e.message).toBe('not an input: tok is integer data: it has no gradient (at 3:1)');
    expect(Object.keys(derive(EMBED).gradients)).toEqual(['E']);
  });
});

describe('data subscripts in the interpreter', () => {
  it('reads the rows the tokens name, from Float64Array, Int32Array or plain arrays', () => {
    const want = Float64Array.from({ length: 18 }, (_, i) => E[TOK[Math.floor(i / 3)]! * 3 + (i % 3)]!);
    expect(evaluate(EMBED, { E, tok: TOK }).Y).toEqual(want);
    expect(evaluate(EMBED, { E, tok: Int32Array.from(TOK) }).Y).toEqual(want);
    expect(evaluate(EMBED, { E, tok: [...TOK] }).Y).toEqual(want);
  });

  it('an out-of-range or negative token is an error naming the data, the position and the value', () => {
    expect(inputErrorOf(() => evaluate(EMBED, { E, tok: [2, 0, 2, 5, 0, 2] }))).toBe('Y: tok[3] = 5 makes the subscript tok[n] of E 5, outside [0, 5) (dimension 1 of E)');
    expect(inputErrorOf(() => evaluate(EMBED, { E, tok: [2, 0, 2, 4, -1, 2] }))).toBe('Y: tok[4] = -1 makes the subscript tok[n] of E -1, outside [0, 5) (dimension 1 of E)');
    // with an offset, the subscript's value is what must lie in range
    const shifted = 'dims V=5, D=3, N=6\nE: [V, D]\ntok: int[N]\nY[n,d] = E[tok[n]+1, d]';
    expect(inputErrorOf(() => evaluate(shifted, { E, tok: TOK }))).toBe('Y: tok[3] = 4 makes the subscript tok[n]+1 of E 5, outside [0, 5) (dimension 1 of E)');
    // two-dimensional data: the position is its own subscripts
    const twoD = 'dims V=5, D=3, B=2, T=3\nE: [V, D]\ntok: int[B, T]\nY[b,t,d] = E[tok[b,t], d]';
    expect(inputErrorOf(() => evaluate(twoD, { E, tok: [0, 1, 2, 3, 9, 0] }))).toBe('Y: tok[1, 1] = 9 makes the subscript tok[b,t] of E 9, outside [0, 5) (dimension 1 of E)');
  });

  it('integer data must hold whole numbers', () => {
    expect(inputErrorOf(() => evaluate(EMBED, { E, tok: [2, 0, 2.5, 4, 0, 2] }))).toBe('input tok is integer data (declared int), but its element 2 is 2.5');
  });

  it('a scatter-add statement adds every value into its element, repeated tokens accumulating', () => {
    const src = 'dims V=5, D=3, N=6\nG: [N, D]\ntok: int[N]\nH: [V, D]\nH[v,d] = 0\nH[tok[n], d] += G[n,d]';
    const G = Float64Array.from({ length: 18 }, (_, i) => i + 1);
    const want = new Float64Array(15);
    for (let n = 0; n < 6; n++) for (let d = 0; d < 3; d++) want[TOK[n]! * 3 + d]! += G[n * 3 + d]!;
    expect(evaluate(src, { G, tok: TOK }).H).toEqual(want);
    expect(want[2 * 3]).toBe(1 + 7 + 16); // token 2 at n = 0, 2, 5
  });
});

describe('the gradient of a data subscript', () => {
  it('is a scatter-add in index form, its gather meaning in LaTeX, and no matrix form', () => {
    const g = derive(EMBED).gradients.E!;
    expect(g.index).toBe('dE[v,d] = 0\ndE[tok[n],d] += dY[n,d]');
    expect(g.matrix).toBeNull();
    expect(g.latex).toBe('\\mathrm{d}E_{v,d} = \\sum_{n} \\left[\\mathrm{tok}_{n} = v\\right] \\, \\mathrm{d}Y_{n,d}');
    expect(derive(EMBED).program).toContain('dE: [V, D]\ndE[v,d] = 0\ndE[tok[n],d] += dY[n,d]\n');
  });

  it('agrees with central differences, repeated tokens included, through a nonlinearity and a weight', () => {
    const src = 'dims V=5, D=3, N=6\nE: [V, D]\nW: [D]\ntok: int[N]\nY[n,d] = tanh(E[tok[n], d] * W[d]) + E[tok[n]+1, d]';
    const r = checkGradients(src, {}, { wrt: ['E', 'W'], given: { tok: Float64Array.from([2, 0, 2, 3, 0, 2]) }, seed: 3 });
    for (const [n, e] of Object.entries(r.errors)) expect(e, n).toBeLessThan(1e-8);
    for (const [n, m] of Object.entries(r.magnitudes)) expect(m, n).toBeGreaterThan(0.1);
    // row 4 is read only as tok[n]+1 with tok[n] = 3; row 1 only as 0 + 1
    expect(derive(src).gradients.E!.index).toBe('dE[v,d] = 0\ndE[tok[n],d] += (1 - tanh(E[tok[n],d]*W[d])^2)*W[d]*dY[n,d]\ndE[tok[n]+1,d] += dY[n,d]');
  });

  it('with two-dimensional data, and a sum over the sequence', () => {
    const src = 'dims V=4, D=2, B=2, T=3\nE: [V, D]\ntok: int[B, T]\nP[b,d] = sum(t) E[tok[b,t], d]^2';
    const r = checkGradients(src, {}, { wrt: ['E'], given: { tok: Float64Array.from([3, 1, 3, 0, 3, 1]) }, seed: 5 });
    expect(r.errors.E).toBeLessThan(1e-8);
    expect(derive(src).gradients.E!.index).toBe('dE[v,d] = 0\ndE[tok[b,t],d] += 2*E[tok[b,t],d]*dP[b,d]');
  });

  it('a one-hot loss with integer labels: cross-entropy, dS a gather form of N·C terms', () => {
    const src = 'dims N=4, C=3\nX: [N, C]\ny: int[N]\nS[n,c] = X[n,c] - logsumexp(k) X[n,k]\nL = -sum(n) S[n, y[n]]';
    const d = derive(src);
    expect(d.gradients.S!.index).toBe('dS[n,c] = -(y[n] == c)');
    // exp(S) is softmax(X): the forward's log-softmax reused (reuseForward)
    expect(d.gradients.X!.matrix).toBe('dX = dS − exp(S) ⊙ (dS·1·1ᵀ)');
    const r = checkGradients(src, {}, { wrt: ['X'], given: { y: Float64Array.from([2, 0, 2, 1]) }, seed: 2 });
    expect(r.errors.X).toBeLessThan(1e-8);
    expect(r.magnitudes.X).toBeGreaterThan(0.2);
    // the loss is the mean negative log-likelihood of the labels
    const X = r.inputs.X!;
    let want = 0;
    for (let n = 0; n < 4; n++) {
      const row = [0, 1, 2].map((c) => X[n * 3 + c]!);
      want -= row[[2, 0, 2, 1][n]!]! - Math.log(row.reduce((a, x) => a + Math.exp(x), 0));
    }
    expect(evaluate(src, { X, y: [2, 0, 2, 1] }).L![0]).toBeCloseTo(want, 12);
  });

  it('the re-parsed gradient program checks the data too (the scatter is an error, not a silent drop)', () => {
    const program = derive(EMBED).program;
    const seeds = { dY: new Float64Array(18).fill(1) };
    expect(inputErrorOf(() => evaluate(program, { E, tok: [2, 0, 2, 4, 0, 7], ...seeds }))).toBe('Y: tok[5] = 7 makes the subscript tok[n] of E 7, outside [0, 5) (dimension 1 of E)');
    const counts = evaluate(program, { E, tok: TOK, ...seeds }).dE!;
    expect([...counts]).toEqual([2, 2, 2, 0, 0, 0, 3, 3, 3, 0, 0, 0, 1, 1, 1]);
  });

  it('a program with += of its own differentiates: the adjoint is read where the += adds', () => {
    const src = 'dims V=4, N=6\nG: [N]\nW: [N]\nK: [V]\ntok: int[N]\nH: [V]\nH[v] = sin(K[v])\nH[tok[n]] += G[n]*W[n]\nL = sum(v) H[v]^2';
    expect(derive(src).gradients.G!.index).toBe('dG[n] = W[n]*dH[tok[n]]');
    const r = checkGradients(src, {}, { wrt: ['G', 'W', 'K'], given: { tok: Float64Array.from([3, 1, 3, 0, 3, 1]) }, seed: 6 });
    for (const [n, e] of Object.entries(r.errors)) expect(e, n).toBeLessThan(1e-8);
    for (const [n, m] of Object.entries(r.magnitudes)) expect(m, n).toBeGreaterThan(0.1);
  });

  it('two reductions over n reading tok[n] each read their own n (the second is renamed apart, tok[n2] too)', () => {
    const src = 'dims V=5, D=3, N=6\nE: [V, D]\ntok: int[N]\nA[d] = sum(n) E[tok[n], d] + sum(n) 2*E[tok[n], d]^2';
    const A = evaluate(src, { E, tok: TOK }).A!;
    for (let d = 0; d < 3; d++) {
      const rows = [...TOK].map((t) => E[t * 3 + d]!);
      expect(A[d]).toBeCloseTo(rows.reduce((a, x) => a + x + 2 * x * x, 0), 12);
    }
  });
});
