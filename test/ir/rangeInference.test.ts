// A left-side index of an undeclared output runs over the largest range that keeps its reads in
// bounds (docs/language.md). A read that runs backwards — X[H-1-u], a flip — used to leave the range
// unknown ("cannot infer the range of index u"); its range now comes from the far end: u ≤ rest/c.
import { describe, expect, it } from 'vitest';
import { check } from '../../src/index.js';
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
