// Column sums (issue 15's cheap gradients, issue 19's column-sum row): a reduction whose output index is
// the inner, stride-1 index of what it sums — db[f] = Σ_n dY[n,f] — lowered with its loops
// interchanged (lowerColumnSum.ts): the output row zeroed, every summed row added into it, then the
// epilogue (a mean's division, E(sum)) in place. Compiled kernels against the interpreter on odd sizes
// (a row of one, three columns, blocks of 512 columns and a remainder), JavaScript and WebAssembly,
// float32 and float64; their gradients against central differences of the compiled forward; the
// shape of the loops, the vectorized read-modify-write, and where the strategy declines.
import { describe, expect, it } from 'vitest';
import { compile, type Kernel } from '../../src/codegen/compile.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { check } from '../../src/ir/check.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import { add, buffer, c, for_, load, store, sym, v, varsOf } from '../../src/loop/build.js';
import { walkStmts } from '../../src/loop/mapLoop.js';
import type { Kernel as LoopKernel, LStmt } from '../../src/loop/types.js';
import { BLOCK } from '../../src/lower/lowerColumnSum.js';
import { lowerStatement } from '../../src/lower/lowerToLoops.js';
import { PART_KEY, splitParallelLoop } from '../../src/opt/splitParallelLoop.js';
import { vectorPlan } from '../../src/opt/vectorizeLoops.js';
import { lowerProgram, shapeOfFactory } from '../../src/pipeline.js';
import { microModuleText } from '../../src/target/micro.js';
import { printKernelWasm } from '../../src/target/wasm/printKernelWasm.js';
import { compareWithInterpreter, describeSizes, layerSource, randomData } from './support.js';

type For = Extract<LStmt, { kind: 'for' }>;
const COLUMN_SUM = 'dims N, F\ndY: [N, F]\ndb[f] = sum(n) dY[n,f]';
const COLUMN_MEAN_EPILOGUE = 'dims N, F\nX: [N, F]\nc: [F]\nm[f] = sqrt(mean(n) X[n,f]^2 + 1) * c[f]';
const TWO_SUMMED = 'dims N, H, F\nX: [N, H, F]\ng: [F]\nS[f] = sum(n, h) X[n,h,f] * g[f] * X[n,h,f]';
const OUTER_INDEX = 'dims B, N, F\nX: [B, N, F]\nw: [N]\nS[b,f] = sum(n) w[n] * exp(X[b,n,f])';
// two sums in a linear combination, with per-column coefficients and a term without a sum
const TWO_SUMS = 'dims N, F\nX: [N, F]\nY: [N, F]\nc: [F]\nZ[f] = c[f] * sum(n) X[n,f] * Y[n,f] - (sum(m) X[m,f]^2) / (c[f]^2 + 1) + c[f]';

const ODD: Record<string, number>[] = [
  { N: 37, F: 53 },
  { N: 1, F: 7 },
  { N: 129, F: 3 },
  { N: 3, F: BLOCK * 2 + 5 },
];

const PROGRAMS: [string, string, Record<string, number>[]][] = [
  ['a column sum', COLUMN_SUM, ODD],
  ['a column mean under an epilogue', COLUMN_MEAN_EPILOGUE, ODD],
  ['two summed indices', TWO_SUMMED, [{ N: 3, H: 5, F: 11 }, { N: 1, H: 1, F: 9 }]],
  ['an output index outside the column', OUTER_INDEX, [{ B: 3, N: 7, F: 13 }, { B: 2, N: 1, F: BLOCK + 1 }]],
  ['two sums in a linear combination', TWO_SUMS, ODD],
  ['layer norm (dg, db)', layerSource('layer_norm'), [{ N: 37, D: 53 }, { N: 1, D: 7 }, { N: 129, D: 3 }]],
  // (one sample: batch norm's dX is exactly 0, which float32 misses by its rounding, as before the interchange)
  ['batch norm (mu, var, dg, db)', layerSource('batch_norm'), [{ N: 37, C: 53 }, { N: 2, C: 7 }, { N: 129, C: 3 }]],
  ['the affine layer (db)', layerSource('affine'), [{ N: 37, D: 5, F: 53 }, { N: 1, D: 3, F: 7 }, { N: 129, D: 2, F: 3 }]],
];

