// The kernels compile(src, { threads: 2 }) shares out beyond the GEMM's blocks: WebAssembly kernels
// (ReLU, pooling, reductions; they run over the threads' shared memory, each worker its share of the
// parallel loop) and the gradients summed over the batch (db, dW: split over their output index, not
// the batch), with GEMM blocks sized so that the two shares are even. Every example layer agrees
// bitwise with one thread at odd sizes (uneven shares), float32 and float64; a split gradient
// matches central differences; the MNIST CNN step runs every kernel split but its scalar loss.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { cnnProgram } from '../../examples/models/compiled.js';
import { compile, type Kernel, type ThreadedKernel } from '../../src/index.js';
import { check } from '../../src/ir/check.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { lowerProgram } from '../../src/pipeline.js';
import { microModuleText } from '../../src/target/micro.js';
import { printModule } from '../../src/target/module.js';
import { arrayOf, differing, elements, inputsOf, type Dtype } from './arrays.js';
import { shareEveryKernel } from '../../src/plan/worthSharing.js';

// small, odd sizes: every kernel shared as at any size, the sizes rule off (plan/worthSharing.ts)
shareEveryKernel(true);

const opened: ThreadedKernel[] = [];
afterAll(() => opened.forEach((k) => k.dispose()));

/** forward and backward (every output seeded) on 2 threads against one thread, bit for bit */
async function expectSame(source: string, sizes: Record<string, number>, dtype: Dtype, what: string) {
  const one = compile(source, { sizes, dtype });
  const two = compile(source, { sizes, dtype, threads: 2 });
  opened.push(two);
  expect(two.threads).toBe(2);
  const inputs = inputsOf(one, 7);
  const f1 = one.forward(inputs);
  const f2 = await two.forward(inputs);
  for (const n of Object.keys(f1)) expect(differing(f1[n], f2[n]), `${what} forward ${n}`).toEqual([]);
  const seeds = Object.fromEntries(one.outputs.map((o) => [`d${o}`, arrayOf(dtype, elements(one, o), (i) => Math.cos(1.3 * i))]));
  const b1 = one.backward(inputs, seeds);
  const b2 = await two.backward(inputs, seeds);
  expect(Object.keys(b2).sort()).toEqual(Object.keys(b1).sort());
  for (const n of Object.keys(b1)) expect(differing(b1[n], b2[n]), `${what} backward ${n}`).toEqual([]);
}

const layerDir = new URL('../../examples/layers/', import.meta.url);
const layers = readdirSync(layerDir).filter((f) => f.endsWith('.dg')).sort();
const ODD = [5, 7, 3, 9, 11, 13];
/** odd sizes, so that a loop of n iterations parts ⌊n/2⌋ against ⌈n/2⌉ */
const oddSizes = (source: string) => Object.fromEntries(check(source).sizes.filter((z) => z.default === undefined).map((z, i) => [z.name, ODD[i % ODD.length]!]));

/** the module compile({ threads }) lowers */
function threadedModule(source: string, sizes: Record<string, number>, dtype: Dtype = 'float64') {
  const p = check(source);
  const known = new Map<string, number>(p.sizes.flatMap((z) => (z.default !== undefined ? [[z.name, z.default] as const] : [])));
  for (const [k, v] of Object.entries(sizes)) known.set(k, v);
  return lowerProgram(p, differentiate(p, { unitScalarSeeds: false }), { dtype, optimize: true, simd: true, micro: microModuleText, sizes: known, threads: true });
}

const RELU_POOL = 'dims N, C, H, W\nX: [N, C, H, W]\nA: [N, C, H, W]\nA[n,c,h,w] = relu(X[n,c,h,w])\nY[n,c,u,v] = max(i:2, j:2) A[n,c, 2*u+i, 2*v+j]';
const AFFINE = 'dims N, D, F\nX: [N, D]\nW: [F, D]\nb: [F]\nY[n,f] = W[f,d]*X[n,d] + b[f]';

describe('every example layer on 2 threads agrees bitwise with one thread (odd sizes)', () => {
  it.each(layers)('%s', async (file) => {
    const source = readFileSync(new URL(file, layerDir), 'utf8');
    for (const dtype of ['float64', 'float32'] as const) await expectSame(source, oddSizes(source), dtype, `${file} ${dtype}`);
  });
});

