// compile() sums a long, narrow product (a conv's filter gradient) in slices of its batch
// (src/lower/splitLongSums.ts): the same values as the one long sum up to rounding, the same bits on
// any number of threads, and emit() (no sizes) keeps the one sum.
import { describe, expect, it } from 'vitest';
import { compile, emit } from '../../src/index.js';
import { check } from '../../src/ir/check.js';
import { evaluate } from '../../src/ir/evaluate.js';
import { numericGradient, relativeError, seededRandom } from '../../src/ir/gradcheck.js';
import { lowerProgram } from '../../src/pipeline.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { microModuleText } from '../../src/target/micro.js';
import { shareEveryKernel } from '../../src/plan/worthSharing.js';

// small, odd sizes: every kernel shared as at any size, the sizes rule off (plan/worthSharing.ts)
shareEveryKernel(true);

// a 1-D conv (3 taps, padding 1) over 256 steps: dK sums N·256 products for each of its 4·2·3 values
const CONV = `dims N, F=4, C=2
X: [N, C, 256]
K: [F, C, 3]
Y[n,f,t] = K[f,c,i] * X[n,c,t+i-1]
L = sum(n,f,t) Y[n,f,t]*Y[n,f,t] / N
`;
// a 2-D conv's filter gradient alone, as a forward statement: 72 values, each a sum of N·256 products
const FILTER = `dims N, F=4, C=2
X: [N, C, 16, 16]
dY: [N, F, 16, 16]
dK[f,c,i,j] = dY[n,f,u,v] * X[n,c,u+i-1,v+j-1]
`;

const kernelNames = (source: string, sizes: Record<string, number>) => {
  const p = check(source);
  const grads = differentiate(p, { unitScalarSeeds: false, steps: false });
  const m = lowerProgram(p, grads, { dtype: 'float64', optimize: true, simd: true, micro: microModuleText, sizes: new Map([...p.sizes.flatMap((z) => (z.default !== undefined ? [[z.name, z.default] as const] : [])), ...Object.entries(sizes)]), threads: true });
  return { forward: m.forward.map((k) => [k.name, k.threads] as const), backward: m.backward.map((k) => [k.name, k.threads] as const) };
};

const random = (seed: number) => {
  const rand = seededRandom(seed);
  return (n: number) => Float64Array.from({ length: n }, () => rand() * 2 - 1);
};

describe('splitLongSums: a long, narrow product in slices', () => {
  it('the filter gradient of a conv at batch 32 is 8 partial products (split between threads) and their sum', () => {
    const { forward, backward } = kernelNames(CONV, { N: 32 });
    expect(backward.map(([n]) => n)).toEqual(expect.arrayContaining(['backward_dKparts', 'backward_dK']));
    expect(backward.findIndex(([n]) => n === 'backward_dKparts')).toBeLessThan(backward.findIndex(([n]) => n === 'backward_dK'));
    expect(backward.find(([n]) => n === 'backward_dKparts')![1]).toBe('split');
    expect(forward.map(([n]) => n)).toEqual(['forward_Y', 'forward_L']);
    // a forward statement is split as well, its partials a forward intermediate
    expect(kernelNames(FILTER, { N: 32 }).forward.map(([n]) => n)).toEqual(['forward_dKparts', 'forward_dK']);
  });

  it('no split where the batch has no divisor up to 8, where the contraction is short, or without sizes (emit)', () => {
    expect(kernelNames(FILTER, { N: 31 }).forward.map(([n]) => n)).toEqual(['forward_dK']);
    // N·256 = 512 products per value: too short to be worth slices
    expect(kernelNames(FILTER, { N: 2 }).forward.map(([n]) => n)).toEqual(['forward_dK']);
    expect(emit(FILTER)).not.toContain('dKparts');
  });

  it('the sliced sums equal the interpreter’s, and the conv’s gradients central differences', () => {
    const make = random(11);
    const sizes = { N: 32 };
    const inputs = { X: make(32 * 2 * 256), dY: make(32 * 4 * 256) };
    const want = evaluate(FILTER, inputs, { sizes }).dK!;
    const got = compile(FILTER, { sizes }).forward(inputs).dK!;
    expect(relativeError(got, want)).toBeLessThan(1e-12);

    const convInputs = { X: make(32 * 2 * 256), K: make(4 * 2 * 3) };
    const grads = compile(CONV, { sizes }).backward(convInputs);
    const numeric = numericGradient(check(CONV), convInputs, {}, 'K', { sizes });
    expect(relativeError(grads.dK!, numeric)).toBeLessThan(1e-6);
  });

  it('the same bits on 1, 2 and 3 threads, run after run', async () => {
    const make = random(5);
    const sizes = { N: 32 };
    const inputs = { X: make(32 * 2 * 256), K: make(4 * 2 * 3) };
    const results: ArrayLike<number>[] = [];
    for (const threads of [1, 2, 3]) {
      const k = compile(CONV, { sizes, threads });
      try {
        for (let run = 0; run < 2; run++) results.push((await k.backward(inputs)).dK!);
      } finally {
        k.dispose();
      }
    }
    for (const r of results.slice(1)) expect(Array.from(r)).toEqual(Array.from(results[0]!));
  });
});