describe('column sums agree with the interpreter', () => {
  PROGRAMS.forEach(([label, source, sizesList], pi) => {
    for (const sizes of sizesList)
      for (const dtype of ['float64', 'float32'] as const)
        for (const wasm of ['always', 'never'] as const)
          it(`${label} · ${describeSizes(sizes)} · ${dtype} · ${wasm === 'always' ? 'WebAssembly' : 'JavaScript'}`, () => {
            const k = compile(source, { sizes, dtype, wasm });
            const seed = 900 + 11 * pi + (dtype === 'float32' ? 1 : 0);
            compareWithInterpreter(source, k, randomData(k, seed), `colsum|${pi}|${describeSizes(sizes)}|${seed}`);
          });
  });
});

/** Σ seed·output over every output of the compiled forward (float64). */
function loss(k: Kernel, inputs: Record<string, Float64Array>, seeds: Record<string, Float64Array>): number {
  const out = k.forward(inputs);
  let total = 0;
  for (const name of k.outputs) out[name]!.forEach((x, i) => (total += x * seeds[`d${name}`]![i]!));
  return total;
}

describe("the compiled kernels' gradients against central differences of the compiled forward", () => {
  const cases: [string, string, Record<string, number>][] = [
    ['layer norm', layerSource('layer_norm'), { N: 37, D: 53 }],
    ['batch norm', layerSource('batch_norm'), { N: 37, C: 53 }],
    ['a column mean under an epilogue', COLUMN_MEAN_EPILOGUE, { N: 129, F: 3 }],
    ['two summed indices', TWO_SUMMED, { N: 3, H: 5, F: 11 }],
    ['an output index outside the column', OUTER_INDEX, { B: 2, N: 1, F: 7 }],
    ['two sums in a linear combination', TWO_SUMS, { N: 37, F: 53 }],
  ];
  for (const [label, source, sizes] of cases)
    for (const wasm of ['always', 'never'] as const)
      it(`${label} · ${describeSizes(sizes)} · ${wasm === 'always' ? 'WebAssembly' : 'JavaScript'}`, () => {
        const k = compile(source, { sizes, dtype: 'float64', wasm });
        const data = randomData(k, 77) as { inputs: Record<string, Float64Array>; seeds: Record<string, Float64Array> };
        const grads = k.backward(data.inputs, data.seeds);
        const h = 1e-6;
        for (const name of k.inputs) {
          const x = data.inputs[name]!;
          const g = grads[`d${name}`]!;
          let worst = 0;
          let scale = 0;
          for (let i = 0; i < x.length; i++) {
            const keep = x[i]!;
            x[i] = keep + h;
            const up = loss(k, data.inputs, data.seeds);
            x[i] = keep - h;
            const down = loss(k, data.inputs, data.seeds);
            x[i] = keep;
            worst = Math.max(worst, Math.abs((up - down) / (2 * h) - g[i]!));
            scale = Math.max(scale, Math.abs(g[i]!));
          }
          expect(scale, `d${name} is not all 0`).toBeGreaterThan(1e-5);
          expect(worst / scale, `d${name}`).toBeLessThan(1e-6);
        }
      });
});

