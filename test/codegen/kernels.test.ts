// Compiled kernels against the reference interpreter, on seeded random data: every layer in
// examples/layers (and any file added there later, at default test sizes), in float64 (relative
// error < 1e-9) and float32 (< 1e-4), optimized and naive, forward outputs and every input gradient.
// Then the generated/ library through its Operator API, on the same terms (float64).
//
// Sizes are odd and non-square on purpose (H ≠ W, R ≠ S, N ≠ D ≠ F) so that a swapped stride or
// extent shows; batch 1 and > 1; the convolution at stride 1, 2, 3 × padding 0, 1, 2; the matmul
// kernels at sizes that cross their cache blocks (64 rows, 256 deep, 512 columns) and are not
// multiples of the register tile; degenerate cases (a contraction of length 0, pooling that leaves
// no window) where the code has special paths.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compile, emit, type Dtype } from '../../src/codegen/compile.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import * as lib from '../../generated/index.js';
import { LIBRARY } from '../../scripts/generateLibrary.js';
import type { Operator, ProgramInfo } from '../../src/codegen/operator.js';
import {
  compareWithInterpreter,
  describeSizes,
  expectClose,
  interpret,
  layerSource,
  makeArray,
  randomData,
  reference,
  TOLERANCE,
} from './support.js';

type Sizes = Record<string, number>;

const convSweep: Sizes[] = [];
for (const T of [1, 2, 3])
  for (const P of [0, 1, 2])
    for (const N of [1, 3]) {
      // odd, non-square images and a non-square kernel; the sizes vary with the case so that the
      // last window sometimes ends exactly at the border and sometimes leaves a remainder
      const R = N === 1 ? 3 : 2;
      const S = N === 1 ? 2 : 3;
      convSweep.push({ N, C: 2, H: 7 + T + P, W: 6 + 2 * T - P, F: 3, R, S, P, T });
    }
// register tiles (4 filters/channels × 4 images): whole tiles, 4×1 and 1×4 edges and a 1×1 corner
for (const [T, P] of [[1, 1], [2, 0], [3, 2]] as const) {
  convSweep.push({ N: 5, C: 6, H: 6 + T, W: 7, F: 7, R: 3, S: 2, P, T });
  convSweep.push({ N: 8, C: 4, H: 5, W: 5 + T, F: 4, R: 2, S: 3, P, T });
}

// strides that are multiples of 1 KiB, so the tiled kernels read X, dY or K from a padded copy
// (H·W = 256: X and dY in both dtypes; C·R·S = 128 and H·W = 128: K and X in float64)
convSweep.push({ N: 5, C: 3, H: 16, W: 16, F: 5, R: 3, S: 3, P: 1, T: 1 });
convSweep.push({ N: 4, C: 8, H: 8, W: 16, F: 6, R: 4, S: 4, P: 2, T: 2 });

