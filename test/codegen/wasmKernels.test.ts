// WebAssembly kernels (issue 19): every kernel class the loop IR produces — elementwise maps with
// every function of the language, reductions (sum, max, min, logsumexp), pooling with strides and
// odd sizes, depthwise convolution with padding, layer norm, softmax — compiled with every kernel
// it can in WebAssembly (`wasm: 'always'`) and by the cost rule (`'auto'`), against the interpreter
// (float64 < 1e-9, float32 < 1e-4); the vectorized loops and their remainders; the cost rule's
// choices; and the branch-free max of ifToSelect.
import { describe, expect, it } from 'vitest';
import { compile, emit } from '../../src/codegen/compile.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { check } from '../../src/ir/check.js';
import { walkStmts } from '../../src/loop/mapLoop.js';
import { add, assign, buffer, c, for_, load, store, sym, v } from '../../src/loop/build.js';
import type { Kernel as LoopKernel, LStmt } from '../../src/loop/types.js';
import { vectorPlan } from '../../src/opt/vectorizeLoops.js';
import { lowerProgram } from '../../src/pipeline.js';
import { microModuleText } from '../../src/target/micro.js';
import { printKernelWasm } from '../../src/target/wasm/printKernelWasm.js';
import { compareWithInterpreter, describeSizes, layerSource, randomData } from './support.js';

const PROGRAMS: [string, string, Record<string, number>][] = [
  ['depthwise conv 3×3, padding 1', 'dims N, C, H, W\nX: [N, C, H, W]\nK: [C, 3, 3]\nY[n,c,h,w] = sum(i:3, j:3) K[c,i,j] * X[n,c,h+i-1,w+j-1]', { N: 2, C: 3, H: 7, W: 9 }],
  ['max pool 3×3 stride 2, odd sizes', 'dims N, C, H, W\nX: [N, C, H, W]\nY[n,c,u,v] = max(i:3, j:3) X[n,c,2*u+i,2*v+j]', { N: 2, C: 3, H: 9, W: 11 }],
  ['max pool 2×2 (the layer), odd sizes', layerSource('maxpool2d'), { N: 2, C: 3, H: 7, W: 9 }],
  [
    'layer norm',
    'dims N, D\nX: [N, D]\ng: [D]\nb: [D]\nm[n] = sum(d) X[n,d] / D\nv[n] = sum(d) (X[n,d] - m[n])^2 / D\nY[n,d] = (X[n,d] - m[n]) / sqrt(v[n] + 0.00001) * g[d] + b[d]',
    { N: 5, D: 13 },
  ],
  [
    'an elementwise chain with every function',
    'dims I\nX: [I]\nY[i] = exp(X[i]) * tanh(X[i]) + log(abs(X[i]) + 1) - sqrt(abs(X[i])) + sigmoid(X[i]) * softplus(X[i]) + elu(X[i], 0.5) + sin(X[i]) * cos(X[i]) + pow(abs(X[i]) + 1, 1.5) + max(X[i], 0.1) - min(X[i], -0.2) + relu(X[i])^2',
    { I: 37 },
  ],
  ['a vectorizable chain (relu, max, min, sqrt, abs, /)', 'dims I\nX: [I]\nZ: [I]\nY[i] = relu(X[i]) * 2 + max(X[i], Z[i]) * X[i] - abs(X[i]) / (1 + sqrt(abs(Z[i]))) + min(X[i], 0.25)', { I: 39 }],
  ['logsumexp and min over rows', 'dims N, C\nS: [N, C]\nL[n] = logsumexp(c) S[n,c] - min(c) S[n,c]', { N: 5, C: 11 }],
  ['where and comparisons', 'dims I\nX: [I]\nY[i] = where(X[i] > 0, X[i] * 2, X[i] / 3) + (X[i] < 0.5)', { I: 23 }],
  ['softmax cross-entropy (the layer)', layerSource('softmax_xent'), { N: 5, C: 7 }],
  ['avg pool (the layer), odd sizes', layerSource('avgpool2d'), { N: 2, C: 3, H: 7, W: 9 }],
  [
    "the functions of issue 16 (Math imports; erf, a JavaScript helper, keeps its kernel in JavaScript)",
    'dims I\nX: [I]\nZ: [I]\nY[i] = tan(X[i] / 2) + atan(X[i]) + atan2(X[i], Z[i]) + asin(X[i] / 2) + acos(X[i] / 2) + sinh(X[i]) + cosh(X[i]) + asinh(X[i]) + acosh(abs(X[i]) + 1) + atanh(X[i] / 2) + log2(abs(X[i]) + 1) + log10(abs(X[i]) + 1) + cbrt(X[i]) + clamp(X[i], -0.5, 0.5) + round(X[i]) + sign(X[i]) + floor(X[i]) + ceil(X[i])\nE[i] = erf(X[i])',
    { I: 19 },
  ],
  ['a product reduction', 'dims N, C\nS: [N, C]\nP[n] = prod(c) S[n,c]', { N: 5, C: 7 }],
  // peelBorders' shapes: dilation, stride 2 with padding, a window wider than the image, sizes of one
  ['depthwise conv 3×3, dilation 2, padding 2', 'dims N, C, H, W\nX: [N, C, H, W]\nK: [C, 3, 3]\nY[n,c,h,w] = sum(i:3, j:3) K[c,i,j] * X[n,c,h+2*i-2,w+2*j-2]', { N: 2, C: 3, H: 11, W: 13 }],
  ['depthwise conv 3×3, padding 1, the image narrower than the window', 'dims N, C, H, W\nX: [N, C, H, W]\nK: [C, 3, 3]\nY[n,c,h,w] = sum(i:3, j:3) K[c,i,j] * X[n,c,h+i-1,w+j-1]', { N: 1, C: 2, H: 1, W: 2 }],
  ['conv 3×3 stride 2, padding 1 (one channel)', 'dims N, H, W, U, V\nX: [N, H, W]\nK: [3, 3]\nY[n,u,v] = sum(i:3, j:3) K[i,j] * X[n,2*u+i-1,2*v+j-1]', { N: 2, H: 9, W: 13, U: 5, V: 7 }],
  ['max pool 2×2 stride 2, padding 1', 'dims N, C, H, W, U, V\nX: [N, C, H, W]\nY[n,c,u,v] = max(i:2, j:2) X[n,c,2*u+i-1,2*v+j-1]', { N: 2, C: 3, H: 9, W: 14, U: 5, V: 8 }],
  ['a 2×2 window sum of stride 2 over a long row (the vector main loop and its remainder)', 'dims H, W\nX: [H, W]\nY[u,v] = sum(i:2, j:2) X[2*u+i, 2*v+j]', { H: 6, W: 38 }],
];

