// The page of the WebGPU tests (bundled by webgpu.test.ts with esbuild, run in headless Chromium on
// SwiftShader): it compiles each case for target 'webgpu', runs forward and backward on the data the
// test sends, and returns the numbers for the test to compare with the interpreter; then it checks
// the GPU-resident API (tensors kept on the device, in-place updates, reuse, errors) itself.
import { createGpuCnn, type CnnSources } from '../../examples/models/cnnWebgpu.js';
import { compile, requestGpuDevice, type GpuDevice, type GpuTensor, type WebGpuKernel } from '../../src/index.js';

export interface Case {
  readonly id: string;
  readonly source: string;
  readonly sizes: Record<string, number>;
  readonly inputs: Record<string, number[]>;
  readonly seeds: Record<string, number[]>;
}

export interface CaseResult {
  readonly id: string;
  readonly forward?: Record<string, number[]>;
  readonly backward?: Record<string, number[]>;
  readonly error?: string;
  /** when its pipelines were ready (since all began), and how long its calls took */
  readonly ms?: readonly [number, number];
}

const f32 = (r: Record<string, number[]>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float32Array.from(v)]));
const plain = (r: Record<string, Float32Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v)]));
const message = (e: unknown) => String((e as Error)?.stack ?? e);

let device: Promise<GpuDevice> | undefined;
const theDevice = () => (device ??= requestGpuDevice());

async function runCases(cases: readonly Case[]): Promise<CaseResult[]> {
  const dev = await theDevice();
  const kernels = new Map<string, WebGpuKernel | Error>();
  for (const c of cases) {
    try {
      kernels.set(c.id, compile(c.source, { target: 'webgpu', sizes: c.sizes, device: dev }));
    } catch (e) {
      kernels.set(c.id, e as Error);
    }
  }
  // the pipelines of every case at once: the GPU process compiles them side by side
  const t0 = performance.now();
  const made = new Map<string, number>();
  await Promise.all([...kernels].map(([id, k]) => (k instanceof Error ? undefined : k.gpu().then(() => void made.set(id, performance.now() - t0)).catch(() => undefined))));
  const out: CaseResult[] = [];
  for (const c of cases) {
    const k = kernels.get(c.id)!;
    try {
      if (k instanceof Error) throw k;
      const t1 = performance.now();
      const forward = await k.forward(f32(c.inputs));
      const backward = await k.backward(f32(c.inputs), f32(c.seeds));
      out.push({ id: c.id, forward: plain(forward), backward: plain(backward), ms: [made.get(c.id) ?? 0, performance.now() - t1] });
    } catch (e) {
      out.push({ id: c.id, error: message(e) });
    }
  }
  return out;
}

