// δ(⌊u/τ⌋, h) with u summed: u = τ·h + k for the τ values 0 ≤ k < τ, so the sum over u becomes a sum
// over the window k (eliminateDeltas' quotient rule). Before it, the gradient of a nearest
// upsampling kept an equality guard and summed over every element of dY for each element of dX.
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/index.js';
import { checkGradients, layer } from '../helpers.js';

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
    // (the guards, which do not depend on j, stand outside the sum over j: hoistFactors.ts)
    expect(derive('dims A=2\nX: [A, A, A]\nY1: [A, A]\nY1[i,j] = X[i/2,i,i]').gradients.X!.index).toBe('dX[a,i,p2] = ((i - (i%2))/2 == a)*(i == p2)*(sum(j) dY1[i,j])');
  });
});

describe('a quotient of a sum (u + r)/τ is solved for u, and a divisibility factor with it', () => {
  it('the transposed convolution: dX is a strided convolution of dY, not a sum over every output pixel', () => {
    const r = derive(layer('conv_transpose2d'), { wrt: ['X'], steps: true });
    expect(r.gradients.X!.index).toBe('dX[n,c,h,w] = sum(f,i,j) K[c,f,i,j]*dY[n,f,h*T+i-P,w*T+j-P]');
    const steps = r.steps!.join('\n');
    expect(steps).toContain('the factor ((y+P-i)%T == 0) is δ((y+P-i)%T,0)');
    expect(steps).toMatch(/\(y\+P-i\)\/T = h' holds for y\+P-i = h'\*T\+i\d with 0 ≤ i\d < T, that is for y = h'\*T\+i\d\+i-P/);
    const c = checkGradients(layer('conv_transpose2d'), { N: 2, C: 2, H: 3, W: 4, F: 2, T: 3 });
    for (const e of Object.values(c.errors)) expect(e).toBeLessThan(1e-6);
  });

  it("the transposed convolution's dK: a stride-T correlation of dY with X, not every output pixel under a remainder guard", () => {
    const r = derive(layer('conv_transpose2d'), { wrt: ['K'], steps: true });
    expect(r.gradients.K!.index).toBe('dK[c,f,i,j] = sum(n,h,w) X[n,c,h,w]*dY[n,f,h*T+i-P,w*T+j-P]');
    expect(r.steps!.join('\n')).toMatch(/\(y\+P-i'\) % T = 0 holds for y = h\d*\*T\+i'-P with h\d* whole, and X reads 0 unless 0 ≤ h\d* < H: the sum over y becomes a sum over h\d*/);
  });

  // odd sizes, strides 2 and 3, paddings 0 to 2: every T-th output pixel, from its first one
  for (const [T, P] of [[2, 0], [2, 1], [3, 1], [3, 2], [2, 2]] as const)
    it(`the transposed convolution at stride ${T}, padding ${P} agrees with central differences`, () => {
      const c = checkGradients(layer('conv_transpose2d'), { N: 1, C: 3, H: 3, W: 5, F: 2, T, P });
      for (const [name, e] of Object.entries(c.errors)) {
        expect(e, `d${name}`).toBeLessThan(1e-6);
        expect(c.magnitudes[name], `d${name} is not all zero`).toBeGreaterThan(0);
      }
    });

  it('a remainder with a residue and a reversed index: (Q-h)%3 == 1', () => {
    // zero-insertion upsampling read backwards: h = Q-1-3*q for the q that X has
    const src = 'dims H, Q\nX: [H]\nW: [Q]\nY: [Q]\nY[h] = sum(u) W[u]*((Q-h+u)%3 == 1)*X[(Q-h+u)/3]';
    const g = derive(src).gradients;
    expect(g.W!.index).not.toContain('%');
    expect(g.W!.index).not.toContain('==');
    const c = checkGradients(src, { H: 3, Q: 7 });
    for (const [name, e] of Object.entries(c.errors)) expect(e, `d${name}`).toBeLessThan(1e-6);
    expect(c.magnitudes.W!).toBeGreaterThan(0);
  });

  const phases: [string, string, string, Record<string, number>][] = [
    ['a per-phase weight W[y%T]', 'dims N, H, T\nX: [N, H]\nW: [T]\nY: [N, T*H]\nY[n,y] = W[y%T]*X[n,y/T]', 'dW[t] = sum(n,h) X[n,h]*dY[n,h*T+t]', { N: 2, H: 3, T: 3 }],
    ['a phase past the first weight, W[y%2+1]: dW[0] is 0', 'dims N, H\nX: [N, H]\nW: [3]\nY: [N, 2*H]\nY[n,y] = W[y%2+1]*X[n,y/2]', 'dW[p0] = (p0-1 >= 0)*(p0-1 < 2)*(sum(n,h) X[n,h]*dY[n,2*h+p0-1])', { N: 2, H: 5 }],
  ];
  for (const [label, source, index, sizes] of phases)
    it(`${label}: ${index}, every y read once, and it agrees with central differences`, () => {
      expect(derive(source).gradients.W!.index).toBe(index);
      const r = checkGradients(source, sizes);
      for (const [name, e] of Object.entries(r.errors)) expect(e, `d${name}`).toBeLessThan(1e-6);
      expect(r.magnitudes.W!).toBeGreaterThan(0);
    });

  it('upsampling with an offset: Y[h] = X[(h+1)/2]', () => {
    const src = 'dims H\nX: [H]\nY: [2*H-1]\nY[h] = X[(h+1)/2]';
    expect(derive(src).gradients.X!.index).toBe('dX[h] = sum(i:2) dY[2*h+i-1]');
    expect(checkGradients(src, { H: 4 }).errors.X!).toBeLessThan(1e-6);
  });
});