describe('WebAssembly kernels agree with the interpreter', () => {
  PROGRAMS.forEach(([label, source, sizes], pi) => {
    it(`${label}: some kernel runs as WebAssembly`, () => {
      expect(emit(source, { wasm: 'always', target: 'js' })).toContain('function $kernels()');
    });
    for (const dtype of ['float64', 'float32'] as const)
      for (const wasm of ['always', 'auto'] as const)
        it(`${label} · ${describeSizes(sizes)} · ${dtype} · wasm: ${wasm}`, () => {
          const k = compile(source, { sizes, dtype, wasm });
          const seed = 500 + 7 * pi + (dtype === 'float32' ? 1 : 0);
          compareWithInterpreter(source, k, randomData(k, seed), `wasm|${pi}|${seed}`);
        });
  });
});

/** The program's kernels after the passes, with every kernel it can in WebAssembly. */
function kernelsOf(source: string, dtype: 'float32' | 'float64', wasm: 'auto' | 'always' = 'always'): LoopKernel[] {
  const p = check(source);
  const mod = lowerProgram(p, differentiate(p, { unitScalarSeeds: false }), { dtype, optimize: true, simd: true, wasm, micro: microModuleText });
  return [...mod.forward, ...mod.backward];
}
const named = (ks: LoopKernel[], name: string) => ks.find((k) => k.name === name)!;
const loopKinds = (k: LoopKernel) => {
  const kinds: string[] = [];
  walkStmts(k.body, (s) => void (s.kind === 'for' && kinds.push(s.loop)));
  return kinds;
};
const instructions = (k: LoopKernel) => printKernelWasm(k).fn.body.map((x) => x[0]);