/** The GPU-resident API, checked here: [what, problem or ''] */
async function residentChecks(sources: Record<string, string>): Promise<[string, string][]> {
  const dev = await theDevice();
  const results: [string, string][] = [];
  const check = async (what: string, f: () => Promise<void> | void) => {
    try {
      await f();
      results.push([what, '']);
    } catch (e) {
      results.push([what, message(e)]);
    }
  };
  const near = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
    if (a.length !== b.length) throw new Error(`${what}: ${a.length} values, expected ${b.length}`);
    for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i]! - b[i]!) <= 1e-5 * Math.max(1, Math.abs(b[i]!)))) throw new Error(`${what}[${i}] = ${a[i]}, expected ${b[i]}`);
  };
  const throwsWith = (f: () => unknown, pattern: RegExp, what: string) => {
    try {
      f();
    } catch (e) {
      if (!pattern.test((e as Error).message)) throw new Error(`${what}: the error "${(e as Error).message}" does not match ${pattern}`);
      return;
    }
    throw new Error(`${what}: no error`);
  };
  const relu = await compile(sources.relu!, { target: 'webgpu', sizes: { N: 2, D: 3 }, device: dev }).gpu();
  const sgd = await compile(sources.sgd!, { target: 'webgpu', sizes: { D: 5 }, device: dev }).gpu();
  const affine = await compile(sources.affine!, { target: 'webgpu', sizes: { N: 2, D: 3, F: 4 }, device: dev }).gpu();
  const square = await compile(sources.affine!, { target: 'webgpu', sizes: { N: 2, D: 4, F: 4 }, device: dev }).gpu();
  const X = Float32Array.of(-1, 2, -3, 4, -5, 6);
  await check('a layer output feeds the next layer on the device', async () => {
    const x = relu.tensor('X', X);
    const f1 = relu.forward({ X: x });
    const f2 = relu.forward({ X: f1.Y! }); // relu(relu(X)): Y never left the GPU
    near(await f2.Y!.read(), [0, 2, 0, 4, 0, 6], 'relu(relu(X))');
    const { dX } = relu.backward({ X: x }, { dY: Float32Array.of(1, 1, 1, 1, 1, 1) }, { forward: f1 });
    near(await dX!.read(), [0, 1, 0, 1, 0, 1], 'dX');
  });
  await check('forward(inputs, out) reuses the tensors of an earlier forward', async () => {
    const f1 = relu.forward({ X });
    const f2 = relu.forward({ X: X.map((v) => -v) }, f1);
    if (f2.Y !== f1.Y) throw new Error('a new tensor for Y');
    near(await f2.Y!.read(), [1, 0, 3, 0, 5, 0], 'Y');
  });
  await check('sgd updates W in place on the device (Wnew is W)', async () => {
    const W = sgd.tensor('W', Float32Array.of(1, 2, 3, 4, 5));
    const G = sgd.tensor('G', Float32Array.of(1, 1, 1, 1, 1));
    for (let step = 0; step < 3; step++) sgd.forward({ W, G, lr: 0.5 }, { Wnew: W });
    near(await W.read(), [-0.5, 0.5, 1.5, 2.5, 3.5], 'W after 3 steps');
  });
  await check('an output may not share a tensor with an input it cannot update in place', () => {
    // X and Y have one shape here, but the GEMM reads rows of X after writing rows of Y
    const x = square.tensor('X', Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const W = square.tensor('W', new Float32Array(16));
    const b = square.tensor('b', new Float32Array(4));
    throwsWith(() => square.forward({ X: x, W, b }, { Y: x }), /Y and X are the same GpuTensor/, 'Y over X');
  });
  await check('wrong lengths, foreign objects and unknown names are refused', () => {
    throwsWith(() => relu.forward({ X: new Float32Array(5) }), /input X has 5 elements but its shape \[2, 3\] needs 6/, 'short X');
    throwsWith(() => relu.forward({ X: new Float64Array(6) as unknown as Float32Array }), /input X must be a GpuTensor, a Float32Array or a number, got Float64Array/, 'Float64Array');
    throwsWith(() => relu.forward({ X, Z: X }), /Z is not an input/, 'Z');
    throwsWith(() => relu.forward({ X }, { Q: relu.tensor('Y') }), /Q is not an output/, 'out.Q');
    throwsWith(() => relu.backward({ X }, {}, { wrt: ['Q'] }), /wrt names Q/, 'wrt Q');
    throwsWith(() => relu.backward({ X }, { dY: X }, { forward: { Y: relu.tensor('Y') } }), /opts.forward must be what this kernel's forward returned/, 'forward');
  });
  await check('backward with wrt runs only the kernels it needs', async () => {
    const x = affine.tensor('X', Float32Array.of(1, 2, 3, 4, 5, 6));
    const W = affine.tensor('W', Float32Array.from({ length: 12 }, (_, i) => i / 10));
    const b = affine.tensor('b', Float32Array.of(1, 0, -1, 0.5));
    const f = affine.forward({ X: x, W, b });
    const g = affine.backward({ X: x, W, b }, { dY: Float32Array.of(1, 0, 0, 0, 0, 0, 0, 1) }, { forward: f, wrt: ['b'] });
    if (Object.keys(g).join() !== 'db') throw new Error(`gradients ${Object.keys(g).join()}`);
    near(await g.db!.read(), [1, 0, 0, 1], 'db');
    near(await f.Y!.read(), [1.8, 2.6, 3.4, 6.7, 2.7, 6.2, 9.7, 15.7], 'Y');
  });
  await check('a tensor of another device is refused', async () => {
    const other = await requestGpuDevice();
    const k = await compile(sources.relu!, { target: 'webgpu', sizes: { N: 2, D: 3 }, device: other }).gpu();
    const x: GpuTensor = relu.tensor('X', X);
    throwsWith(() => k.forward({ X: x }), /input X lives on another WebGPU device/, 'device');
  });
  return results;
}

export interface CnnRun {
  readonly batch: number;
  readonly steps: number;
  readonly lr: number;
  /** images [n, 1, 28, 28] and one-hot labels [n, 10]; step s takes batch s mod ⌊n/batch⌋ */
  readonly images: number[];
  readonly onehot: number[];
  readonly init: Record<string, number[]>;
}

/** The CNN example's model on the GPU (examples/models/cnnWebgpu.ts): the loss of every step, and the parameters after the last */
async function trainCnn(sources: CnnSources, run: CnnRun): Promise<{ losses: number[]; params: Record<string, number[]>; ms: number } | { error: string }> {
  try {
    return await train(sources, run);
  } catch (e) {
    return { error: message(e) };
  }
}

async function train(sources: CnnSources, run: CnnRun): Promise<{ losses: number[]; params: Record<string, number[]>; ms: number }> {
  const t0 = performance.now();
  const cnn = await createGpuCnn(await theDevice(), sources, { batch: run.batch }, Math.random, f32(run.init));
  const images = Float32Array.from(run.images);
  const onehot = Float32Array.from(run.onehot);
  const batches = Math.floor(onehot.length / 10 / run.batch);
  const losses: number[] = [];
  for (let s = 0; s < run.steps; s++) {
    const b = s % batches;
    losses.push(await cnn.step(images.subarray(b * run.batch * 784, (b + 1) * run.batch * 784), onehot.subarray(b * run.batch * 10, (b + 1) * run.batch * 10), run.lr));
  }
  return { losses, params: plain(await cnn.params()), ms: performance.now() - t0 };
}

export interface DataRun {
  readonly forward?: Record<string, number[]>;
  readonly backward?: Record<string, number[]>;
  /** the message of a forward with the `bad` data */
  readonly outOfRange?: string;
  readonly error?: string;
}

/** A program with integer data: forward and backward (the data as Int32Arrays), then a forward with
 *  out-of-range data, which the host's check must refuse. */
async function dataRun(source: string, sizes: Record<string, number>, inputs: Record<string, number[]>, ints: Record<string, number[]>, bad: Record<string, number[]>, seeds: Record<string, number[]>): Promise<DataRun> {
  try {
    const k = compile(source, { target: 'webgpu', sizes, device: await theDevice() });
    const i32 = (r: Record<string, number[]>) => Object.fromEntries(Object.entries(r).map(([n, v]) => [n, Int32Array.from(v)]));
    const x = { ...f32(inputs), ...i32(ints) };
    const forward = plain(await k.forward(x));
    const backward = plain(await k.backward(x, f32(seeds)));
    let outOfRange = '(no error)';
    try {
      await k.forward({ ...x, ...i32(bad) });
    } catch (e) {
      outOfRange = (e as Error).message;
    }
    return { forward, backward, outOfRange };
  } catch (e) {
    return { error: message(e) };
  }
}

Object.assign(globalThis, { runCases, residentChecks, trainCnn, dataRun, ready: true });
