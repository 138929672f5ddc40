// compile(src, { threads: n }): the kernels on worker threads agree bitwise with one thread (each
// output element is written once, by one worker, in the same summation order), on odd sizes where
// the shares are uneven; run to run the same; Promises; dispose; one thread without shared memory.
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { compile, type Kernel, type ThreadedKernel } from '../../src/index.js';
import { check } from '../../src/ir/check.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { lowerProgram } from '../../src/pipeline.js';
import { microModuleText } from '../../src/target/micro.js';
import { layer } from '../helpers.js';
import { arrayOf, differing, elements, inputsOf, type Arr } from './arrays.js';
import { shareEveryKernel } from '../../src/plan/worthSharing.js';

// small, odd sizes: every kernel shared as at any size, the sizes rule off (plan/worthSharing.ts)
shareEveryKernel(true);

const opened: ThreadedKernel[] = [];
afterAll(() => opened.forEach((k) => k.dispose()));

type Variant = { simd?: boolean; optimize?: boolean };

function both(source: string, sizes: Record<string, number>, dtype: 'float32' | 'float64' = 'float64', variant: Variant = {}, threads = 2) {
  const one = compile(source, { sizes, dtype, ...variant });
  const two = compile(source, { sizes, dtype, threads, ...variant });
  opened.push(two);
  return { one, two };
}

async function expectSame(source: string, sizes: Record<string, number>, dtype: 'float32' | 'float64' = 'float64', seeds?: (k: Kernel) => Record<string, Arr>, variant: Variant = {}, threads = 2) {
  const { one, two } = both(source, sizes, dtype, variant, threads);
  expect(two.threads).toBe(threads);
  const inputs = inputsOf(one, 7);
  const f1 = one.forward(inputs);
  const f2 = await two.forward(inputs);
  for (const n of Object.keys(f1)) expect(differing(f1[n], f2[n]), `forward ${n}`).toEqual([]);
  const s = seeds?.(one) ?? {};
  const b1 = one.backward(inputs, s);
  const b2 = await two.backward(inputs, s);
  expect(Object.keys(b2).sort()).toEqual(Object.keys(b1).sort());
  for (const n of Object.keys(b1)) expect(differing(b1[n], b2[n]), `backward ${n}`).toEqual([]);
  return { one, two, inputs, f1, b1 };
}

const seedFor = (k: Kernel, name: string) => arrayOf(k.dtype, elements(k, name), Math.cos);

