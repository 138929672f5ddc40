// The δ of a gradient solved the textbook's way (issue 15: a derivation that is right but
// asymptotically slower is a bug): a stride-1 convolution with numeric sizes keeps its sum over the
// kernel taps, not the output positions, and a flatten into a dense layer is undone by a mixed radix
// (f = f2/49, u = (f2%49)/7, v = f2%7) instead of a sum over f with one valid term. Each form is
// checked against central differences.
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/index.js';
import { checkGradients } from '../helpers.js';

const conv = (x: string) => `dims N=2, C=2, F=3
X: [N, C, ${x}]
K: [F, C, 3, 3]
Y[n,f,u,v] = K[f,c,i,j] * X[n,c,u+i-1,v+j-1]`;

describe('a δ with two unit solutions is solved for the wider index', () => {
  it('stride-1 conv, numeric sizes: dX sums over the 3×3 taps (f,i,j), not the 6×6 outputs', () => {
    const r = derive(conv('6, 6'), { wrt: ['X'] });
    expect(r.gradients.X!.index).toBe('dX[n,c,p2,p3] = sum(f,i,j) K[f,c,i,j]*dY[n,f,p2+1-i,p3+1-j]');
    const c = checkGradients(conv('6, 6'));
    expect(c.errors.X!).toBeLessThan(1e-6);
    expect(c.errors.K!).toBeLessThan(1e-6);
  });

  it('an output narrower than the kernel keeps the sum over the outputs (the narrower range)', () => {
    // 2×2 input, 5×5 kernel reading it at u+i-2: Y is 2×2, so u (2) is kept and i (5) solved for
    const src = 'dims N=2, C=2, F=2\nX: [N, C, 2, 2]\nK: [F, C, 5, 5]\nY[n,f,u,v] = K[f,c,i,j] * X[n,c,u+i-2,v+j-2]';
    expect(derive(src, { wrt: ['X'] }).gradients.X!.index).toBe('dX[n,c,p2,p3] = sum(f,u,v) K[f,c,p2+2-u,p3+2-v]*dY[n,f,u,v]');
    expect(checkGradients(src).errors.X!).toBeLessThan(1e-6);
  });

  it('symbolic sizes keep the choice they had (the golden forms of the example layers)', () => {
    const src = conv('H, W').replace('dims N=2, C=2, F=3', 'dims N, C, F, H, W');
    expect(derive(src, { wrt: ['X'] }).gradients.X!.index).toBe('dX[n,c,h,w] = sum(f,u,v) K[f,c,h+1-u,w+1-v]*dY[n,f,u,v]');
    expect(checkGradients(src, { N: 2, C: 2, F: 2, H: 5, W: 4 }).errors.X!).toBeLessThan(1e-6);
  });
});

describe('a flatten into a dense layer is undone by a mixed radix', () => {
  const flat = (w: string) => `dims N=3, F=2, Q=4
P: [N, F, 3, 2]
W: [Q, ${w}]
S[n,q] = W[q, f*6 + u*2 + v] * P[n,f,u,v]`;

  it('dW[q,f2] reads P at f2/6, (f2%6)/2, f2%2: no sum over f', () => {
    const r = derive(flat('F * 6'), { wrt: ['W'], steps: true });
    expect(r.gradients.W!.index).toBe('dW[q,f] = sum(n) P[n,f/6,(f%6)/2,f%2]*dS[n,q]');
    expect(r.steps!.join('\n')).toContain('(a mixed radix) has the single solution');
    const c = checkGradients(flat('F * 6'));
    expect(c.errors.W!).toBeLessThan(1e-6);
    expect(c.errors.P!).toBeLessThan(1e-6);
  });

  it('a W wider than the decomposition: columns past F·6 read P out of range, so their gradient is 0', () => {
    const c = checkGradients(flat('20'));
    expect(c.errors.W!).toBeLessThan(1e-6);
    // columns 12…19 of every row meet no P
    const dW = c.analytic.W!;
    for (let q = 0; q < 4; q++) for (let k = 12; k < 20; k++) expect(dW[q * 20 + k]).toBe(0);
    expect(Math.max(...Array.from(dW.subarray(0, 12), Math.abs))).toBeGreaterThan(0);
  });

  it('symbolic place values (f·U·V + u·V + v) are a mixed radix too', () => {
    const src = 'dims N, F, U, V, Q\nP: [N, F, U, V]\nW: [Q, F * U * V]\nS[n,q] = W[q, f*U*V + u*V + v] * P[n,f,u,v]';
    expect(derive(src, { wrt: ['W'] }).gradients.W!.index).toBe('dW[q,p1] = sum(n) P[n,p1/(U*V),(p1%(U*V))/V,p1%V]*dS[n,q]');
    const c = checkGradients(src, { N: 2, F: 3, U: 2, V: 3, Q: 2 });
    expect(c.errors.W!).toBeLessThan(1e-6);
    expect(c.errors.P!).toBeLessThan(1e-6);
  });
});