describe('vectorized loops (vectorizeLoops, lowered by the WebAssembly printer)', () => {
  it('the ReLU backward is one vectorized loop: f32x4 loads, a lane mask, stores of 4 lanes', () => {
    const k = named(kernelsOf(layerSource('relu'), 'float32'), 'backward_dX');
    expect(k.runs).toBe('wasm');
    expect(loopKinds(k)).toContain('vectorized');
    const ops = instructions(k);
    expect(ops).toContain('v128.load');
    expect(ops).toContain('f32x4.gt');
    expect(ops).toContain('v128.store');
  });
  it('a row sum keeps vector partial sums and adds their lanes after the main loop (float64: 2 lanes)', () => {
    const k = named(kernelsOf('dims N, D\nX: [N, D]\nm[n] = sum(d) X[n,d]', 'float64'), 'forward_m');
    expect(loopKinds(k)).toContain('vectorized');
    const ops = instructions(k);
    expect(ops).toContain('f64x2.add');
    expect(ops).toContain('f64x2.extract_lane');
  });
  it('exp of float32 vectorizes (expLanes: no host call in the main loop); float64 keeps the host Math.exp', () => {
    const exp = 'dims I\nX: [I]\nY[i] = exp(X[i])';
    const k32 = named(kernelsOf(exp, 'float32', 'auto'), 'forward_Y');
    expect(k32.runs).toBe('wasm');
    expect(loopKinds(k32)).toContain('vectorized');
    expect(instructions(k32)).toContain('f32x4.nearest');
    expect(printKernelWasm(k32).imports.has('Math.exp')).toBe(true); // the scalar remainder loop
    const k64 = named(kernelsOf(exp, 'float64'), 'forward_Y');
    expect(loopKinds(k64)).not.toContain('vectorized');
    expect(instructions(k64)).not.toContain('f64x2.nearest');
  });
  it('a loop whose pointer advances before a later read of it stays scalar (its lanes would start a step late)', () => {
    const [X, Y] = [buffer('X', 'f32'), buffer('Y', 'f32')];
    const [i, p] = [sym('i', 'i32'), sym('p', 'i32')];
    const body = (early: boolean) => {
      const advance = assign(p, add(v(p), c(1)));
      const copy = store(Y, v(i), load(X, v(p), { inBounds: true }));
      return for_(i, c(0), c(16), early ? [advance, copy] : [copy, advance]);
    };
    expect(vectorPlan(body(false) as Extract<LStmt, { kind: 'for' }>, 'f32')).toBeDefined();
    expect(vectorPlan(body(true) as Extract<LStmt, { kind: 'for' }>, 'f32')).toBeUndefined();
  });
  it('pooling with stride 2 vectorizes over the output width: two loads and their even lanes, the arg-max in i32 lanes', () => {
    const k = named(kernelsOf(layerSource('maxpool2d'), 'float32'), 'forward_Y');
    expect(loopKinds(k)).toContain('vectorized');
    const ops = instructions(k);
    expect(ops).toContain('i8x16.shuffle');
    expect(ops).toContain('v128.bitselect');
    // float64 lanes cannot hold the i32 arg-max beside them: that loop stays scalar
    expect(loopKinds(named(kernelsOf(layerSource('maxpool2d'), 'float64'), 'forward_Y'))).not.toContain('vectorized');
  });
  it('a loop with no sum across trips finishes with one overlapping trip of lanes (overlapTail); a row sum keeps its scalar remainder', () => {
    const plans = (src: string, name: string, dtype: 'float32' | 'float64') => {
      const out: ReturnType<typeof vectorPlan>[] = [];
      walkStmts(named(kernelsOf(src, dtype), name).body, (s) => void (s.kind === 'for' && s.loop === 'vectorized' && out.push(vectorPlan(s, dtype === 'float32' ? 'f32' : 'f64'))));
      return out;
    };
    expect(plans(layerSource('relu'), 'backward_dX', 'float32').every((p) => p?.overlapTail)).toBe(true);
    expect(plans('dims N, D\nX: [N, D]\nm[n] = sum(d) X[n,d]', 'forward_m', 'float64').every((p) => p && !p.overlapTail)).toBe(true);
  });
  it('a read three elements apart a trip stays scalar', () => {
    const k = named(kernelsOf('dims N, W\nX: [N, W]\nY[n,v] = X[n,3*v] * 2', 'float32', 'always'), 'forward_Y');
    expect(loopKinds(k)).not.toContain('vectorized');
  });
  it('the padded depthwise convolution: peelBorders leaves an interior loop over w with the 3×3 window unrolled and vectorized, its weights splat before the loop', () => {
    const k = named(kernelsOf(PROGRAMS[0]![1], 'float32', 'auto'), 'forward_Y');
    expect(k.runs).toBe('wasm');
    const vectorized: LStmt[] = [];
    walkStmts(k.body, (s) => void (s.kind === 'for' && s.loop === 'vectorized' && vectorized.push(s)));
    expect(vectorized.length).toBeGreaterThanOrEqual(1);
    const plans = vectorized.map((s) => vectorPlan(s as Extract<LStmt, { kind: 'for' }>, 'f32')!);
    // the interior: nine products a trip, no loop inside; the nine weights are splat once, in the set-up
    const interior = plans.find((p) => p.body.filter((s) => s.kind === 'assign' && s.v.ty === 'f32x4').length === 9);
    expect(interior).toBeDefined();
    expect(interior!.pre.filter((s) => s.kind === 'let' && s.v.ty === 'f32x4').length).toBe(9);
  });
  it('JavaScript kernels have no vectorized loop (legalise makes it serial)', () => {
    for (const k of kernelsOf(layerSource('relu'), 'float32', 'auto').filter((x) => x.runs !== 'wasm')) expect(loopKinds(k)).not.toContain('vectorized');
    for (const k of kernelsOf(layerSource('sigmoid'), 'float64', 'auto')) if (k.runs !== 'wasm') expect(loopKinds(k)).not.toContain('vectorized');
  });
});