describe('threaded kernels agree bitwise with one thread', () => {
  it('matmul 37×53×41 (one block: one worker has all of it) and 131×67×1029 float32 (uneven shares)', async () => {
    await expectSame('Y[i,j] = sum(k) A[i,k]*B[k,j]', { I: 37, K: 53, J: 41 }, 'float64', (k) => ({ dY: seedFor(k, 'Y') }));
    await expectSame('Y[i,j] = sum(k) A[i,k]*B[k,j]', { I: 131, K: 67, J: 1029 }, 'float32', (k) => ({ dY: seedFor(k, 'Y') }));
  });

  it('three threads (the calling thread and two workers): matmul and conv2d with their gradients', async () => {
    await expectSame('Y[i,j] = sum(k) A[i,k]*B[k,j]', { I: 131, K: 67, J: 1029 }, 'float32', (k) => ({ dY: seedFor(k, 'Y') }), {}, 3);
    await expectSame(layer('conv2d'), { N: 5, C: 3, H: 9, W: 11, F: 7 }, 'float64', (k) => ({ dY: seedFor(k, 'Y') }), {}, 3);
  });

  it('conv2d with an odd batch, its input and filter gradients', async () => {
    await expectSame(layer('conv2d'), { N: 5, C: 3, H: 9, W: 11, F: 7 }, 'float64', (k) => ({ dY: seedFor(k, 'Y') }));
    await expectSame(layer('conv2d'), { N: 3, C: 2, H: 13, W: 7, F: 5 }, 'float32', (k) => ({ dY: seedFor(k, 'Y') }));
  });

  it('softmax cross-entropy, log-softmax, max pooling (arg-max records) and the affine layer', async () => {
    await expectSame(layer('softmax_xent'), { N: 13, C: 7 });
    await expectSame(layer('log_softmax'), { N: 11, C: 9 }, 'float64', (k) => ({ [`d${k.outputs[0]}`]: seedFor(k, k.outputs[0]!) }));
    await expectSame(layer('maxpool2d'), { N: 3, C: 5, H: 6, W: 10 }, 'float64', (k) => ({ dY: seedFor(k, 'Y') }));
    await expectSame(layer('affine'), { N: 9, D: 13, F: 5 }, 'float32', (k) => ({ dY: seedFor(k, 'Y') }));
  });

  it('with simd: false (the GEMM in JavaScript) and optimize: false (the naive loops)', async () => {
    const dY = (k: Kernel) => ({ dY: seedFor(k, 'Y') });
    // past one row block (64) and one column block (512): both loops have two iterations to share
    await expectSame('Y[i,j] = sum(k) A[i,k]*B[k,j]', { I: 67, K: 9, J: 515 }, 'float64', dY, { simd: false });
    await expectSame(layer('conv2d'), { N: 5, C: 2, H: 5, W: 7, F: 3 }, 'float32', dY, { simd: false });
    await expectSame(layer('conv2d'), { N: 3, C: 2, H: 5, W: 5, F: 3 }, 'float64', dY, { optimize: false });
  });

  it('column sums (lowerColumnSum: blocks of 512 columns shared out, each summing every row), JavaScript kernels', async () => {
    const dY = (k: Kernel) => ({ dY: seedFor(k, 'Y') });
    // three blocks of columns, the last short: uneven shares
    await expectSame('dims N, F\nX: [N, F]\ndb[f] = sum(n) X[n,f]', { N: 37, F: 1100 }, 'float32', (k) => ({ ddb: seedFor(k, 'db') }), { simd: false });
    await expectSame('dims N, F\nX: [N, F]\nm[f] = mean(n) X[n,f]^2', { N: 5, F: 1029 }, 'float64', (k) => ({ dm: seedFor(k, 'm') }), { simd: false });
    await expectSame(layer('layer_norm'), { N: 7, D: 1029 }, 'float32', dY, { simd: false });
    await expectSame(layer('batch_norm'), { N: 9, C: 1030 }, 'float64', dY, { simd: false });
  });

  it('hvp (a scalar output) gives the same numbers behind a Promise', async () => {
    const source = 'L = sum(i) (sum(j) A[i,j]*x[j])^2';
    const sizes = { I: 7, J: 5 };
    const { one, two } = both(source, sizes);
    const inputs = inputsOf(one, 3);
    const v = Float64Array.from({ length: 5 }, (_, i) => i - 2);
    const h1 = one.hvp!(inputs, { x: v });
    const p = two.hvp!(inputs, { x: v });
    expect(p).toBeInstanceOf(Promise);
    const h2 = await p;
    for (const n of Object.keys(h1)) expect(differing(h1[n], h2[n]), n).toEqual([]);
  });
});

describe('threaded kernels are correct and deterministic', () => {
  it('the threaded gradient of a matmul matches central differences', async () => {
    const sizes = { I: 5, K: 4, J: 3 };
    const k = compile('L = sum(i,j) (sum(k) A[i,k]*B[k,j])^2', { sizes, threads: 2 });
    opened.push(k);
    const A = Float64Array.from({ length: 20 }, (_, i) => Math.sin(i + 1));
    const B = Float64Array.from({ length: 12 }, (_, i) => Math.cos(i));
    const { dA } = await k.backward({ A, B });
    const h = 1e-6;
    for (let i = 0; i < A.length; i++) {
      const up = Float64Array.from(A);
      const down = Float64Array.from(A);
      up[i]! += h;
      down[i]! -= h;
      const numeric = ((await k.forward({ A: up, B })).L![0]! - (await k.forward({ A: down, B })).L![0]!) / (2 * h);
      expect(Math.abs(dA![i]! - numeric)).toBeLessThan(1e-5 * Math.max(1, Math.abs(numeric)));
    }
  });

  it('gives the same bits run to run, and concurrent calls queue without mixing their arrays', async () => {
    const sizes = { I: 70, K: 33, J: 515 };
    const k = compile('Y[i,j] = sum(k) A[i,k]*B[k,j]', { sizes, dtype: 'float32', threads: 2 });
    opened.push(k);
    const a = inputsOf(k as unknown as Kernel, 11);
    const b = inputsOf(k as unknown as Kernel, 12);
    const [ya, yb, ya2] = await Promise.all([k.forward(a), k.forward(b), k.forward(a)]);
    expect(differing(ya!.Y, ya2!.Y)).toEqual([]);
    expect(differing(yb!.Y, compile('Y[i,j] = sum(k) A[i,k]*B[k,j]', { sizes, dtype: 'float32' }).forward(b).Y)).toEqual([]);
  });

  it('the work is split: the GEMM, per-element and WebAssembly kernels are shared out', () => {
    const p = check(layer('conv2d'));
    const mod = lowerProgram(p, differentiate(p, { unitScalarSeeds: false }), {
      dtype: 'float64', optimize: true, simd: true, micro: microModuleText, threads: true,
      sizes: new Map(Object.entries({ N: 5, C: 3, H: 9, W: 11, F: 7, R: 3, S: 3, P: 1, T: 1 })),
    });
    expect(mod.forward.map((k) => [k.name, k.threads ?? 'whole'])).toEqual([['forward_Y', 'split']]);
    const pool = check(layer('maxpool2d'));
    const pooled = lowerProgram(pool, differentiate(pool, { unitScalarSeeds: false }), { dtype: 'float64', optimize: true, simd: true, micro: microModuleText, threads: true, sizes: new Map() });
    // the cost rule runs max pooling as WebAssembly: split too, over the threads' shared memory
    expect(pooled.forward.map((k) => [k.runs, k.threads ?? 'whole'])).toEqual([['wasm', 'split']]);
  });
});