/** Sizes per layer; a layer not listed gets one case from `defaultSizes`. */
const CASES: Record<string, Sizes[]> = {
  affine: [
    { N: 1, D: 5, F: 3 },
    { N: 7, D: 5, F: 3 },
    { N: 9, D: 11, F: 13 },
    { N: 3, D: 0, F: 5 }, // empty contraction: Y = b
    { N: 67, D: 261, F: 13 }, // crosses the 64-row and 256-deep blocks
    { N: 5, D: 3, F: 517 }, // crosses the 512-column block
  ],
  affine_relu: [
    { N: 1, D: 5, F: 3 },
    { N: 7, D: 5, F: 3 },
    { N: 9, D: 11, F: 13 },
    { N: 3, D: 0, F: 5 },
    { N: 67, D: 261, F: 13 },
    { N: 5, D: 3, F: 517 },
  ],
  affine_left: [
    { M: 1, P: 3, N: 5 },
    { M: 7, P: 5, N: 3 },
    { M: 66, P: 259, N: 9 },
  ],
  affine_right: [
    { M: 1, P: 3, N: 5 },
    { M: 7, P: 5, N: 3 },
    { M: 66, P: 259, N: 9 },
  ],
  relu: [
    { N: 1, D: 1 },
    { N: 3, D: 7 },
  ],
  sigmoid: [
    { N: 1, D: 1 },
    { N: 3, D: 7 },
  ],
  tanh: [
    { N: 1, D: 1 },
    { N: 3, D: 7 },
  ],
  elu: [
    { N: 1, D: 1 },
    { N: 3, D: 7 },
  ],
  maxout: [
    { N: 3, D: 5, K: 4 },
    { N: 1, D: 2, K: 3, T: 3 },
    { N: 5, D: 7, K: 2, T: 1 },
  ],
  conv2d: [
    ...convSweep,
    { N: 2, C: 3, H: 5, W: 6, F: 2, R: 1, S: 1, P: 0, T: 1 }, // 1×1
    { N: 2, C: 1, H: 3, W: 2, F: 2, R: 2, S: 3, P: 3, T: 2 }, // padding wider than the kernel: rows of bias only
    { N: 1, C: 3, H: 4, W: 5, F: 2 }, // the defaults R=S=3, P=1, T=1
  ],
  conv2d_s2p1: [
    { N: 1, C: 1, H: 3, W: 4, F: 1 },
    { N: 3, C: 2, H: 9, W: 6, F: 4 },
    { N: 2, C: 3, H: 2, W: 7, F: 2 },
  ],
  maxpool2d: [
    { N: 1, C: 1, H: 2, W: 2 },
    { N: 3, C: 2, H: 5, W: 7 },
    { N: 2, C: 1, H: 9, W: 4 },
    { N: 1, C: 2, H: 1, W: 5 }, // no window fits: Y is empty, dX is 0
  ],
  avgpool2d: [
    { N: 1, C: 1, H: 2, W: 2 },
    { N: 3, C: 2, H: 5, W: 7 },
    { N: 2, C: 1, H: 9, W: 4 },
    { N: 1, C: 2, H: 1, W: 5 },
  ],
  softmax_xent: [
    { N: 1, C: 2 },
    { N: 5, C: 3 },
    { N: 3, C: 10 },
  ],
  svm_hinge: [
    { N: 1, C: 2 },
    { N: 5, C: 3 },
    { N: 3, C: 10 },
  ],
  square_error: [{ N: 1 }, { N: 7 }],
  logistic01: [{ N: 1 }, { N: 7 }],
  logistic_pm1: [{ N: 1 }, { N: 7 }],
  l2_penalty: [{ D: 1 }, { D: 9 }],
  sgd: [{ D: 1 }, { D: 11 }],
  sgd_momentum: [{ D: 1 }, { D: 11 }],
  chain_rule: [{}],
  sigmoid_neuron: [{}],
  two_layer_svm: [
    { N: 1, D: 3, H: 5, C: 2 },
    { N: 6, D: 7, H: 9, C: 4 },
    { N: 70, D: 13, H: 9, C: 5 },
  ],
  // the layer zoo: the planner's intermediates, batched GEMMs (attention), arg-max operands (maxout),
  // im2col backwards over the taps (dilated), the transposed convolution's strided dX
  conv_transpose2d: [{ N: 2, C: 3, H: 4, W: 5, F: 2 }, { N: 1, C: 2, H: 3, W: 3, F: 3, T: 3, P: 0 }],
  depthwise_conv2d: [{ N: 2, C: 3, H: 5, W: 6 }],
  grouped_conv2d: [{ N: 2, G: 2, CG: 3, FG: 2, H: 5, W: 4 }],
  dilated_conv2d: [{ N: 2, C: 3, H: 9, W: 8, F: 4 }, { N: 1, C: 2, H: 7, W: 7, F: 5, D: 3, P: 1 }],
  conv1d: [{ N: 2, C: 3, L: 11, F: 4 }],
  attention: [{ H: 3, T: 9, E: 5 }, { H: 1, T: 1, E: 2 }],
  layer_norm: [{ N: 3, D: 7 }],
  batch_norm: [{ N: 6, C: 5 }],
  log_softmax: [{ N: 3, C: 7 }],
  // the second: large enough that each matrix product is a GEMM of its own (src/plan/separateProducts.ts)
  gru_cell: [{ N: 3, D: 5, M: 6 }, { N: 9, D: 17, M: 33 }],
  matrix_chain: [{ I: 5, J: 3, K: 4, L: 6 }, { I: 9, J: 11, K: 2, L: 13 }],
  least_squares: [{ I: 5, J: 3, K: 4, M: 6 }],
};

