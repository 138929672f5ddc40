// δ(⌊u/τ⌋, h) with u summed: u = τ·h + k for the τ values 0 ≤ k < τ, so the sum over u becomes a sum
// over the window k (eliminateDeltas' quotient rule). Before it, the gradient of a nearest
// upsampling kept an equality guard and summed over every element of dY for each element of dX.
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/index.js';
import { checkGradients } from '../helpers.js';

describe('a quotient of a summed index is solved, not left as a guard', () => {
  const cases: [string, string, string, Record<string, number>][] = [
    ['nearest upsampling by 2', 'dims N, H\nX: [N, H]\nY: [N, 2*H]\nY[n,h] = X[n, h/2]', 'dX[n,h] = sum(i:2) dY[n,2*h+i]', { N: 2, H: 3 }],
    ['by 3 with the remainder in the value, a short last window', 'dims N, H\nX: [N, H]\nY: [N, 3*H-1]\nY[n,h] = X[n, h/3] * (h % 3 + 1)', 'dX[n,h] = sum(i:3) (i + 1)*dY[n,3*h+i]', { N: 2, H: 3 }],
    ['2-D nearest upsampling', 'dims N, C, H, W\nX: [N, C, H, W]\nY: [N, C, 2*H, 2*W]\nY[n,c,h,w] = X[n,c,h/2,w/2]', 'dX[n,c,h,w] = sum(i:2,i3:2) dY[n,c,2*h+i,2*w+i3]', { N: 1, C: 2, H: 2, W: 3 }],
    ['a divisor that is a size', 'dims N, H, S=2\nX: [N, H]\nY: [N, S*H]\nY[n,h] = X[n, h/S]', 'dX[n,h] = sum(i:S) dY[n,h*S+i]', { N: 2, H: 3, S: 3 }],
  ];
  for (const [label, source, index, sizes] of cases)
    it(`${label}: ${index}, and it agrees with central differences`, () => {
      expect(derive(source).gradients.X!.index).toBe(index);
      const r = checkGradients(source, sizes);
      expect(r.errors.X!).toBeLessThan(1e-6);
      expect(r.magnitudes.X!).toBeGreaterThan(0);
    });

  it('the derivation says what it did', () => {
    const steps = derive('dims N, H\nX: [N, H]\nY: [N, 2*H]\nY[n,h] = X[n, h/2]', { steps: true }).steps ?? [];
    expect(steps.join('\n')).toMatch(/h\/2 = h' holds for h = 2\*h'\+i\d* with 0 ≤ i\d* < 2; the sum over h becomes a sum over i\d*/);
  });

  it('when another δ fixes the index outright, the quotient stays a guard (no new sum)', () => {
    expect(derive('dims A=2\nX: [A, A, A]\nY1: [A, A]\nY1[i,j] = X[i/2,i,i]').gradients.X!.index).toMatch(/^dX\[a,i,p2\] = sum\(j\) /);
  });
});
