// The WebGPU target in a real browser: the npm-installed headless Chromium runs WebGPU on the CPU
// (SwiftShader, with --enable-unsafe-webgpu; pages served from http://localhost). One page, one
// browser launch: every layer of examples/layers (the sources of generated/) at odd sizes, strides
// and paddings, and a seeded sample of the property suite's random programs, compiled with
// { target: 'webgpu' } — forward values and every input gradient against the reference interpreter
// (float64, on the same float32 inputs), within float32's tolerance (relative error < 1e-4,
// element-wise and norm-wise, as the JavaScript float32 kernels). Then the GPU-resident API, checked
// in the page. SwiftShader is slow at compiling shaders: the sizes are small, and cases of one
// program share its pipelines (the sizes are a uniform block, not part of the shader).
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, withPage, type Site } from '../browser/chromium.js';
import { describeSizes, expectClose, interpret, layerSource, mismatch, reference } from '../codegen/support.js';
import { check } from '../../src/ir/check.js';
import { resolveSizes, shapeOf } from '../../src/ir/evaluate.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import { generateProgram } from '../property/generate.js';
import { loadDigits, oneHot } from '../../examples/lib/data.js';
import { makeRand } from '../../examples/lib/random.js';
import { momentumOptimizer } from '../../examples/lib/train.js';
import { createCnn } from '../../examples/models/cnn.js';
import type { Case, CaseResult, CnnRun, DataRun } from './page.js';
import { derive, evaluate } from '../../src/index.js';

type Sizes = Record<string, number>;
const TOL = 1e-4;

/** Sizes per layer: odd, non-square, crossing the GEMM's 32×32 tiles and 16-deep slices where there is a GEMM. */
const LAYER_CASES: Record<string, Sizes[]> = {
  affine: [{ N: 37, D: 19, F: 41 }, { N: 1, D: 5, F: 3 }, { N: 3, D: 0, F: 5 }],
  affine_relu: [{ N: 33, D: 17, F: 9 }, { N: 2, D: 3, F: 5 }],
  affine_left: [{ M: 35, P: 18, N: 7 }],
  affine_right: [{ M: 7, P: 33, N: 34 }],
  conv2d: [
    { N: 2, C: 3, H: 7, W: 6, F: 5, R: 3, S: 3, P: 1, T: 1 },
    { N: 3, C: 2, H: 9, W: 8, F: 3, R: 2, S: 3, P: 0, T: 2 },
    { N: 1, C: 2, H: 12, W: 10, F: 3, R: 3, S: 2, P: 2, T: 3 },
    { N: 2, C: 3, H: 5, W: 6, F: 2, R: 1, S: 1, P: 0, T: 1 },
    { N: 2, C: 1, H: 3, W: 2, F: 2, R: 2, S: 3, P: 3, T: 2 },
    { N: 3, C: 4, H: 9, W: 11, F: 37, R: 3, S: 3, P: 1, T: 1 },
  ],
  conv2d_s2p1: [{ N: 3, C: 2, H: 9, W: 6, F: 4 }],
  maxpool2d: [{ N: 3, C: 2, H: 5, W: 7 }, { N: 1, C: 2, H: 1, W: 5 }],
  avgpool2d: [{ N: 3, C: 2, H: 5, W: 7 }],
  maxout: [{ N: 3, D: 5, K: 4 }, { N: 1, D: 2, K: 3, T: 3 }],
  softmax_xent: [{ N: 5, C: 3 }, { N: 67, C: 10 }],
  svm_hinge: [{ N: 5, C: 3 }],
  l2_penalty: [{ D: 9 }, { D: 130 }],
  sgd: [{ D: 11 }],
  sgd_momentum: [{ D: 11 }],
  two_layer_svm: [{ N: 6, D: 7, H: 9, C: 4 }],
};

const layersDir = fileURLToPath(new URL('../../examples/layers/', import.meta.url));
const LAYERS = readdirSync(layersDir).filter((f) => f.endsWith('.dg')).map((f) => f.slice(0, -3)).sort();