describe('the threaded kernel’s API', () => {
  it('returns Promises; bad input rejects with the message one thread throws', async () => {
    const sizes = { N: 4, D: 6 };
    const { one, two } = both(layer('relu'), sizes);
    expect(two.forward({ X: new Float64Array(24) })).toBeInstanceOf(Promise);
    expect(two.backward({ X: new Float64Array(24) }, { dY: new Float64Array(24) })).toBeInstanceOf(Promise);
    expect(() => one.forward({ X: new Float64Array(3) })).toThrow(/X has 3 elements/);
    await expect(two.forward({ X: new Float64Array(3) })).rejects.toThrow(/X has 3 elements/);
    expect(Object.keys(two).sort()).toEqual(['backward', 'dispose', 'dtype', 'forward', 'inputs', 'outputs', 'shapes', 'sizes', 'threads']);
  });

  it('writes into `out` arrays and rejects out-of-range integer data as one thread throws', async () => {
    const source = 'dims N, V, D\ntok: int[N]\nE: [V, D]\nY[n,d] = E[tok[n], d]';
    const sizes = { N: 5, V: 4, D: 3 };
    const { one, two } = both(source, sizes);
    const E = Float64Array.from({ length: 12 }, (_, i) => i);
    const tok = Int32Array.from([3, 0, 2, 2, 1]);
    const Y = new Float64Array(15);
    const r = await two.forward({ tok, E }, { Y });
    expect(r.Y).toBe(Y);
    expect(differing(Y, one.forward({ tok, E }).Y)).toEqual([]);
    const bad = Int32Array.from([3, 0, 9, 2, 1]);
    const message = (() => {
      try {
        one.forward({ tok: bad, E });
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    })();
    await expect(two.forward({ tok: bad, E })).rejects.toThrow(message);
    // the pool goes on after a kernel threw
    expect(differing((await two.forward({ tok, E })).Y, one.forward({ tok, E }).Y)).toEqual([]);
  });

  it('dispose: later calls reject, and other kernels on the same workers go on', async () => {
    const a = compile(layer('relu'), { sizes: { N: 2, D: 3 }, threads: 2 });
    const b = compile(layer('relu'), { sizes: { N: 3, D: 3 }, threads: 2 });
    opened.push(b);
    await a.forward({ X: new Float64Array(6) });
    a.dispose();
    await expect(a.forward({ X: new Float64Array(6) })).rejects.toThrow(/disposed/);
    expect((await b.forward({ X: Float64Array.from([-1, 2, -3, 4, -5, 6, -7, 8, -9]) })).Y).toEqual(Float64Array.from([0, 2, 0, 4, 0, 6, 0, 8, 0]));
  });

  it('parked workers: back-to-back calls, a kernel compiled between calls, a call after the park ran out', async () => {
    // a worker waits parked (workerSource.ts) for up to 100 ms after a call: the next call is
    // handed over in shared memory; a new kernel's module is posted after the worker is unparked;
    // after the park a call comes as a message again — every path gives one thread's bits
    const source = 'Y[i,j] = sum(k) A[i,k]*B[k,j]';
    const sizes = { I: 37, K: 21, J: 45 };
    const one = compile(source, { sizes });
    const a = compile(source, { sizes, threads: 2 });
    opened.push(a);
    const inputs = inputsOf(one, 3);
    const want = one.forward(inputs).Y;
    for (let call = 0; call < 5; call++) expect(differing((await a.forward(inputs)).Y, want)).toEqual([]);
    const b = compile('Y[i] = sum(k) A[i,k]*x[k]', { sizes: { I: 37, K: 21 }, threads: 2 });
    opened.push(b);
    const x = Float64Array.from({ length: 21 }, (_, i) => i - 10);
    const bOne = compile('Y[i] = sum(k) A[i,k]*x[k]', { sizes: { I: 37, K: 21 } }).forward({ A: inputs.A!, x }).Y;
    expect(differing((await b.forward({ A: inputs.A!, x })).Y, bOne)).toEqual([]);
    expect(differing((await a.forward(inputs)).Y, want)).toEqual([]);
    await new Promise((r) => setTimeout(r, 250));
    expect(differing((await a.forward(inputs)).Y, want)).toEqual([]);
    expect(differing((await b.forward({ A: inputs.A!, x })).Y, bOne)).toEqual([]);
  });

  it('a process whose threaded kernels are not disposed still exits when its work is done', () => {
    const script = `import { compile } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).pathname)};
const k = compile('Y[i,j] = sum(k) A[i,k]*B[k,j]', { sizes: { I: 30, K: 20, J: 40 }, threads: 2 });
const r = await k.backward({ A: new Float64Array(600).fill(1), B: new Float64Array(800).fill(2) }, { dY: new Float64Array(1200).fill(1) });
console.log(r.dA[0]);`;
    const started = performance.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('80');
    // a parked worker (100 ms at most) does not hold the process: exit is not a timeout kill
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(performance.now() - started).toBeLessThan(60_000);
  });

  it('past 4 GiB of arrays (more than one shared WebAssembly memory holds): one thread, still Promises', async () => {
    // 3 × 20 000² float64 = 9.6 GB: compile() allocates nothing for it, and falls back before the pool
    const big = compile('Y[i,j] = sum(k) A[i,k]*B[k,j]', { sizes: { I: 20000, K: 20000, J: 20000 }, threads: 2 });
    expect(big.threads).toBe(1);
    await expect(big.forward({ A: new Float64Array(3), B: new Float64Array(3) })).rejects.toThrow(/A has 3 elements/);
    big.dispose();
    // the same program small: 2 threads
    const fits = compile('Y[i,j] = sum(k) A[i,k]*B[k,j]', { sizes: { I: 8, K: 8, J: 8 }, threads: 2 });
    expect(fits.threads).toBe(2);
    fits.dispose();
  });

  it('checks the option: a whole number from 1 up', () => {
    expect(() => compile(layer('relu'), { threads: 0 })).toThrow(/threads must be a whole number/);
    expect(() => compile(layer('relu'), { threads: 1.5 })).toThrow(/threads must be a whole number/);
  });

  it('threads: 1, or no SharedArrayBuffer (a page without cross-origin isolation): one thread, still Promises', async () => {
    const sizes = { I: 9, K: 5, J: 7 };
    const one = compile('Y[i,j] = sum(k) A[i,k]*B[k,j]', { sizes });
    const single = compile('Y[i,j] = sum(k) A[i,k]*B[k,j]', { sizes, threads: 1 });
    expect(single.threads).toBe(1);
    vi.stubGlobal('SharedArrayBuffer', undefined);
    let fallback: ThreadedKernel;
    try {
      fallback = compile('Y[i,j] = sum(k) A[i,k]*B[k,j]', { sizes, threads: 4 });
    } finally {
      vi.unstubAllGlobals();
    }
    expect(fallback.threads).toBe(1);
    const inputs = inputsOf(one, 5);
    const p = fallback.forward(inputs);
    expect(p).toBeInstanceOf(Promise);
    expect(differing((await p).Y, one.forward(inputs).Y)).toEqual([]);
    expect(differing((await single.forward(inputs)).Y, one.forward(inputs).Y)).toEqual([]);
    fallback.dispose();
    await expect(fallback.forward(inputs)).rejects.toThrow(/disposed/);
  });
});
