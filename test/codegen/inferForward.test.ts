// A forward no backward follows (compile's forward(), the module's infer()) writes no arg-max record:
// a max statement's `infer_Y` beside the recording `forward_Y` the backward needs. Both are checked
// here on the max-pool layer — odd sizes (borders), long rows (the vector loop and its tail), ties —
// in JavaScript and WebAssembly, float32 and float64: Y against the interpreter, the record against
// the first maximum of each window, and the gradient after the recording forward against the
// interpreter and against central differences of Σ dY·Y computed by infer_Y.
import { describe, expect, it } from 'vitest';
import { emit } from '../../src/codegen/compile.js';
import { check } from '../../src/ir/check.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { lowerProgram } from '../../src/pipeline.js';
import { microModuleText } from '../../src/target/micro.js';
import { printKernelWasm } from '../../src/target/wasm/printKernelWasm.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import { loadModule } from '../helpers.js';
import { describeSizes, expectClose, interpret, layerSource, makeArray, TOLERANCE } from './support.js';

type Fn = (t: Record<string, Float32Array | Float64Array | Int32Array>, s: Record<string, number>) => void;
const SOURCE = layerSource('maxpool2d');
const SIZES = [
  { N: 2, C: 3, H: 7, W: 9 }, // odd: a last row and column no window covers
  { N: 1, C: 2, H: 6, W: 38 }, // 19 windows a row: four vector trips and the tail
  { N: 1, C: 1, H: 1, W: 5 }, // no window fits
];

/** the row-major index within its window of the first maximum, of every window in output order */
function firstMaxima(X: ArrayLike<number>, { N, C, H, W }: { N: number; C: number; H: number; W: number }): number[] {
  const [U, V] = [Math.floor(H / 2), Math.floor(W / 2)];
  const arg: number[] = [];
  for (let nc = 0; nc < N * C; nc++)
    for (let u = 0; u < U; u++)
      for (let v = 0; v < V; v++) {
        let [best, at] = [-Infinity, 0];
        for (let q = 0; q < 4; q++) {
          const x = X[nc * H * W + (2 * u + (q >> 1)) * W + 2 * v + (q & 1)]!;
          if (x > best) [best, at] = [x, q];
        }
        arg.push(at);
      }
  return arg;
}

describe('infer_Y (no record) and forward_Y (the record backward reads) on the max-pool layer', () => {
  for (const dtype of ['float32', 'float64'] as const)
    for (const wasm of ['always', 'never'] as const) {
      const m = loadModule(emit(SOURCE, { dtype, wasm })) as Record<string, Fn>;
      for (const sizes of SIZES)
        for (const ties of [false, true])
          it(`${dtype} · wasm: ${wasm} · ${describeSizes(sizes)}${ties ? ' · ties' : ''}`, () => {
            const { N, C, H, W } = sizes;
            const [U, V] = [Math.floor(H / 2), Math.floor(W / 2)];
            const rand = seededRandom(H * 100 + W);
            // ties: values from {−1, 0, 1}, most windows hold two equal maxima; else distinct values,
            // 2/(N·C·H·W) apart (a shuffle of an even grid), so no central difference crosses a tie
            const n = N * C * H * W;
            const grid = Array.from({ length: n }, (_, i) => (2 * i) / n - 1);
            for (let i = n - 1; i > 0; i--) {
              const j = Math.floor(rand() * (i + 1));
              [grid[i], grid[j]] = [grid[j]!, grid[i]!];
            }
            const X = makeArray(dtype, n, (i) => (ties ? Math.floor(rand() * 3) - 1 : grid[i]!));
            const dY = makeArray(dtype, N * C * U * V, () => rand() * 2 - 1);
            const ref = interpret(SOURCE, sizes, { X }, { dY });
            const first = firstMaxima(X, sizes);
            const tol = TOLERANCE[dtype];
            // infer writes Y alone (its record type has no Y_argmax); the recording forward writes both
            const inferred = makeArray(dtype, N * C * U * V, () => NaN);
            m.infer!({ X, Y: inferred }, sizes);
            expectClose(inferred, ref.forward.Y!, tol, 'infer Y');
            const t = { X, Y: makeArray(dtype, N * C * U * V, () => NaN), Y_argmax: new Int32Array(N * C * U * V).fill(-1), dY, dX: makeArray(dtype, N * C * H * W, () => NaN) };
            m.forward!(t, sizes);
            expectClose(t.Y, ref.forward.Y!, tol, 'forward Y');
            expect(Array.from(t.Y_argmax)).toEqual(first);
            expect(Array.from(inferred)).toEqual(Array.from(t.Y));
            m.backward!(t, sizes);
            expectClose(t.dX, ref.backward.dX!, tol, 'backward dX');
            if (ties) return;
            // central differences of f(X) = Σ dY·infer(X): exact but for rounding (f is linear near X;
            // the step is what the dtype could represent of X ± h)
            const f = (x: Float32Array | Float64Array) => {
              const y = makeArray(dtype, N * C * U * V);
              m.infer_Y!({ X: x, Y: y }, sizes);
              let sum = 0;
              for (let i = 0; i < y.length; i++) sum += y[i]! * dY[i]!;
              return sum;
            };
            const h = 1 / (4 * n);
            const numeric = Array.from(X, (_, i) => {
              const [up, down] = [X.slice(), X.slice()];
              up[i]! += h;
              down[i]! -= h;
              return (f(up) - f(down)) / (up[i]! - down[i]!);
            });
            expectClose(t.dX, numeric, dtype === 'float32' ? 1e-3 : 1e-8, 'dX against central differences');
            expect(numeric.some((g) => g !== 0) || U * V === 0).toBe(true);
          });
    }
});