/** small distinct values for every size without a default */
function defaultSizes(source: string): Sizes {
  const values = [3, 5, 4, 7, 2, 6];
  return Object.fromEntries(reference(source).forward.sizes.filter((s) => s.default === undefined).map((s, i) => [s.name, values[i % values.length]!]));
}

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** float32 inputs and seeds from a seed, and the interpreter's values on those very numbers */
function makeCase(id: string, source: string, sizes: Sizes, seed: number): { c: Case; expected: ReturnType<typeof interpret> } {
  const p = check(source);
  const rand = seededRandom(seed);
  const resolved = resolveSizes(p, {}, sizes);
  const draw = (n: number) => Array.from({ length: n }, () => Math.fround(rand() * 2 - 1));
  const inputs: Record<string, number[]> = {};
  for (const t of p.tensors) if (t.role === 'input') inputs[t.name] = draw(count(shapeOf(p, t.name, resolved)));
  const seeds: Record<string, number[]> = {};
  for (const t of p.tensors) if (t.role === 'output') seeds[`d${t.name}`] = draw(count(shapeOf(p, t.name, resolved)));
  const allSizes = Object.fromEntries([...resolved]);
  return { c: { id, source, sizes: allSizes, inputs, seeds }, expected: interpret(source, allSizes, inputs, seeds) };
}

// layers with a kernel that binds more tensors than the device allows (SwiftShader: 10 storage
// buffers per shader): refused by name, until a kernel can be split over several passes
const OVER_DEVICE_LIMITS: Record<string, RegExp> = {
  gru_cell: /the kernel backward_dHs \(.*\) binds 11 tensors, and this WebGPU device allows 10 storage buffers per shader/,
};

let cases: { c: Case; expected: ReturnType<typeof interpret>; label: string }[] = [];
for (const name of LAYERS) {
  const source = layerSource(name);
  (LAYER_CASES[name] ?? [defaultSizes(source)]).forEach((sizes, i) => {
    const id = `${name} ${describeSizes(sizes)}`;
    cases.push({ ...makeCase(id, source, sizes, 500 + 31 * i + name.length), label: `layer ${id}` });
  });
}

// the property suite's generator (test/property/generate.ts), a fixed sample of its programs
const PROGRAMS = 8;
const programs = fc.sample(
  fc.tuple(fc.array(fc.nat({ max: 9999 }), { maxLength: 400, size: 'max' }), fc.integer({ min: 1, max: 1_000_000 })).map(([choices, seed]) => generateProgram(choices, seed)),
  { seed: 20_2026, numRuns: PROGRAMS },
);
programs.forEach((g, i) => {
  const p = check(g.source);
  const sizes = Object.fromEntries([...resolveSizes(p, {}, g.sizes)]);
  cases.push({ ...makeCase(`program ${i}`, g.source, sizes, g.seed), label: `random program ${i}:\n${g.source}` });
});

// the CNN example's model: a few steps of SGD with momentum on real digits, on the CPU (the generated
// float64 kernels, examples/models/cnn.ts) and on the GPU (examples/models/cnnWebgpu.ts) from the same
// float32 weights and images
const CNN = { batch: 16, steps: 12, lr: 0.04, images: 64 };
function cpuCnn(): { run: CnnRun; losses: number[]; params: Record<string, Float64Array> } {
  const { train } = loadDigits({ train: CNN.images, test: 0 });
  const images = train.x.map(Math.fround);
  const onehot = oneHot(train.y, 10);
  const model = createCnn(makeRand(20));
  for (const p of model.params) p.data.set(p.data.map(Math.fround));
  const init = Object.fromEntries(model.params.map((p) => [p.name, Array.from(p.data)]));
  const optimizer = momentumOptimizer(model.params, 0.9);
  const losses: number[] = [];
  const batches = Math.floor(CNN.images / CNN.batch);
  for (let s = 0; s < CNN.steps; s++) {
    const b = s % batches;
    const r = model.step(images.subarray(b * CNN.batch * 784, (b + 1) * CNN.batch * 784), onehot.subarray(b * CNN.batch * 10, (b + 1) * CNN.batch * 10), CNN.batch);
    optimizer.step(r.grads, CNN.lr);
    losses.push(r.loss);
  }
  const run: CnnRun = { batch: CNN.batch, steps: CNN.steps, lr: CNN.lr, images: Array.from(images), onehot: Array.from(onehot), init };
  return { run, losses, params: Object.fromEntries(model.params.map((p) => [p.name, p.data])) };
}
const cnn = cpuCnn();

// DELTAGRAD_WEBGPU_CASES=regex runs only the matching cases (when debugging one)
const only = process.env.DELTAGRAD_WEBGPU_CASES;
if (only) cases = cases.filter((x) => new RegExp(only).test(x.c.id));

let site: Site;
let gpuCnn: { losses: number[]; params: Record<string, number[]>; ms: number } | { error: string };
let results: Map<string, CaseResult>;
let resident: [string, string][];
let pageErrors: string[];
let seconds = 0;
let dataRuns: DataRun[];