function kernelsOf(source: string, dtype: 'float32' | 'float64', wasm: 'auto' | 'always' | 'never' = 'always'): LoopKernel[] {
  const p = check(source);
  const mod = lowerProgram(p, differentiate(p, { unitScalarSeeds: false }), { dtype, optimize: true, simd: true, wasm, micro: microModuleText });
  return [...mod.forward, ...mod.backward];
}
const named = (ks: LoopKernel[], name: string) => {
  const k = ks.find((x) => x.name === name);
  if (!k) throw new Error(`no kernel ${name} among ${ks.map((x) => x.name).join(', ')}`);
  return k;
};
const loops = (k: LoopKernel): For[] => {
  const out: For[] = [];
  walkStmts(k.body, (s) => void (s.kind === 'for' && out.push(s)));
  return out;
};
/** the interchanged shape: a loop over blocks of BLOCK columns */
const interchanged = (k: LoopKernel) => loops(k).some((l) => l.step.kind === 'const' && l.step.value === BLOCK);

describe('the interchanged loops', () => {
  it('a column sum in float32 WebAssembly: the row zeroed and every row added 4 lanes at a time (f32x4.add, v128.store)', () => {
    const k = named(kernelsOf(COLUMN_SUM, 'float32', 'auto'), 'forward_db');
    expect(k.runs).toBe('wasm');
    expect(interchanged(k)).toBe(true);
    const vectorized = loops(k).filter((l) => l.loop === 'vectorized');
    // the zeroing loop, and the accumulation loops: four rows a trip, then one
    expect(vectorized.length).toBe(3);
    const plans = vectorized.map((l) => vectorPlan(l, 'f32')!);
    // a read-modify-write may not rerun lanes already done
    expect(plans.every((p) => p !== undefined)).toBe(true);
    expect(plans.filter((p) => !p.overlapTail).length).toBe(2);
    const ops = printKernelWasm(k).fn.body.map((x) => x[0]);
    expect(ops).toContain('f32x4.add');
    expect(ops).toContain('v128.store');
  });
  it("layer norm's dg and db, batch norm's mu, var, dg and db, and the affine layer's db are interchanged (float64: 2 lanes)", () => {
    const ln = kernelsOf(layerSource('layer_norm'), 'float64');
    for (const name of ['backward_dg', 'backward_db']) {
      expect(interchanged(named(ln, name)), name).toBe(true);
      expect(loops(named(ln, name)).some((l) => l.loop === 'vectorized'), name).toBe(true);
    }
    // its row statistics stay row sums
    for (const name of ['forward_mu', 'forward_var', 'backward_dvar', 'backward_dmu']) expect(interchanged(named(ln, name)), name).toBe(false);
    const bn = kernelsOf(layerSource('batch_norm'), 'float64');
    // dmu adds two sums: −2·dvar[c]·Σ_n (X − mu) / N − g[c]·Σ_n dY / sqrt(var[c] + eps), one running sum of both
    for (const name of ['forward_mu', 'forward_var', 'backward_dvar', 'backward_dmu', 'backward_dg', 'backward_db']) expect(interchanged(named(bn, name)), name).toBe(true);
    expect(interchanged(named(kernelsOf(TWO_SUMS, 'float64'), 'forward_Z'))).toBe(true);
    expect(interchanged(named(kernelsOf(layerSource('affine'), 'float64'), 'backward_db'))).toBe(true);
  });
  it('declines a row sum, a read that may fall outside its tensor, a column index that strides a read, a sum of three columns, the conv bias (its inner index is summed), and sums it cannot add in one row', () => {
    const first = (src: string) => kernelsOf(src, 'float64')[0]!;
    expect(interchanged(first('dims N, D\nX: [N, D]\nm[n] = sum(d) X[n,d]'))).toBe(false);
    expect(interchanged(first('dims N, F\nX: [N, F]\nY[f] = sum(n) X[n, f+1]'))).toBe(false);
    expect(interchanged(first('dims N, F\nX: [N, F]\nA: [F, N]\nY[f] = sum(n) X[n,f] * A[f,n]'))).toBe(false);
    expect(interchanged(first('dims N\nX: [N, 3]\nY: [3]\nY[f] = sum(n) X[n,f]'))).toBe(false);
    expect(interchanged(named(kernelsOf(layerSource('conv2d'), 'float64'), 'backward_db'))).toBe(false);
    // several sums over other extents; a product of sums the planner splits into intermediates, each a column sum
    expect(interchanged(named(kernelsOf('dims N, M, F\nX: [N, F]\nW: [M, F]\nZ[f] = sum(n) X[n,f] + sum(m) W[m,f]', 'float64'), 'forward_Z'))).toBe(false);
    const product = kernelsOf('dims N, F\nX: [N, F]\nZ[f] = (sum(n) X[n,f]) * (sum(m) X[m,f]^2)', 'float64');
    expect(product.map((k) => [k.name, interchanged(k)])).toEqual([['forward_s', true], ['forward_s2', true], ['forward_Z', false], ['backward_dX', false]]);
  });
  it('the thread splitter shares out the blocks of columns, never the summed rows', () => {
    const p = check(COLUMN_SUM);
    const ctx = { shapeOf: shapeOfFactory(p), recordsArgmax: new Map(), defaults: new Map<string, number>(), program: p };
    const lowered = lowerStatement(p.statements[0]!, 'forward_db', ctx, { optimize: true, dtype: 'float64', simd: true });
    const marked = loops(lowered).filter((l) => l.loop === 'parallel');
    expect(marked.map((l) => l.step)).toEqual([c(BLOCK)]);
    const split = splitParallelLoop(lowered, new Map([['N', 100], ['F', 5000]]));
    expect(split.threads).toBe('split');
    // the block loop's bounds read the share (#part); the loop over n still runs over every row
    const part = split.sizes.find((z) => z.key === PART_KEY)!.v;
    const shared = loops(split).filter((l) => [l.lo, l.hi].some((e) => varsOf(e).has(part)));
    expect(shared.map((l) => l.step)).toEqual([c(BLOCK)]);
    const rows = loops(split).find((l) => l.v.name === 'n')!;
    expect([rows.lo, rows.hi.kind]).toEqual([c(0), 'var']);
  });
});