describe('the cost rule (chooseTarget)', () => {
  const runs = (source: string, name: string, dtype: 'float32' | 'float64' = 'float32') => named(kernelsOf(source, dtype, 'auto'), name).runs ?? 'js';
  it('max pooling and its backward, the ReLU backward and a vectorizable chain run as WebAssembly', () => {
    expect(runs(layerSource('maxpool2d'), 'forward_Y')).toBe('wasm');
    expect(runs(layerSource('relu'), 'backward_dX')).toBe('wasm');
    expect(runs(PROGRAMS[5]![1], 'forward_Y')).toBe('wasm');
    expect(runs(PROGRAMS[0]![1], 'forward_Y')).toBe('wasm');
  });
  it('a float64 map whose work is a host call (exp) stays JavaScript, and so does the GEMM kernel', () => {
    expect(runs('dims I\nX: [I]\nY[i] = exp(X[i])', 'forward_Y', 'float64')).toBe('js');
    expect(runs('dims I\nX: [I]\nY[i] = tanh(X[i])', 'forward_Y', 'float32')).toBe('js');
    expect(runs(layerSource('affine'), 'forward_Y')).toBe('js');
  });
  it("wasm: 'never' and simd: false run nothing as WebAssembly", () => {
    expect(emit(layerSource('maxpool2d'), { wasm: 'never' })).not.toContain('$kernels');
    expect(emit(layerSource('maxpool2d'), { simd: false })).not.toContain('$kernels');
    expect(emit(layerSource('maxpool2d'), { optimize: false })).not.toContain('$kernels');
  });
});

describe('ifToSelect: the max of a window without a branch', () => {
  it("max pooling's running max and arg-max are selects, not ifs", () => {
    const ops = instructions(named(kernelsOf(layerSource('maxpool2d'), 'float64'), 'forward_Y'));
    expect(ops.filter((o) => o === 'select').length).toBeGreaterThanOrEqual(4);
    // the inside test and the guarded reads are left in the border copies (peelBorders), none in the interior
    const k = named(kernelsOf(layerSource('maxpool2d'), 'float64'), 'forward_Y');
    const innermost: LStmt[] = [];
    walkStmts(k.body, (s) => void (s.kind === 'for' && !s.body.some((t) => t.kind === 'for') && innermost.push(s)));
    expect(innermost.some((s) => s.kind === 'for' && !s.body.some((t) => t.kind === 'if'))).toBe(true);
  });
});