describe('the modules and kernels infer adds', () => {
  it('only a program with a record has infer (and infer_Y); its kernels take no Int32Array', () => {
    expect(loadModule(emit('dims I\nX: [I]\nY[i] = relu(X[i])')).infer).toBeUndefined();
    const text = emit(SOURCE, { dtype: 'float32' });
    expect(text).toMatch(/export function infer\(\s*t: \{ readonly X: Float32Array; readonly Y: Float32Array \}/);
    expect(text).toMatch(/export function infer_Y\(\s*t: \{ readonly Y: Float32Array; readonly X: Float32Array \}/);
  });
  it('float64: infer_Y vectorizes (f64x2 max, no arg-max lanes), the recording forward_Y stays scalar', () => {
    const p = check(SOURCE);
    const mod = lowerProgram(p, differentiate(p, { unitScalarSeeds: false }), { dtype: 'float64', optimize: true, simd: true, wasm: 'auto', micro: microModuleText });
    const loops = (name: string) => {
      const k = [...mod.forward, ...mod.backward, ...(mod.infer ?? [])].find((x) => x.name === name)!;
      expect(k.runs).toBe('wasm');
      return printKernelWasm(k).fn.body.map((x) => x[0]);
    };
    expect(loops('infer_Y')).toContain('i8x16.shuffle');
    expect(loops('forward_Y')).not.toContain('i8x16.shuffle');
  });
  it('float32 forward_Y loads each window row once: two v128 loads give the even and the odd column (one shuffle each)', () => {
    const p = check(SOURCE);
    const mod = lowerProgram(p, differentiate(p, { unitScalarSeeds: false }), { dtype: 'float32', optimize: true, simd: true, wasm: 'auto', micro: microModuleText });
    const k = mod.forward.find((x) => x.name === 'forward_Y')!;
    const body = printKernelWasm(k).fn.body;
    const shuffles = body.filter((x) => x[0] === 'i8x16.shuffle');
    // the X loads (Y and the record are stored): one per shuffle, not two
    const loads = body.filter((x) => x[0] === 'v128.load');
    expect(shuffles.length).toBeGreaterThan(0);
    expect(loads.length).toBe(shuffles.length);
    expect(shuffles.map((x) => x[1])).toContain('4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31');
  });
});
