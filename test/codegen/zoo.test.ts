// The zoo layers whose kernels issue 15's ratio bar reshaped, at sizes where the reshaping happens
// (the planner keeps a matrix product under 4096 multiply-adds in its statement's loops): the
// compiled gradients — JavaScript and WebAssembly, float64 and float32 — against central differences
// of the reference interpreter's forward, on a sample of elements of every input.
import { describe, expect, it } from 'vitest';
import { compile, emit, type Dtype } from '../../src/codegen/compile.js';
import { check } from '../../src/ir/check.js';
import { run } from '../../src/ir/evaluate.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import type { WasmMode } from '../../src/opt/chooseTarget.js';
import { layer } from '../helpers.js';

interface Variant {
  readonly dtype: Dtype;
  readonly wasm: WasmMode;
  readonly simd: boolean;
}
const VARIANTS: readonly Variant[] = [
  { dtype: 'float64', wasm: 'auto', simd: true },
  { dtype: 'float64', wasm: 'never', simd: true },
  { dtype: 'float32', wasm: 'auto', simd: true },
  { dtype: 'float32', wasm: 'always', simd: true },
  { dtype: 'float32', wasm: 'auto', simd: false },
];
// float32 kernels against float64 differences: the error of the kernels' rounding
const TOLERANCE: Record<Dtype, number> = { float64: 1e-7, float32: 2e-3 };

/** ∂(Σ seed·outputs)/∂x[i] by central differences of the interpreter, at the sampled positions. */
function centralDifferences(source: string, sizes: Record<string, number>, inputs: Record<string, Float64Array>, seeds: Record<string, Float64Array>, x: string, at: readonly number[]): number[] {
  const p = check(source);
  const probe = (given: Record<string, Float64Array>) => {
    const out = run(p, given, sizes);
    let total = 0;
    for (const [s, seed] of Object.entries(seeds)) seed.forEach((v, i) => (total += v * out[s.slice(1)]![i]!));
    return total;
  };
  return at.map((i) => {
    const h = 1e-5 * Math.max(1, Math.abs(inputs[x]![i]!));
    const moved = (d: number) => {
      const v = Float64Array.from(inputs[x]!);
      v[i]! += d;
      return probe({ ...inputs, [x]: v });
    };
    return (moved(h) - moved(-h)) / (2 * h);
  });
}

function checkLayer(name: string, sizes: Record<string, number>, samples: number) {
  const source = layer(name);
  const shapes = compile(source, { sizes }).shapes;
  const rand = seededRandom(15);
  const k0 = compile(source, { sizes });
  const inputs = Object.fromEntries(k0.inputs.map((n) => [n, Float64Array.from({ length: shapes[n]!.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1)]));
  const seeds = Object.fromEntries(k0.outputs.map((n) => [`d${n}`, Float64Array.from({ length: shapes[n]!.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1)]));
  const positions = Object.fromEntries(k0.inputs.map((n) => [n, Array.from({ length: samples }, () => Math.floor(rand() * inputs[n]!.length))]));
  const numeric = Object.fromEntries(k0.inputs.map((n) => [n, centralDifferences(source, sizes, inputs, seeds, n, positions[n]!)]));
  for (const v of VARIANTS)
    it(`${name} ${Object.entries(sizes).map(([k, x]) => `${k}=${x}`).join(' ')} · ${v.dtype} · wasm ${v.wasm}${v.simd ? '' : ', simd: false'}`, () => {
      const Arr = v.dtype === 'float32' ? Float32Array : Float64Array;
      const cast = (r: Record<string, Float64Array>) => Object.fromEntries(Object.entries(r).map(([n, x]) => [n, Arr.from(x)]));
      const k = compile(source, { sizes, dtype: v.dtype, wasm: v.wasm, simd: v.simd });
      const got = k.backward(cast(inputs), cast(seeds));
      for (const x of k.inputs) {
        const want = numeric[x]!;
        const mine = positions[x]!.map((i) => got[`d${x}`]![i]!);
        const scale = Math.max(...want.map(Math.abs));
        expect(scale, `d${x} is not all zero`).toBeGreaterThan(0);
        const err = Math.max(...mine.map((g, q) => Math.abs(g - want[q]!))) / scale;
        expect(err, `d${x}`).toBeLessThan(TOLERANCE[v.dtype]);
      }
    });
}

describe('GRU cell: each matrix product a GEMM of its own', () => {
  // 6·16·48 = 4 608 multiply-adds for W·X, 6·48·48 for U·Hs: every product is separated
  const sizes = { N: 6, D: 16, M: 48 };
  it('the gates add GEMMs, and dX and dHs add products of the gate gradients and the weights', () => {
    const text = emit(layer('gru_cell'), { sizes, target: 'js' });
    for (const kernel of ['forward_WzX', 'forward_UzHs', 'forward_UcRg', 'backward_ZWz', 'backward_ZUz', 'backward_UcdCd'])
      expect(text, kernel).toContain(`export function ${kernel}(`);
    // the gates are elementwise now: sigmoid of the products' sum, no loop over d or j inside
    const z = text.slice(text.indexOf('export function forward_Z('), text.indexOf('export function forward_WrX('));
    expect(z).not.toMatch(/for \(let (d|j) /);
  });
  checkLayer('gru_cell', sizes, 6);
});

describe('mean pool: dX’s pairs of stores as interleaved vector stores', () => {
  // W = 18: rows of 9 windows, two vector trips and an overlapping tail; W = 13: a column outside any window
  checkLayer('avgpool2d', { N: 2, C: 3, H: 10, W: 18 }, 24);
  checkLayer('avgpool2d', { N: 1, C: 2, H: 7, W: 13 }, 24);
});

describe('max pool: dX’s pairs of stores, the arg-max compared four lanes at a time', () => {
  checkLayer('maxpool2d', { N: 2, C: 3, H: 10, W: 18 }, 24);
});

describe('max pool: the arg-max record is one array kept across calls', () => {
  it('a backward after a forward of other inputs routes each gradient to its own inputs’ arg-max', () => {
    const source = layer('maxpool2d');
    const sizes = { N: 2, C: 3, H: 6, W: 8 };
    const k = compile(source, { sizes, dtype: 'float32' });
    const rand = seededRandom(7);
    const fill = (n: number) => Float32Array.from({ length: n }, () => rand() * 2 - 1);
    const [X1, X2] = [fill(2 * 3 * 6 * 8), fill(2 * 3 * 6 * 8)];
    const dY = fill(2 * 3 * 3 * 4);
    const want = run(check(source), { X: Float64Array.from(X2) }, sizes).Y!;
    // each dX element is dY where X2 holds its window's max, else 0: the gradient's sum is dY's, and
    // it is nonzero only at the maxima of X2
    k.forward({ X: X1 });
    const dX = k.backward({ X: X2 }, { dY }).dX!;
    expect(k.forward({ X: X2 }).Y).toEqual(Float32Array.from(want));
    for (let i = 0; i < dX.length; i++) if (dX[i] !== 0) expect(want).toContain(Math.fround(X2[i]!));
    const total = (a: ArrayLike<number>) => Array.from(a).reduce((s, x) => s + x, 0);
    expect(total(dX)).toBeCloseTo(total(dY), 4);
    // and backward again after a forward of X1: the same numbers
    k.forward({ X: X1 });
    expect(k.backward({ X: X2 }, { dY }).dX).toEqual(dX);
  });
});