describe('vectorPlan: a read-modify-write of the place a trip stores', () => {
  const [X, Y] = [buffer('X', 'f32'), buffer('Y', 'f32')];
  const i = sym('i', 'i32');
  const plan = (body: LStmt[]) => vectorPlan(for_(i, c(0), c(16), body) as For, 'f32');
  it('vectorizes Y[i] = Y[i] + X[i], with no overlapping last trip', () => {
    const p = plan([store(Y, v(i), add(load(Y, v(i)), load(X, v(i))))]);
    expect(p).toBeDefined();
    expect(p!.overlapTail).toBe(false);
  });
  it('keeps scalar a read of another place of the stored buffer, or a read after the store', () => {
    expect(plan([store(Y, v(i), add(load(Y, add(v(i), c(1))), load(X, v(i))))])).toBeUndefined();
    const t = sym('t', 'f32');
    expect(plan([store(Y, v(i), load(X, v(i))), { kind: 'let', v: t, init: load(Y, v(i)), mutable: false }, store(X, v(i), v(t))])).toBeUndefined();
    expect(plan([store(Y, v(i), load(X, v(i))), store(Y, v(i), add(load(Y, v(i)), load(X, v(i))))])).toBeUndefined();
  });
});

describe('deterministic', () => {
  it('the same bits run to run, and JavaScript and WebAssembly float64 equal (one summation order)', () => {
    const sizes = { N: 37, F: BLOCK + 3 };
    const rand = seededRandom(5);
    const dY = Float64Array.from({ length: sizes.N * sizes.F }, () => rand() * 2 - 1);
    const [js, wa] = (['never', 'always'] as const).map((wasm) => compile(COLUMN_SUM, { sizes, dtype: 'float64', wasm }));
    const a = js!.forward({ dY }).db!.slice();
    const b = js!.forward({ dY }).db!.slice();
    const w = wa!.forward({ dY }).db!.slice();
    expect([...b]).toEqual([...a]);
    expect([...w]).toEqual([...a]);
  });
});
