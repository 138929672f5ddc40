// A left-side index of an undeclared output runs over the largest range that keeps its reads in
// bounds (docs/language.md). A read that runs backwards — X[H-1-u], a flip — used to leave the range
// unknown ("cannot infer the range of index u"); its range now comes from the far end: u ≤ rest/c.
import { describe, expect, it } from 'vitest';
import { check, compile, derive, evaluate } from '../../src/index.js';
import { printSize } from '../../src/ir/sizes.js';
import { checkGradients } from '../helpers.js';

const shapeOf = (source: string, tensor = 'Y') => check(source).tensors.find((t) => t.name === tensor)!.shape.map(printSize);

describe('ranges inferred through negative coefficients', () => {
  const cases: [string, string, string[], Record<string, number>][] = [
    ['a flip, X[H-1-u]', 'dims H\nX: [H]\nY[u] = X[H-1-u]', ['H'], { H: 5 }],
    ['a flip with stride 2, X[H-1-2*u]', 'dims H\nX: [H]\nY[u] = X[H-1-2*u]', ['(H-1)/2+1'], { H: 6 }],
    ['a flipped correlation, X[N-1-i-k] with k over K', 'dims N, K=3\nX: [N]\nW: [K]\nY[i] = sum(k) W[k]*X[N-1-i-k]', ['N+1-K'], { N: 7 }],
    // X[H+1-u] starts 2 past the end: as for X[u-2] (2 before the start, Y over H+4) the padding is
    // taken as the same on both ends
    ['reads past the far end are padding, as at the near end: X[H+1-u]', 'dims H\nX: [H]\nY[u] = X[H+1-u]', ['H+4'], { H: 4 }],
    ['the same for the forward read X[u-2]', 'dims H\nX: [H]\nY[u] = X[u-2]', ['H+4'], { H: 4 }],
    ['a constant start, X[3-u] on a dimension of 8: u runs over 4', 'dims H=8\nX: [H]\nY[u] = X[3-u]', ['4'], {}],
  ];
  for (const [label, source, shape, sizes] of cases)
    it(`${label}: Y is [${shape.join(', ')}] and the gradient agrees with central differences`, () => {
      expect(shapeOf(source)).toEqual(shape);
      const r = checkGradients(source, sizes);
      for (const [name, err] of Object.entries(r.errors)) expect(err, name).toBeLessThan(1e-6);
      expect(Math.max(...Object.values(r.magnitudes))).toBeGreaterThan(0);
    });

  it('a start that is negative leaves no range: the error stays', () => {
    expect(() => check('dims H=8\nX: [H]\nY[u] = X[-2-u]')).toThrow(/cannot infer the range of index u/);
  });
});

describe('a reduction over a sub-range of a dimension', () => {
  it('sum(x:3) C[x] with C: [4] sums the first three (it was a shape mismatch), in the interpreter and the kernels', () => {
    const src = 'C: [4]\ny = sum(x:3) C[x]*C[x]';
    const C = Float64Array.of(1, 2, 3, 4);
    expect(evaluate(src, { C }).y![0]).toBe(14);
    expect(derive(src).gradients.C!.index).toBe('dC[x] = 2*(x < 3)*C[x]');
    const k = compile(src);
    expect(k.forward({ C }).y![0]).toBe(14);
    expect([...k.backward({ C }).dC!]).toEqual([2, 4, 6, 0]);
  });
  it('its gradient agrees with central differences (a sized range, a window of a row)', () => {
    for (const src of ['dims N=5, K=3\nC: [N]\ny = sum(x:K) sin(C[x])*C[x]', 'dims N=2, M=6\nA: [N, M]\nY[n] = sum(j:4) A[n,j]^2']) {
      const r = checkGradients(src);
      for (const [n, e] of Object.entries(r.errors)) expect(e, n).toBeLessThan(1e-6);
      for (const [n, m] of Object.entries(r.magnitudes)) expect(m, n).toBeGreaterThan(0.05);
    }
  });
  it('a range longer than the dimension stays an error, as one that cannot be compared', () => {
    expect(() => check('C: [4]\ny = sum(x:5) C[x]')).toThrow(/index x runs over 5 \(its range in the reduction\) but over 4 in C dimension 1/);
    expect(() => check('dims N=4, K\nC: [N]\ny = sum(x:K) C[x]')).toThrow(/index x runs over K \(its range in the reduction\) but over N/);
  });
});