// programs with integer data (issue 16): the gather, and its scatter-add gradient in gather form
interface DataCase {
  readonly name: string;
  readonly source: string;
  readonly sizes: Record<string, number>;
  readonly ints: Record<string, number[]>;
  readonly bad: Record<string, number[]>;
  readonly message: string;
}
const DATA = (<DataCase[]>[
  {
    name: 'an embedding through a weight, tanh and an offset row',
    source: 'E: [V, D]\nW: [D]\ntok: int[N]\nY[n,d] = tanh(E[tok[n], d] * W[d]) + E[tok[n]+1, d]',
    sizes: { V: 7, D: 5, N: 9 },
    ints: { tok: [3, 0, 3, 5, 3, 0, 1, 5, 3] },
    bad: { tok: [3, 0, 3, 6, 3, 0, 1, 5, 3] },
    message: 'Y: tok[3] = 6 makes the subscript tok[n]+1 of E 7, outside [0, 7) (dimension 1 of E)',
  },
  {
    name: 'cross-entropy with integer labels',
    source: 'S: [N, C]\ny: int[N]\nL = sum(n) (logsumexp(c) S[n,c] - S[n, y[n]]) / N',
    sizes: { N: 6, C: 4 },
    ints: { y: [3, 0, 3, 1, 2, 0] },
    bad: { y: [3, 0, -1, 1, 2, 0] },
    message: 'L: y[2] = -1 makes the subscript y[n] of S -1, outside [0, 4) (dimension 2 of S)',
  },
]).map((d, i) => {
  const p = check(d.source);
  const rand = seededRandom(40 + i);
  const sizes = resolveSizes(p, {}, d.sizes);
  const values = (name: string) => Array.from({ length: shapeOf(p, name, sizes).reduce((a, b) => a * b, 1) }, () => Math.fround(rand() * 2 - 1));
  const inputs = Object.fromEntries(p.tensors.filter((t) => t.role === 'input' && t.elem !== 'int').map((t) => [t.name, values(t.name)]));
  const seeds = Object.fromEntries(p.tensors.filter((t) => t.role === 'output' && t.shape.length > 0).map((t) => [`d${t.name}`, values(t.name)]));
  return { ...d, inputs, seeds };
});

