// A threaded backward copies out of the workers' shared memory only what it returns (the gradients
// of wrt) and what the caller passed in `out` — an intermediate asked for is still written, bitwise
// what one thread writes; one not asked for costs no copy and no array.
import { afterAll, describe, expect, it } from 'vitest';
import { compile, type ThreadedKernel } from '../../src/index.js';
import { shareEveryKernel } from '../../src/plan/worthSharing.js';

// small, odd sizes: every kernel shared as at any size, the sizes rule off (plan/worthSharing.ts)
shareEveryKernel(true);

const SRC = 'dims N=37, D=19, H=23\nX: [N, D]\nW: [H, D]\nV: [H]\nZ[n,h] = W[h,d]*X[n,d]\nA[n,h] = tanh(Z[n,h])\nL = sum(n,h) A[n,h]*V[h]';
const opened: ThreadedKernel[] = [];
afterAll(() => opened.forEach((k) => k.dispose()));

const fill = (n: number, s: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + s) * 0.5);

describe('threaded backward: what is copied out', () => {
  const one = compile(SRC, {});
  const two = compile(SRC, { threads: 2 });
  opened.push(two);
  const inputs = { X: fill(37 * 19, 1), W: fill(23 * 19, 2), V: fill(23, 3) };

  it('returns the gradients bitwise as one thread does, and writes an intermediate passed in out', async () => {
    const out1 = { A: new Float64Array(37 * 23), L: new Float64Array(1) };
    const out2 = { A: new Float64Array(37 * 23), L: new Float64Array(1) };
    const g1 = one.backward(inputs, {}, out1);
    const g2 = await two.backward(inputs, {}, out2);
    expect(Object.keys(g2).sort()).toEqual(['dV', 'dW', 'dX']);
    for (const k of Object.keys(g1)) expect(Array.from(g2[k]!)).toEqual(Array.from(g1[k]!));
    expect(Array.from(out2.A)).toEqual(Array.from(out1.A));
    expect(out2.L[0]).toBe(out1.L[0]);
    expect(out2.A.some((x) => x !== 0)).toBe(true);
  });

  it('without out: only the gradients, the same on every call', async () => {
    const a = await two.backward(inputs, {});
    const b = await two.backward(inputs, {});
    expect(Object.keys(b).sort()).toEqual(['dV', 'dW', 'dX']);
    for (const k of Object.keys(a)) expect(Array.from(b[k]!)).toEqual(Array.from(a[k]!));
  });
});