/** For a layer file with no listed cases: small, distinct values for every size without a default. */
function defaultSizes(source: string): Sizes {
  const values = [3, 5, 4, 7, 2, 6, 9, 8];
  const p = reference(source).forward;
  return Object.fromEntries(p.sizes.filter((s) => s.default === undefined).map((s, i) => [s.name, values[i % values.length]!]));
}

const layersDir = fileURLToPath(new URL('../../examples/layers/', import.meta.url));
const LAYERS = readdirSync(layersDir)
  .filter((f) => f.endsWith('.dg'))
  .map((f) => f.slice(0, -3))
  .sort();

const DTYPES: Dtype[] = ['float64', 'float32'];

/** optimized (the cost rule choosing each kernel's target, and every kernel it can in WebAssembly) and
 * naive; a program with a GEMM also optimized with `simd: false` (the JavaScript micro-kernel) */
function variantsOf(source: string): { optimize: boolean; simd: boolean; wasm: 'auto' | 'always'; label: string }[] {
  const hasGemm = emit(source, { dtype: 'float64' }).includes('function $gemm');
  return [
    { optimize: true, simd: true, wasm: 'auto', label: 'optimized' },
    { optimize: true, simd: true, wasm: 'always', label: 'optimized, wasm: always' },
    ...(hasGemm ? [{ optimize: true, simd: false, wasm: 'auto' as const, label: 'optimized, simd: false' }] : []),
    { optimize: false, simd: true, wasm: 'auto', label: 'naive' },
  ];
}

describe('compiled kernels match the interpreter', () => {
  it('covers every layer in examples/layers', () => {
    expect(LAYERS.length).toBeGreaterThanOrEqual(24);
    for (const name of Object.keys(CASES)) expect(LAYERS, `CASES lists ${name}, which is not in examples/layers`).toContain(name);
  });

  for (const name of LAYERS) {
    describe(name, () => {
      const source = layerSource(name);
      const cases = CASES[name] ?? [defaultSizes(source)];
      const variants = variantsOf(source);
      /** the largest |dX| seen for each input, over the float64 optimized runs */
      const scale = new Map<string, number>();
      cases.forEach((sizes, ci) => {
        for (const dtype of DTYPES)
          for (const { optimize, simd, wasm, label } of variants) {
            it(`${describeSizes(sizes)} · ${dtype} · ${label}`, () => {
              const k = compile(source, { sizes, dtype, optimize, simd, wasm });
              const seed = 1000 + 17 * ci + (dtype === 'float32' ? 1 : 0);
              const r = compareWithInterpreter(source, k, randomData(k, seed), `${name}|${seed}|${JSON.stringify(sizes)}`);
              if (dtype === 'float64' && optimize)
                for (const [n, v] of Object.entries(r.gradientScale)) scale.set(n, Math.max(scale.get(n) ?? 0, v));
            });
          }
      });
      it('every gradient is nonzero in some case (the comparison is not 0 = 0)', () => {
        const inputs = reference(source).forward.tensors.filter((t) => t.role === 'input');
        for (const t of inputs) expect(scale.get(t.name), `d${t.name}`).toBeGreaterThan(0);
      });
    });
  }
});

