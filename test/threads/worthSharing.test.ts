// Which kernels compile(src, { threads: 2 }) shares between threads (plan/worthSharing.ts): a
// program none of whose kernels pays for threads runs every call on the calling thread alone (no
// worker run); where one pays, every kernel that is not small is shared; a forward whose kernels all
// run whole runs alone while the backward is shared. Every result is bitwise one thread's.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { cnnProgram } from '../../examples/models/compiled.js';
import { compile, type ThreadedKernel } from '../../src/index.js';
import { check } from '../../src/ir/check.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { lowerProgram } from '../../src/pipeline.js';
import { costModel } from '../../src/plan/costs.js';
import { shapeOfFactory } from '../../src/pipeline.js';
import { callWorthWorkers, SHARING, weighSharing } from '../../src/plan/worthSharing.js';
import { microModuleText } from '../../src/target/micro.js';
import { Pool } from '../../src/threads/pool.js';
import { differing, inputsOf } from './arrays.js';

const opened: ThreadedKernel[] = [];
afterAll(() => opened.forEach((k) => k.dispose()));

/** each statement's weight, by tensor */
function weights(source: string, sizes: Record<string, number>) {
  const p = check(source);
  const m = costModel(new Map(Object.entries(sizes)));
  const shapeOf = shapeOfFactory(p);
  return Object.fromEntries(p.statements.map((s) => [s.tensor, weighSharing(s, shapeOf, m)]));
}

/** the kernels compile({ threads }) shares, by name */
function sharedKernels(source: string, sizes: Record<string, number>, wrt?: readonly string[]) {
  const p = check(source);
  const known = new Map<string, number>(p.sizes.flatMap((z) => (z.default !== undefined ? [[z.name, z.default] as const] : [])));
  for (const [k, v] of Object.entries(sizes)) known.set(k, v);
  const m = lowerProgram(p, differentiate(p, { unitScalarSeeds: false, ...(wrt ? { wrt } : {}) }), { dtype: 'float32', optimize: true, simd: true, micro: microModuleText, sizes: known, threads: true });
  const all = [...m.forward, ...m.backward];
  return { shared: all.filter((k) => k.threads === 'split').map((k) => k.name), whole: all.filter((k) => k.threads !== 'split').map((k) => k.name) };
}

const RELU = 'dims I\nX: [I]\nY[i] = relu(X[i])';
const ROWS = 'dims N, D\nX: [N, D]\ns[n] = sum(d) exp(X[n,d])';
const MATMUL = 'Y[i,j] = sum(k) A[i,k]*B[k,j]';

describe('the sizes rule', () => {
  it('weighs work against the elements moved: memory-bound kernels fit, compute-bound ones pay, small ones stay whole', () => {
    expect(weights(RELU, { I: 1 << 19 })).toEqual({ Y: 'fits' });
    expect(weights(RELU, { I: 4096 })).toEqual({ Y: 'small' });
    expect(weights(ROWS, { N: 64, D: 256 })).toEqual({ s: 'pays' });
    expect(weights(MATMUL, { I: 64, J: 64, K: 64 })).toEqual({ Y: 'fits' });
    expect(weights(MATMUL, { I: 128, J: 128, K: 128 })).toEqual({ Y: 'pays' });
    expect(weights('dims N, F\nY: [N, F]\nb[f] = sum(n) Y[n,f]', { N: 32, F: 10 })).toEqual({ b: 'small' });
  });

  it('a program where nothing pays shares nothing; with a kernel that pays, every one that is not small is shared', () => {
    expect(sharedKernels(RELU, { I: 1 << 19 }).shared).toEqual([]);
    const both = sharedKernels('dims N, D\nX: [N, D]\nY[n,d] = relu(X[n,d])\ns[n] = sum(d) exp(Y[n,d])', { N: 512, D: 1024 });
    expect(both.shared).toEqual(expect.arrayContaining(['forward_Y', 'forward_s', 'backward_dY', 'backward_dX']));
  });

  it('the MNIST CNN step at batch 32 shares all but its scalar loss, dS, the sums of the filter gradients’ slices and db3', () => {
    const { whole } = sharedKernels(cnnProgram({ image: 28, f1: 8, f2: 16, classes: 10 }), { N: 32 }, ['K1', 'b1', 'K2', 'b2', 'W3', 'b3']);
    expect(whole).toEqual(['forward_L', 'backward_dS', 'backward_dK1', 'backward_dK2', 'backward_db3']);
  });
});