beforeAll(async () => {
  const t0 = performance.now();
  const bundle = await build({ entryPoints: [fileURLToPath(new URL('./page.ts', import.meta.url))], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' });
  site = await serve({ '/index.html': '<!doctype html><meta charset=utf-8><title>deltagrad WebGPU tests</title><script type=module src=/page.js></script>', '/page.js': bundle.outputFiles[0]!.text });
  const sources = { relu: layerSource('relu'), sgd: layerSource('sgd'), affine: layerSource('affine') };
  const out = await withPage(site.url, async (page, errors) => {
    await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true, undefined, { timeout: 30_000 });
    const r = await page.evaluate((cs) => (globalThis as unknown as { runCases(c: Case[]): Promise<CaseResult[]> }).runCases(cs), cases.map((x) => x.c));
    const rc = await page.evaluate((s) => (globalThis as unknown as { residentChecks(s: Record<string, string>): Promise<[string, string][]> }).residentChecks(s), sources);
    const cnnRun = await page.evaluate(
      ([src, run]) => (globalThis as unknown as { trainCnn(s: unknown, r: CnnRun): Promise<typeof gpuCnn> }).trainCnn(src, run),
      [{ conv2d: layerSource('conv2d'), relu: layerSource('relu'), maxpool2d: layerSource('maxpool2d'), affine: layerSource('affine'), softmax_xent: layerSource('softmax_xent'), sgd_momentum: layerSource('sgd_momentum') }, cnn.run] as const,
    );
    const dr: DataRun[] = [];
    for (const d of DATA)
      dr.push(
        await page.evaluate(
          (a) => (globalThis as unknown as { dataRun(...x: typeof a): Promise<DataRun> }).dataRun(...a),
          [d.source, d.sizes, d.inputs, d.ints, d.bad, d.seeds] as const,
        ),
      );
    return { r, rc, cnnRun, errors, dr };
  });
  dataRuns = out.dr;
  results = new Map(out.r.map((r) => [r.id, r]));
  if (process.env.DELTAGRAD_WEBGPU_TIMES) for (const r of out.r) console.log(`${r.id}: ready at ${r.ms?.[0].toFixed(0)} ms, ran ${r.ms?.[1].toFixed(0)} ms`);
  resident = out.rc;
  gpuCnn = out.cnnRun;
  pageErrors = out.errors;
  seconds = (performance.now() - t0) / 1000;
}, 300_000);

afterAll(async () => {
  await site?.close();
});

describe('WebGPU kernels agree with the interpreter (headless Chromium, SwiftShader)', () => {
  it('covers every layer of examples/layers and the sample of random programs', () => {
    expect(LAYERS.length).toBeGreaterThanOrEqual(24);
    for (const name of Object.keys(LAYER_CASES)) expect(LAYERS).toContain(name);
    expect(results.size).toBe(cases.length);
    expect(pageErrors).toEqual([]);
    console.log(`WebGPU page: ${cases.length} cases and the resident checks in ${seconds.toFixed(1)} s`);
  });
  for (const { c, expected, label } of cases) {
    it(label, () => {
      const r = results.get(c.id)!;
      const refused = OVER_DEVICE_LIMITS[c.id.split(' ')[0]!];
      if (refused && r.error && /storage buffers per shader/.test(r.error)) {
        expect(r.error).toMatch(refused);
        return;
      }
      expect(r.error, r.error).toBeUndefined();
      const what = `${c.id} (${describeSizes(c.sizes)})`;
      expect(Object.keys(r.forward!).sort()).toEqual(Object.keys(expected.forward).sort());
      for (const [n, v] of Object.entries(expected.forward)) expectClose(r.forward![n], v, TOL, `${what}: forward ${n}`);
      const inputs = reference(c.source).forward.tensors.filter((t) => t.role === 'input');
      for (const t of inputs) expectClose(r.backward![`d${t.name}`], expected.backward[`d${t.name}`]!, TOL, `${what}: d${t.name}`);
    });
  }
});

describe('integer data on WebGPU: the gather, its gradient, the host check', () => {
  DATA.forEach((d, i) =>
    it(d.name, () => {
      const r = dataRuns[i]!;
      expect(r.error, r.error).toBeUndefined();
      const all = { ...Object.fromEntries(Object.entries(d.inputs).map(([n, v]) => [n, Float64Array.from(v)])), ...d.ints };
      const forward = evaluate(d.source, all, d.sizes);
      for (const [n, v] of Object.entries(forward)) expectClose(r.forward![n], v, TOL, `${d.name}: ${n}`);
      const backward = evaluate(derive(d.source).program, { ...all, ...Object.fromEntries(Object.entries(d.seeds).map(([n, v]) => [n, Float64Array.from(v)])) }, d.sizes);
      for (const n of Object.keys(d.inputs)) {
        expect(backward[`d${n}`]!.some((x) => x !== 0)).toBe(true);
        expectClose(r.backward![`d${n}`], backward[`d${n}`]!, TOL, `${d.name}: d${n}`);
      }
      expect(r.outOfRange).toBe(d.message);
    }),
  );
});

describe('the GPU-resident API (in the page)', () => {
  it('runs every check', () => {
    expect(resident.map(([what]) => what).length).toBeGreaterThanOrEqual(7);
  });
  it.each([0, 1, 2, 3, 4, 5, 6])('check %i', (i) => {
    const [what, problem] = resident[i]!;
    expect(problem, what).toBe('');
  });
});

describe("the CNN example's model on WebGPU (examples/models/cnnWebgpu.ts)", () => {
  it(`trains as on the CPU: ${CNN.steps} steps of batch ${CNN.batch} on real digits, every tensor on the device`, () => {
    const g = gpuCnn;
    if ('error' in g) throw new Error(g.error);
    const worst = Math.max(...[[g.losses, cnn.losses] as const, ...Object.entries(cnn.params).map(([n, w]) => [g.params[n]!, w] as const)].map(([a, e]) => mismatch(a, e).elementwise));
    console.log(`CNN on WebGPU: ${CNN.steps} steps in ${(g.ms / 1000).toFixed(1)} s (SwiftShader: not a timing); losses ${g.losses.map((l) => l.toFixed(3)).join(' ')}; largest relative error against the CPU ${worst.toExponential(1)}`);
    expectClose(g.losses, Float64Array.from(cnn.losses), TOL, 'the losses of every step');
    for (const [name, want] of Object.entries(cnn.params)) expectClose(g.params[name], want, TOL, `${name} after the last step`);
    // and it learns: the last pass over the batches has a lower loss than the first
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(g.losses.slice(-4))).toBeLessThan(0.5 * mean(g.losses.slice(0, 4)));
  });
});