describe('max pooling ties: the gradient goes to the first maximum of the window in row-major order', () => {
  const source = layerSource('maxpool2d');
  for (const dtype of DTYPES)
    for (const optimize of [true, false])
      it(`${dtype} · ${optimize ? 'optimized' : 'naive'}`, () => {
        const sizes = { N: 2, C: 1, H: 4, W: 6 };
        const k = compile(source, { sizes, dtype, optimize });
        // values from {−1, 0, 1}: most windows hold a tie, several all-equal
        const rand = seededRandom(7);
        const X = makeArray(dtype, 2 * 4 * 6, () => Math.floor(rand() * 3) - 1);
        X.fill(0, 0, 6); // first row of the first image all 0
        X.fill(-1, 6, 12);
        const dY = makeArray(dtype, 2 * 2 * 3, (i) => i + 1);
        compareWithInterpreter(source, k, { inputs: { X }, seeds: { dY } });
        const dX = k.backward({ X }, { dY }).dX!;
        // window (0,0) of image 0 holds X[0,0]=X[0,1]=0 over X[1,0]=X[1,1]=−1: the gradient goes to X[0,0]
        expect(dX[0]).toBe(1);
        expect(dX[1]).toBe(0);
        expect(dX[6]).toBe(0);
        expect(dX[7]).toBe(0);
      });
});