describe('calls with no shared kernel run on the calling thread alone', () => {
  it('a ReLU over 512K floats: no worker run, bitwise one thread, and `threads` still says 2', async () => {
    const run = vi.spyOn(Pool.prototype, 'run');
    const sizes = { I: 1 << 19 };
    const one = compile(RELU, { sizes, dtype: 'float32' });
    const two = compile(RELU, { sizes, dtype: 'float32', threads: 2 });
    opened.push(two);
    expect(two.threads).toBe(2);
    const inputs = inputsOf(one, 3);
    const dY = Float32Array.from({ length: sizes.I }, (_, i) => Math.sin(i));
    expect(differing(one.forward(inputs).Y, (await two.forward(inputs)).Y)).toEqual([]);
    expect(differing(one.backward(inputs, { dY }).dX, (await two.backward(inputs, { dY })).dX)).toEqual([]);
    expect(run).not.toHaveBeenCalled();
    run.mockRestore();
  });

  it('a forward of whole kernels runs alone; its backward, which pays, runs on the workers', async () => {
    // L is a scalar (no parallel loop): whole; dA = exp(A)·dL pays and is shared
    const source = 'dims N, D\nA: [N, D]\nL = sum(n, d) exp(A[n,d])';
    const sizes = { N: 256, D: 512 };
    expect(sharedKernels(source, sizes)).toEqual({ shared: ['backward_dA'], whole: ['forward_L'] });
    const run = vi.spyOn(Pool.prototype, 'run');
    const one = compile(source, { sizes, dtype: 'float64' });
    const two = compile(source, { sizes, dtype: 'float64', threads: 2 });
    opened.push(two);
    const inputs = Object.fromEntries(Object.entries(inputsOf(one, 5)).map(([n, a]) => [n, a.map((x) => x * 0.1)]));
    expect(differing(one.forward(inputs).L, (await two.forward(inputs)).L)).toEqual([]);
    expect(run).not.toHaveBeenCalled();
    const b1 = one.backward(inputs);
    const b2 = await two.backward(inputs);
    expect(differing(b1.dA, b2.dA)).toEqual([]);
    expect(run).toHaveBeenCalledTimes(1);
    run.mockRestore();
  });
});

describe('on a page, a call with little work runs on the page’s thread', () => {
  const work = (source: string, sizes: Record<string, number>, wrt?: readonly string[]) => {
    const p = check(source);
    const m = lowerProgram(p, differentiate(p, { unitScalarSeeds: false, ...(wrt ? { wrt } : {}) }), { dtype: 'float32', optimize: true, simd: true, micro: microModuleText, sizes: new Map(Object.entries(sizes)), threads: true });
    return m.info.work!;
  };
  const MLP =
    'dims N, D, H, C\nX: [N, D]\nYt: [N, C]\nW1: [H, D]\nb1: [H]\nW2: [C, H]\nb2: [C]\n' +
    'A[n,h] = relu(sum(d) W1[h,d] * X[n,d] + b1[h])\nS[n,c] = sum(h) W2[c,h] * A[n,h] + b2[c]\n' +
    'L = sum(n) (logsumexp(c) S[n,c] - sum(c) Yt[n,c] * S[n,c]) / N';

  it('the MLP step 784→256→10 at batch 128 stays on the page; matmul 512³ goes to the workers; Node always hands calls over', () => {
    const mlp = work(MLP, { N: 128, D: 784, H: 256, C: 10 }, ['W1', 'b1', 'W2', 'b2']);
    // two GEMMs of 128·256·784 multiply-adds, forward and backward
    expect(mlp.forward).toBeGreaterThan(2 * 128 * 256 * 784 * 0.99);
    expect(callWorthWorkers(mlp.forward + mlp.backward, true)).toBe(false);
    expect(callWorthWorkers(mlp.forward + mlp.backward, false)).toBe(true);
    const mm = work(MATMUL, { I: 512, J: 512, K: 512 });
    expect(callWorthWorkers(mm.forward, true)).toBe(true);
  });

  it('work counts a row’s logsumexp once per row, as the kernel computes it: softmax cross-entropy’s dS over 512 × 1000 is ~2·10⁷ units, not 8·10⁹', () => {
    const xent = work('dims N, C\nS: [N, C]\nYt: [N, C]\nL = sum(n) (logsumexp(c) S[n,c] - sum(c) Yt[n,c] * S[n,c]) / N', { N: 512, C: 1000 });
    expect(xent.backward).toBeGreaterThan(512 * 1000 * SHARING.HOST_CALL);
    expect(xent.backward).toBeLessThan(512 * 1000 * 64);
    expect(callWorthWorkers(xent.forward + xent.backward, true)).toBe(false);
  });
});
