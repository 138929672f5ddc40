// Layer norm and batch norm in matrix form: statistics per row read as row sums G·1 (layer norm),
// per column as column sums 1ᵀ·G (batch norm; its per-column statistics as rows, dvᵀ = … ⊙ (1ᵀ·G)), and a
// repeated divisor as one power, sqrt(v + ε)³.
// Each display is built by hand, term by term, and compared with the index form's values.
import katex from 'katex';
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/index.js';
import { check } from '../../src/ir/check.js';
import { run } from '../../src/ir/evaluate.js';
import { randomInputs, relativeError, seededRandom } from '../../src/ir/gradcheck.js';
import { DERIVED_LIMITS } from '../../src/ir/limits.js';
import { checkMatrixSources } from '../helpers.js';

const [N, D] = [3, 4];
const LAYER = `dims N=${N}, D=${D}\nX: [N, D]\nm[n] = sum(d) X[n,d] / D\nv[n] = sum(d) (X[n,d]-m[n])^2 / D\nY[n,d] = (X[n,d]-m[n]) / sqrt(v[n] + 0.00001)`;
const BATCH = `dims N=${N}, D=${D}\nX: [N, D]\nm[d] = sum(n) X[n,d] / N\nv[d] = sum(n) (X[n,d]-m[d])^2 / N\nY[n,d] = (X[n,d]-m[d]) / sqrt(v[d] + 0.00001)`;

/** The program's values, and the statistic of element (n, d): per row (layer) or per column (batch). */
function values(src: string, seed: number) {
  const r = derive(src);
  const p = check(r.program, DERIVED_LIMITS);
  const inputs = randomInputs(p, {}, seededRandom(seed), -1, 1);
  return { r, t: { ...inputs, ...run(p, inputs) } as Record<string, Float64Array> };
}
const matrix = (f: (n: number, d: number) => number) => Float64Array.from({ length: N * D }, (_, k) => f(Math.floor(k / D), k % D));
const sumOver = (len: number, f: (i: number) => number) => Array.from({ length: len }, (_, i) => f(i)).reduce((a, b) => a + b, 0);

describe('layer norm: per-row statistics as row sums', () => {
  const want = {
    // collectPowers writes 1/sqrt(v+ε)³ as (v+ε)^(-3/2), and hoistFactors takes it and dv out of the sums
    v: 'dv = −(v + 0.00001)^(-1.5) ⊙ (((X − m·1ᵀ) ⊙ dY)·1)/2',
    m: 'dm = (-2/D)·(dv ⊙ ((X − m·1ᵀ)·1)) − (dY·1) ⊘ sqrt(v + 0.00001)',
    X: 'dX = dm·1ᵀ/D + (2/D)·((X − m·1ᵀ) ⊙ (dv·1ᵀ)) + dY ⊘ sqrt(v·1ᵀ + 0.00001)',
  };
  it('the displays, and their meaning built by hand equals the index forms', () => {
    const { r, t } = values(LAYER, 21);
    for (const [x, m] of Object.entries(want)) {
      expect(r.gradients[x]!.matrix).toBe(m);
      expect(() => katex.renderToString(r.gradients[x]!.latex, { throwOnError: true })).not.toThrow();
    }
    const { X, m, v, dY, dv, dm } = t as Record<string, Float64Array>;
    const c = (n: number, d: number) => X![n * D + d]! - m![n]!;
    const e = (n: number) => Math.sqrt(v![n]! + 0.00001);
    const dvHand = Float64Array.from({ length: N }, (_, n) => -sumOver(D, (d) => (0.5 * c(n, d) * dY![n * D + d]!) / e(n) ** 3));
    const dmHand = Float64Array.from({ length: N }, (_, n) => (-2 / D) * sumOver(D, (d) => c(n, d) * dv![n]!) - sumOver(D, (d) => dY![n * D + d]! / e(n)));
    const dXHand = matrix((n, d) => dm![n]! / D + (2 / D) * c(n, d) * dv![n]! + dY![n * D + d]! / e(n));
    for (const [name, hand] of [['dv', dvHand], ['dm', dmHand], ['dX', dXHand]] as const) {
      expect(t[name]!.some((x) => x !== 0)).toBe(true);
      expect(relativeError(hand, t[name]!), name).toBeLessThan(1e-13);
    }
  });
});

describe('both: every display has a matrix-notation statement, which re-parses and computes the index form', () => {
  for (const [what, src] of [['layer norm', LAYER], ['batch norm', BATCH]] as const)
    it(what, () => {
      const r = derive(src, { matrixNotation: true });
      // a row is assigned transposed: dv = (…)'
      if (what === 'batch norm') expect(r.program).toContain("# matrix notation: dv = (-(v' + 0.00001).^(-1.5) .* (ones(N)'*((X - ones(N)*m') .* dY))/2)'");
      const errors = checkMatrixSources(r.program, randomInputs(check(r.program, DERIVED_LIMITS), {}, seededRandom(23), -1, 1));
      expect(Object.keys(errors).sort()).toEqual(['dX', 'dm', 'dv']);
      for (const [n, e] of Object.entries(errors)) expect(e, n).toBeLessThan(1e-13);
    });
});

describe('batch norm: per-column statistics as column sums', () => {
  const want = {
    // a column statistic times a column sum, dv[d] = f(v[d])·Σₙ …, reads as a row: each per-column
    // vector transposed, the column sums 1ᵀ·G as they are
    v: 'dvᵀ = −(vᵀ + 0.00001)^(-1.5) ⊙ (1ᵀ·((X − 1·mᵀ) ⊙ dY))/2',
    m: 'dmᵀ = (-2/N)·(dvᵀ ⊙ (1ᵀ·(X − 1·mᵀ))) − (1ᵀ·dY) ⊘ sqrt(vᵀ + 0.00001)',
    X: 'dX = 1·dmᵀ/N + (2/N)·((X − 1·mᵀ) ⊙ (1·dvᵀ)) + dY ⊘ sqrt(1·vᵀ + 0.00001)',
  };
  it('the displays, and their meaning built by hand equals the index forms', () => {
    const { r, t } = values(BATCH, 22);
    for (const [x, m] of Object.entries(want)) {
      expect(r.gradients[x]!.matrix).toBe(m);
      expect(() => katex.renderToString(r.gradients[x]!.latex, { throwOnError: true })).not.toThrow();
    }
    const { X, m, v, dY, dv, dm } = t as Record<string, Float64Array>;
    const c = (n: number, d: number) => X![n * D + d]! - m![d]!;
    const e = (d: number) => Math.sqrt(v![d]! + 0.00001);
    const dvHand = Float64Array.from({ length: D }, (_, d) => -sumOver(N, (n) => (0.5 * c(n, d) * dY![n * D + d]!) / e(d) ** 3));
    const dmHand = Float64Array.from({ length: D }, (_, d) => (-2 / N) * sumOver(N, (n) => c(n, d) * dv![d]!) - sumOver(N, (n) => dY![n * D + d]! / e(d)));
    const dXHand = matrix((n, d) => dm![d]! / N + (2 / N) * c(n, d) * dv![d]! + dY![n * D + d]! / e(d));
    for (const [name, hand] of [['dv', dvHand], ['dm', dmHand], ['dX', dXHand]] as const) {
      expect(t[name]!.some((x) => x !== 0)).toBe(true);
      expect(relativeError(hand, t[name]!), name).toBeLessThan(1e-13);
    }
  });
});