describe('softmax cross-entropy stays finite for large scores (max subtraction)', () => {
  const source = layerSource('softmax_xent');
  for (const dtype of DTYPES)
    for (const optimize of [true, false])
      it(`${dtype} · ${optimize ? 'optimized' : 'naive'}`, () => {
        const sizes = { N: 3, C: 4 };
        const k = compile(source, { sizes, dtype, optimize });
        const S = makeArray(dtype, [1000, 1001, 999, 1000.5, -1000, -1002, -999, -1003, 800, 0, -800, 805]);
        const Yt = makeArray(dtype, [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
        const { L } = k.forward({ S, Yt });
        // by hand: per row logsumexp − s_y, with the maximum taken out first
        let expected = 0;
        for (let n = 0; n < 3; n++) {
          const row = Array.from(S.slice(4 * n, 4 * n + 4));
          const m = Math.max(...row);
          const lse = m + Math.log(row.reduce((a, s) => a + Math.exp(s - m), 0));
          expected += (lse - row[Yt.slice(4 * n, 4 * n + 4).indexOf(1)]!) / 3;
        }
        expectClose(L!, [expected], TOLERANCE[dtype], 'L');
        const dL = makeArray(dtype, [0.5]);
        const { dS } = k.backward({ S, Yt }, { dL });
        expect(Array.from(dS!).every(Number.isFinite)).toBe(true);
        const ref = interpret(source, sizes, { S, Yt }, { dL });
        expectClose(dS!, ref.backward.dS!, TOLERANCE[dtype], 'dS');
        // each row of the softmax gradient sums to 0 (Σ p − Σ y = 0)
        for (let n = 0; n < 3; n++) expect(Math.abs(Array.from(dS!.slice(4 * n, 4 * n + 4)).reduce((a, b) => a + b, 0))).toBeLessThan(1e-6);
      });
});

// ---- the generated library, through the Operator API -------------------------------------------

/** Sizes for each generated layer (conv2d also at other strides and paddings). */
const LIBRARY_CASES: Record<string, Sizes[]> = {
  affine: [
    { N: 1, D: 5, F: 3 },
    { N: 7, D: 9, F: 5 },
  ],
  affineRelu: [
    { N: 1, D: 5, F: 3 },
    { N: 7, D: 9, F: 5 },
  ],
  relu: [{ N: 3, D: 5 }],
  sigmoid: [{ N: 3, D: 5 }],
  tanh: [{ N: 3, D: 5 }],
  elu: [{ N: 3, D: 5 }],
  conv2d: [
    { N: 1, C: 2, H: 7, W: 5, F: 3 },
    { N: 3, C: 2, H: 8, W: 7, F: 2, T: 2, P: 1 },
    { N: 2, C: 1, H: 9, W: 8, F: 2, R: 2, S: 3, T: 3, P: 2 },
    { N: 2, C: 3, H: 5, W: 6, F: 2, P: 0 },
  ],
  maxpool2d: [
    { N: 1, C: 1, H: 2, W: 2 },
    { N: 2, C: 3, H: 5, W: 7 },
  ],
  avgpool2d: [
    { N: 1, C: 1, H: 2, W: 2 },
    { N: 2, C: 3, H: 5, W: 7 },
  ],
  softmaxCrossEntropy: [{ N: 4, C: 3 }],
  squareError: [{ N: 5 }],
  logistic01: [{ N: 5 }],
  logisticPm1: [{ N: 5 }],
  svmHinge: [{ N: 4, C: 3 }],
  l2Penalty: [{ D: 7 }],
  sgd: [{ D: 7 }],
  sgdMomentum: [{ D: 7 }],
};

describe('generated/ library through the Operator API matches the interpreter (float64)', () => {
  it('exports every layer of the library', () => {
    expect(Object.keys(lib.layers).sort()).toEqual(LIBRARY.map(([n]) => n).sort());
    expect(Object.keys(LIBRARY_CASES).sort()).toEqual(LIBRARY.map(([n]) => n).sort());
  });
  for (const [name, file] of LIBRARY) {
    const source = layerSource(file);
    (LIBRARY_CASES[name] ?? []).forEach((sizes, ci) => {
      it(`${name} · ${describeSizes(sizes)}`, () => {
        const op = (lib.layers as unknown as Record<string, Operator<ProgramInfo>>)[name]!;
        const p = reference(source).forward;
        const shapes = op.shapes(sizes);
        const rand = seededRandom(500 + ci);
        const fill = (n: number) => Float64Array.from({ length: n }, () => 2 * rand() - 1);
        const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
        const inputs = Object.fromEntries(op.program.inputs.map((n) => [n, fill(count(shapes[n]!))]));
        const seeds = Object.fromEntries(op.program.outputs.map((n) => [`d${n}`, fill(count(shapes[n]!))]));
        // the interpreter needs every size; the operator fills in the program's defaults
        const allSizes = Object.fromEntries(p.sizes.map((s) => [s.name, sizes[s.name] ?? s.default!]));
        const ref = interpret(source, allSizes, inputs, seeds);
        const ctx = {};
        const out = op.forward(ctx, inputs as never, sizes as never) as Record<string, Float64Array>;
        for (const [n, v] of Object.entries(ref.forward)) expectClose(out[n], v, 1e-9, `${name} forward ${n}`);
        const grads = op.backward(ctx, seeds as never) as Record<string, Float64Array>;
        for (const n of op.program.inputs) expectClose(grads[`d${n}`], ref.backward[`d${n}`]!, 1e-9, `${name} backward d${n}`);
        expect(Object.keys(grads).sort()).toEqual(op.program.inputs.map((n) => `d${n}`).sort());
      });
    });
  }
  it('a scalar output seed defaults to 1 in the Operator API', () => {
    const source = layerSource('square_error');
    const S = Float64Array.of(0.5, -1, 2);
    const Yt = Float64Array.of(1, 1, 1);
    const ctx = {};
    lib.squareError.forward(ctx, { S, Yt }, { N: 3 });
    const { dS } = lib.squareError.backward(ctx);
    expectClose(dS, interpret(source, { N: 3 }, { S, Yt }, { dL: [1] }).backward.dS!, 1e-12, 'dS');
    expect(Array.from(dS)).toEqual([2 * (0.5 - 1), 2 * (-1 - 1), 2 * (2 - 1)]);
  });
  it('sgd and sgd_momentum update in place when the outputs are the inputs (elementwise, so aliasing is safe)', () => {
    const W = Float64Array.of(1, -2, 3, 0.5);
    const G = Float64Array.of(0.5, 0.25, -1, 2);
    const expected = Array.from(W, (w, i) => w - 0.1 * G[i]!);
    const out = lib.sgd.forward({}, { W, G, lr: 0.1 }, { D: 4 }, { Wnew: W });
    expect(out.Wnew).toBe(W);
    expectClose(W, expected, 1e-15, 'W after sgd');
    const V = Float64Array.of(0.1, 0.2, -0.3, 0);
    const W2 = Float64Array.of(1, 1, 1, 1);
    const Vnew = Array.from(V, (v, i) => 0.9 * v - 0.1 * G[i]!);
    const Wnew = Array.from(W2, (w, i) => w + Vnew[i]!);
    lib.sgdMomentum.forward({}, { W: W2, V, G, lr: 0.1, mu: 0.9 }, { D: 4 }, { Vnew: V, Wnew: W2 });
    expectClose(V, Vnew, 1e-15, 'V after momentum');
    expectClose(W2, Wnew, 1e-15, 'W after momentum');
  });
});

describe('compiled kernels return fresh arrays', () => {
  it('a second forward or backward call does not overwrite the first one’s results', () => {
    const source = layerSource('affine_relu');
    const k = compile(source, { sizes: { N: 3, D: 4, F: 5 } });
    const a = randomData(k, 1);
    const b = randomData(k, 2);
    const y1 = k.forward(a.inputs).Y!;
    const copy = y1.slice();
    const y2 = k.forward(b.inputs).Y!;
    expect(y2).not.toBe(y1);
    expect(Array.from(y1)).toEqual(Array.from(copy));
    const g1 = k.backward(a.inputs, a.seeds).dW!;
    const gcopy = g1.slice();
    k.backward(b.inputs, b.seeds);
    expect(Array.from(g1)).toEqual(Array.from(gcopy));
  });
});

// ---- programs beyond the seed layers, for the code paths they reach --------------------------

/**
 * Each reaches a path of the lowering the seed layers do not: dilation (size coefficients on a
 * reduction index), residue classes, quotient subscripts, windows and strides given as sizes,
 * guards on both sides, min records, GEMM variants (transposed reads, scalar factor, function
 * epilogue, several contractions). `bug` marks a known failure of the optimized kernels (the naive
 * ones pass); those tests are `it.fails` and are listed in the report.
 */
const EXTRA: { name: string; source: string; cases: Sizes[]; bug?: string; float32?: boolean }[] = [
  {
    name: 'dilated conv (dilation D as a size)',
    float32: true,
    source: `dims N, C, H, W, F, R=3, S=3, P=1, T=1, D=2
X: [N, C, H, W]
K: [F, C, R, S]
Y: [N, F, (H+2*P-D*(R-1)-1)/T+1, (W+2*P-D*(S-1)-1)/T+1]
Y[n,f,u,v] = K[f,c,i,j] * X[n,c, u*T+i*D-P, v*T+j*D-P]
`,
    cases: [
      { N: 2, C: 2, H: 9, W: 8, F: 2 },
      { N: 1, C: 1, H: 11, W: 10, F: 2, T: 2, P: 2, D: 3 },
      { N: 2, C: 1, H: 7, W: 9, F: 1, T: 3, P: 0, D: 2, R: 2, S: 3 },
    ],
  },
  {
    name: '1-D conv, stride 2, dilation 2, padding 2 as numbers (residue classes in dX)',
    source: `dims N, L, F
X: [N, L]
K: [F, 3]
Y: [N, F, (L+4-5)/2+1]
Y[n,f,u] = K[f,i]*X[n, 2*u+2*i-2]
`,
    cases: [
      { N: 2, L: 9, F: 3 },
      { N: 1, L: 4, F: 1 },
    ],
  },
  {
    name: 'nearest upsampling (quotient subscripts)',
    source: `dims N, C, H, W
X: [N, C, H, W]
Y: [N, C, 2*H, 2*W]
Y[n,c,h,w] = X[n,c,h/2,w/2]
`,
    cases: [{ N: 2, C: 2, H: 3, W: 4 }],
  },
  {
    // dX[h] = X[h]·dY[h-1]/Y[h-1]: at h = 0 both reads are padding, and the kernels gave 0/0 = NaN
    // where the interpreter (0 absorbs) gives 0. Found by the property test (seed 72026).
    name: 'a padded read divided by a padded forward value (zero absorbs, not NaN)',
    source: `dims A
X: [A]
Y1: [A]
Y1[i] = sqrt(X[i+1]^2 + 0.25)
Y2[i] = X[i]
`,
    cases: [{ A: 2 }, { A: 5 }],
  },
  {
    // Y's length is not a multiple of 3: the last window is cut short (splitQuotientLoops' guard)
    name: 'quotient and remainder of one index, divisor 3, a short last window',
    source: `dims N, H
X: [N, H]
Y: [N, 3*H-1]
Y[n,h] = X[n, h/3] * (h % 3 + 1)
`,
    cases: [
      { N: 2, H: 4 },
      { N: 1, H: 1 },
    ],
  },
  {
    name: 'transposed conv, stride 2',
    float32: true,
    source: `dims N, C, H, W, F, R=3, S=3
X: [N, C, H, W]
K: [C, F, R, S]
Y: [N, F, 2*H+R-2, 2*W+S-2]
Y[n,f,h,w] = sum(c,u,v) K[c,f,h-2*u,w-2*v]*X[n,c,u,v]
`,
    cases: [
      { N: 2, C: 2, H: 3, W: 4, F: 2 },
      { N: 1, C: 1, H: 4, W: 3, F: 2, R: 2, S: 4 },
    ],
  },
  {
    name: 'max pooling, window Q and stride T as sizes',
    source: `dims N, C, H, W, Q=2, T=2
X: [N, C, H, W]
Y: [N, C, (H-Q)/T+1, (W-Q)/T+1]
Y[n,c,u,v] = max(i:Q, j:Q) X[n,c, u*T+i, v*T+j]
`,
    cases: [
      { N: 2, C: 2, H: 6, W: 7 },
      { N: 1, C: 2, H: 7, W: 8, Q: 3, T: 2 },
      { N: 2, C: 1, H: 8, W: 7, Q: 2, T: 3 },
    ],
  },
  {
    name: 'max over a window of size Q, stride 3 as a number',
    source: `dims N, H, Q
X: [N, H]
Y: [N, (H-Q)/3+1]
Y[n,u] = max(i:Q) X[n, 3*u+i]
`,
    cases: [
      { N: 2, H: 11, Q: 4 },
      { N: 1, H: 9, Q: 3 },
    ],
  },
  {
    name: 'max pooling 3×3, stride 2, padding 1 as numbers (overlapping windows)',
    source: `dims N, H, W
X: [N, H, W]
Y: [N, (H+2-3)/2+1, (W+2-3)/2+1]
Y[n,u,v] = max(i:3, j:3) X[n, 2*u+i-1, 2*v+j-1]
`,
    cases: [{ N: 2, H: 7, W: 6 }],
  },
  {
    name: 'mean pooling 3×3, stride 2, padding 1 as numbers',
    source: `dims N, H, W
X: [N, H, W]
Y: [N, (H+2-3)/2+1, (W+2-3)/2+1]
Y[n,u,v] = sum(i:3, j:3) X[n, 2*u+i-1, 2*v+j-1] / 9
`,
    cases: [{ N: 2, H: 7, W: 6 }],
  },
  {
    name: 'min reduction (arg-min record)',
    source: `dims N, D
X: [N, D]
Y[n] = min(d:D) X[n,d]
`,
    cases: [{ N: 3, D: 5 }],
  },
  {
    name: 'ReLU of a max pool (no record: the max is inside a call)',
    source: `dims N, C, H, W
X: [N, C, H, W]
Y[n,c,u,v] = relu(max(i:2, j:2) X[n,c, 2*u+i, 2*v+j])
`,
    cases: [{ N: 2, C: 2, H: 5, W: 6 }],
  },
  {
    name: 'GEMM with transposed operands, a scalar factor and a sigmoid epilogue',
    float32: true,
    source: `dims M, K, N
A: [K, M]
X: [N, K]
c: [N]
Y: [M, N]
Y[i,j] = sigmoid(2*A[k,i]*X[j,k] + c[j])
`,
    cases: [
      { M: 5, K: 7, N: 9 },
      { M: 66, K: 3, N: 5 },
    ],
  },
  {
    name: 'autocorrelation: one tensor read twice through an implicit im2col',
    float32: true,
    source: `dims N, L, M
X: [N, L]
Y: [M, M]
Y[u,v] = X[n, u+k]*X[n, v+k+1]
`,
    cases: [{ N: 3, L: 9, M: 4 }],
  },
  {
    name: 'strided 1-D convolution with padding as a number',
    float32: true,
    source: `dims N, C, L, F
X: [N, C, L]
K: [F, C, 3]
Y: [N, F, (L+2-3)/2+1]
Y[n,f,t] = relu(K[f,c,i]*X[n,c,2*t+i-1])
`,
    cases: [
      { N: 2, C: 3, L: 11, F: 5 },
      { N: 5, C: 1, L: 2, F: 9 },
    ],
  },
  {
    name: 'batched matmul',
    float32: true,
    source: `dims B, M, K, N
A: [B, M, K]
X: [B, K, N]
Y[b,i,j] = A[b,i,k]*X[b,k,j]
`,
    cases: [{ B: 2, M: 3, K: 5, N: 4 }],
  },
  {
    name: 'difference of two contractions (two sums over the same index in one gradient)',
    source: `dims M, K, N
A: [M, K]
B: [M, K]
X: [K, N]
Y: [M, N]
Y[i,j] = A[i,k]*X[k,j] - sum(k2) B[i,k2]*X[k2,j]
`,
    cases: [{ M: 5, K: 6, N: 7 }],
  },
  {
    name: 'softmax as an intermediate',
    source: `dims N, C
S: [N, C]
P[n,c] = exp(S[n,c] - logsumexp(c2) S[n,c2])
L = sum(n,c) P[n,c]*P[n,c]
`,
    cases: [{ N: 3, C: 4 }],
  },
  {
    name: 'elementwise functions',
    source: `dims N
X: [N]
Y[i] = where(X[i] > 0, sqrt(X[i]*X[i]+1), log(1+X[i]^2)) * pow(abs(X[i])+1, 1.5) + min(X[i], 0.2) + exp(-X[i])*cos(X[i]) - sin(X[i])/(2+X[i]^2)
`,
    cases: [{ N: 7 }],
  },
];

describe('programs beyond the seed layers', () => {
  for (const prog of EXTRA)
    describe(prog.name, () => {
      prog.cases.forEach((sizes, ci) => {
        // float32 changes the GEMM tiles; elsewhere only the array type, which the seed layers cover
        for (const [dtype, { optimize, simd, label }] of [
          ...variantsOf(prog.source).map((v) => ['float64', v] as const),
          ...(prog.float32 ? variantsOf(prog.source).filter((v) => v.optimize).map((v) => ['float32', v] as const) : []),
        ]) {
          const test = optimize && prog.bug ? it.fails : it;
          test(`${describeSizes(sizes)} · ${dtype} · ${label}${optimize && prog.bug ? ` — BUG: ${prog.bug}` : ''}`, () => {
            const k = compile(prog.source, { sizes, dtype, optimize, simd });
            const seed = 2000 + 13 * ci + (dtype === 'float32' ? 1 : 0);
            compareWithInterpreter(prog.source, k, randomData(k, seed), `${prog.name}|${seed}|${JSON.stringify(sizes)}`);
          });
        }
      });
    });
});