describe('WebAssembly kernels and batch-summed gradients are split', () => {
  it('ReLU, max pooling and their gradients run as WebAssembly, split, bitwise as one thread', async () => {
    const mod = threadedModule(RELU_POOL, { N: 3, C: 5, H: 10, W: 14 });
    expect([...mod.forward, ...mod.backward].map((k) => [k.name, k.runs, k.threads])).toEqual([
      ['forward_A', 'wasm', 'split'],
      ['forward_Y', 'wasm', 'split'],
      ['backward_dA', 'wasm', 'split'],
      ['backward_dX', 'wasm', 'split'],
    ]);
    // 3 images on 2 threads; 5 channels; odd pooled sizes
    for (const dtype of ['float64', 'float32'] as const) {
      await expectSame(RELU_POOL, { N: 3, C: 5, H: 10, W: 14 }, dtype, `relu-pool ${dtype}`);
      await expectSame(RELU_POOL, { N: 1, C: 3, H: 6, W: 2 }, dtype, `relu-pool N=1 ${dtype}`);
    }
  });

  it('a share writes only its own elements of the shared arrays (no copy-out of a whole array)', async () => {
    // the module the workers run: each share of the WebAssembly ReLU alone, into an array of NaN
    const sizes = { N: 7, C: 1, H: 2, W: 2 };
    const mod = threadedModule(RELU_POOL, sizes);
    const body = printModule({ ...mod, forward: mod.forward.slice(0, 1), backward: [] }, 'js-body', { sharedMemory: true });
    // the runtime's WebAssembly, which TypeScript's ES library does not declare
    const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: object) => { buffer: ArrayBuffer } } }).WebAssembly;
    const memory = new Memory({ initial: 1, maximum: 1, shared: true });
    const fns = new Function('$memory', body)(memory) as Record<string, (t: unknown, s: unknown) => void>;
    const X = new Float64Array(memory.buffer, 64, 28);
    X.set(Array.from({ length: 28 }, (_, i) => i - 10));
    const A = new Float64Array(memory.buffer, 512, 28).fill(NaN);
    fns.forward_A!({ X, A }, { ...sizes, '#part': 1, '#parts': 2 });
    // image n of 7 is part 1's when n ≥ ⌊7/2⌋ = 3: elements 12 … 27
    expect(Array.from(A.slice(0, 12)).every(Number.isNaN)).toBe(true);
    expect(Array.from(A.slice(12))).toEqual(Array.from(X.slice(12)).map((x) => Math.max(x, 0)));
  });

  it('db and dW of the affine layer are split over their output index, not the batch', async () => {
    const mod = threadedModule(AFFINE, { N: 9, D: 13, F: 5 });
    const byName = Object.fromEntries(mod.backward.map((k) => [k.name, k]));
    expect(byName.backward_db!.threads).toBe('split');
    expect(byName.backward_dW!.threads).toBe('split');
    for (const dtype of ['float64', 'float32'] as const) {
      await expectSame(AFFINE, { N: 9, D: 13, F: 5 }, dtype, `affine ${dtype}`);
      // a batch far larger than the outputs: the sum over n stays whole in each element
      await expectSame(AFFINE, { N: 257, D: 3, F: 3 }, dtype, `affine N=257 ${dtype}`);
    }
  });

  it('GEMM blocks part evenly: 1568 columns as 784 + 784, 8 rows by 9 columns as 4 + 4 rows, 32 rows by 10 columns as 16 + 16 rows', () => {
    // a column-block loop is claimed as the threads run (2 blocks of 392 each here, when the other
    // part has taken 2 — preset in its half of the claim word); the row-block loop inside the K
    // slices keeps fixed shares
    const shares = (sizes: Record<string, number>) => {
      const mod = threadedModule('Y[i,j] = sum(k) A[i,k]*B[k,j]', sizes);
      const fns = new Function('$memory', printModule(mod, 'js-body', { sharedMemory: true }))() as Record<string, (t: unknown, s: unknown) => void>;
      const { I, J, K } = sizes as { I: number; J: number; K: number };
      const A = Float64Array.from({ length: I * K }, (_, i) => Math.sin(i));
      const B = Float64Array.from({ length: K * J }, (_, i) => Math.cos(i));
      return [0, 1].map((part) => {
        const Y = new Float64Array(I * J).fill(NaN);
        const claims = new Int32Array(8).fill(part === 0 ? 2 << 16 : 2);
        fns.forward_Y!({ A, B, Y, '#claims': claims }, { ...sizes, '#part': part, '#parts': 2 });
        return Y.filter((y) => !Number.isNaN(y)).length;
      });
    };
    expect(shares({ I: 32, J: 1568, K: 20 })).toEqual([32 * 784, 32 * 784]);
    expect(shares({ I: 8, J: 9, K: 500 })).toEqual([36, 36]);
    // the affine layer of the MNIST CNN's scores: 32 rows (8 panels) part more evenly than 10 columns (3)
    expect(shares({ I: 32, J: 10, K: 300 })).toEqual([160, 160]);
  });

  it('the gradient through split WebAssembly ReLU and pooling matches central differences', async () => {
    const source = 'dims N, C, H, W\nX: [N, C, H, W]\nA: [N, C, H, W]\nP: [N, C, H/2, W/2]\nA[n,c,h,w] = relu(X[n,c,h,w])\nP[n,c,u,v] = max(i:2, j:2) A[n,c, 2*u+i, 2*v+j]\nL = sum(n,c,u,v) P[n,c,u,v]^2';
    const sizes = { N: 3, C: 2, H: 6, W: 4 };
    const k = compile(source, { sizes, threads: 2 });
    opened.push(k);
    expect(k.threads).toBe(2);
    const X = Float64Array.from({ length: 3 * 2 * 6 * 4 }, (_, i) => Math.sin(2.1 * i + 0.4));
    const { dX } = await k.backward({ X });
    const h = 1e-6;
    const loss = async (x: Float64Array) => (await k.forward({ X: x })).L![0]!;
    for (let i = 0; i < X.length; i++) {
      const up = Float64Array.from(X);
      const down = Float64Array.from(X);
      up[i]! += h;
      down[i]! -= h;
      const numeric = ((await loss(up)) - (await loss(down))) / (2 * h);
      expect(Math.abs(dX![i]! - numeric), `dX[${i}]`).toBeLessThan(1e-6 * Math.max(1, Math.abs(numeric)));
    }
  });

  it('the MNIST CNN step: every kernel split but the scalar loss, bitwise as one thread at an odd batch', async () => {
    const source = cnnProgram({ image: 28, f1: 8, f2: 16, classes: 10 });
    const mod = threadedModule(source, { N: 32 });
    const whole = [...mod.forward, ...mod.backward].filter((k) => k.threads !== 'split').map((k) => k.name);
    expect(whole).toEqual(['forward_L']);
    expect([...mod.forward, ...mod.backward].filter((k) => k.runs === 'wasm').length).toBeGreaterThan(8);
    await expectSame(source, { N: 5 }, 'float64', 'cnn f64');
    await expectSame(source, { N: 3 }, 'float32', 'cnn f32');
  });
});
