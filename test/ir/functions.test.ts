// The functions users reach for: floor ceil round sign (gradient 0 almost everywhere), tan atan atan2
// asin acos sinh cosh asinh acosh atanh erf log2 log10 cbrt clamp, and the product reduction
// prod(i) e — values, gradients by central differences, kernels against the interpreter, LaTeX.
import katex from 'katex';
import { describe, expect, it } from 'vitest';
import { compile, derive, evaluate } from '../../src/index.js';
import { relativeError } from '../../src/ir/gradcheck.js';
import { erf } from '../../src/ir/linalg.js';
import { checkGradients } from '../helpers.js';

describe('values', () => {
  it('as Math computes them; round takes halves up (toward +∞); clamp(x, lo, hi)', () => {
    const X = Float64Array.of(-2.5, -0.4, 0.5, 1.7);
    const out = evaluate('dims N=4\nX: [N]\nF[i] = floor(X[i])\nC[i] = ceil(X[i])\nR[i] = round(X[i])\nS[i] = sign(X[i])\nK[i] = clamp(X[i], -1, 1)', { X });
    expect([...out.F!]).toEqual([-3, -1, 0, 1]);
    expect([...out.C!]).toEqual([-2, -0, 1, 2]);
    expect([...out.R!]).toEqual([-2, -0, 1, 2]);
    expect([...out.S!]).toEqual([-1, -1, 1, 1]);
    expect([...out.K!]).toEqual([-1, -0.4, 0.5, 1]);
    const f = evaluate('y = tan(x) + atan(x) + atan2(x, 2) + asin(x) + acos(x) + sinh(x) + cosh(x) + asinh(x) + atanh(x) + log2(x) + log10(x) + cbrt(x)', { x: 0.3 }).y![0]!;
    const x = 0.3;
    expect(f).toBeCloseTo(Math.tan(x) + Math.atan(x) + Math.atan2(x, 2) + Math.asin(x) + Math.acos(x) + Math.sinh(x) + Math.cosh(x) + Math.asinh(x) + Math.atanh(x) + Math.log2(x) + Math.log10(x) + Math.cbrt(x), 14);
  });
  it('erf to about 1e-15 (its Taylor series, and erfc continued fraction past 2.5)', () => {
    // reference values: Abramowitz & Stegun table 7.1 / mpmath
    const table: [number, number][] = [[0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [2.5, 0.999593047982555], [3, 0.9999779095030014], [-1.5, -0.9661051464753108], [6, 1]];
    for (const [x, v] of table) expect(Math.abs(erf(x) - v)).toBeLessThan(2e-15);
    expect(erf(Infinity)).toBe(1);
    expect(Number.isNaN(erf(Number.NaN))).toBe(true);
  });
  it('prod(i) e: the product, 1 over no terms', () => {
    expect(evaluate('dims N=4\nX: [N]\nL = prod(i) X[i]', { X: [2, -3, 0.5, 4] }).L![0]).toBe(-12);
    expect(evaluate('dims N=0\nX: [N]\nL = prod(i) X[i]', { X: [] }).L![0]).toBe(1);
  });
});

describe('gradients agree with central differences', () => {
  const CASES: [string, string][] = [
    ['tan atan asin acos', 'dims N=4\nX: [N]\nY[i] = tan(X[i]) + atan(X[i]) + asin(X[i]/2) + acos(X[i]/2)'],
    ['sinh cosh asinh atanh', 'dims N=4\nX: [N]\nY[i] = sinh(X[i]) + cosh(X[i]) + asinh(X[i]) + atanh(X[i]/2)'],
    ['acosh log2 log10 cbrt erf', 'dims N=4\nX: [N]\nY[i] = acosh(X[i] + 2) + log2(X[i] + 2) + log10(X[i] + 2) + cbrt(X[i]) + erf(X[i])'],
    ['atan2 and clamp (all three arguments)', 'dims N=4\nX: [N]\nZ: [N]\nlo: []\nY[i] = atan2(X[i], Z[i]) + clamp(X[i], lo, Z[i])'],
    ['floor ceil round sign: 0 through the steps', 'dims N=4\nX: [N]\nY[i] = floor(X[i]*3)*X[i] + ceil(X[i]) + round(X[i]*2)*X[i] + sign(X[i])*X[i]'],
    ['prod', 'dims N=3, M=4\nX: [N, M]\nY[n] = prod(m) (X[n,m] + 0.5)'],
  ];
  for (const [what, src] of CASES)
    it(what, () => {
      const r = checkGradients(src, {}, { seed: 3 });
      for (const [n, e] of Object.entries(r.errors)) expect(e, n).toBeLessThan(1e-6);
      for (const [n, m] of Object.entries(r.magnitudes)) expect(m, n).toBeGreaterThan(0.05);
    });
  it('the steps and sign have a zero gradient, documented', () => {
    expect(derive('y = floor(x) + ceil(x) + round(x) + sign(x)').gradients.x!.index).toBe('dx = 0');
  });
  it("prod's gradient needs no division: at a zero it is the product of the others", () => {
    const src = 'dims N=4\nX: [N]\nL = prod(i) X[i]';
    expect(derive(src).gradients.X!.index).toBe('dX[i] = prod(i2) where(i2 == i, 1, X[i2])');
    const out = evaluate(derive(src).program, { X: [2, 0, 3, 0] });
    expect([...out.dX!]).toEqual([0, 0, 0, 0]);
    expect([...evaluate(derive(src).program, { X: [2, 0, 3, 5] }).dX!]).toEqual([0, 30, 0, 0]);
    expect([...compile(src).backward({ X: Float64Array.of(2, 0, 3, 5) }).dX!]).toEqual([0, 30, 0, 0]);
  });
});

describe('kernels and LaTeX', () => {
  it('the kernels compute what the interpreter does', () => {
    const src =
      'dims N=5\nX: [N]\nZ: [N]\nY[i] = erf(X[i]) + clamp(X[i], -0.5, Z[i]) + round(X[i]*2) + floor(X[i]) + ceil(X[i]) + sign(X[i]) + tan(X[i]) + atan2(X[i], Z[i]) + cbrt(X[i]) + log2(Z[i] + 2)\nL = prod(i) Y[i]';
    const X = Float64Array.of(0.3, 0.7, -2, 1.5, 3.2);
    const Z = Float64Array.of(1, -1, 0.5, 1, 2);
    const ref = evaluate(derive(src).program, { X, Z });
    const k = compile(src);
    const f = k.forward({ X, Z });
    expect(relativeError(f.Y!, ref.Y!)).toBeLessThan(1e-13);
    const b = k.backward({ X, Z });
    for (const n of ['dX', 'dZ']) expect(relativeError(b[n]!, ref[n]!), n).toBeLessThan(1e-12);
  });
  it('every new function and prod render in KaTeX', () => {
    const src = 'y = floor(x) + ceil(x) + round(x) + sign(x) + tan(x) + atan(x) + atan2(x, z) + asin(x) + acos(x) + sinh(x) + cosh(x) + asinh(x) + acosh(x) + atanh(x) + erf(x) + log2(x) + log10(x) + cbrt(x) + clamp(x, z, 2)\ndims N=3\nV: [N]\np = prod(i) V[i]';
    for (const g of Object.values(derive(src).gradients)) expect(() => katex.renderToString(g.latex, { throwOnError: true })).not.toThrow();
  });
});
