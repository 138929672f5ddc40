// Kernels of data-dependent subscripts (issue 16, item 6): the gather Y[n,d] = E[tok[n], d] and its
// scatter-add gradient, against the interpreter (float64 and float32, optimized and naive, with
// WebAssembly allowed), the range check of the data with the interpreter's message, the types
// integer data is accepted as, and the cost: the backward runs in O(N·D), not O(V·N·D).
import { describe, expect, it } from 'vitest';
import { compile, emit, type Dtype } from '../../src/codegen/compile.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { derive, evaluate } from '../../src/index.js';
import { check } from '../../src/ir/check.js';
import { numericGradient, seededRandom } from '../../src/ir/gradcheck.js';
import type { Kernel, LExpr, LStmt, Sym } from '../../src/loop/types.js';
import { lowerProgram } from '../../src/pipeline.js';

const TOLERANCE: Record<Dtype, number> = { float64: 1e-12, float32: 1e-5 };

const PROGRAMS: { name: string; source: string; data: Record<string, number[]> }[] = [
  { name: 'embedding', source: 'dims V=7, D=5, N=9\nE: [V, D]\ntok: int[N]\nY[n,d] = E[tok[n], d]', data: { tok: [3, 0, 3, 6, 3, 0, 1, 6, 3] } },
  {
    name: 'embedding with a weight, a nonlinearity and an offset',
    source: 'dims V=7, D=5, N=9\nE: [V, D]\nW: [D]\ntok: int[N]\nY[n,d] = tanh(E[tok[n], d] * W[d]) + E[tok[n]+1, d]',
    data: { tok: [3, 0, 3, 5, 3, 0, 1, 5, 3] },
  },
  { name: 'two-dimensional tokens, summed over the sequence', source: 'dims V=6, D=4, B=3, T=5\nE: [V, D]\ntok: int[B, T]\nP[b,d] = sum(t) E[tok[b,t], d]^2', data: { tok: [5, 1, 5, 0, 2, 1, 1, 1, 4, 3, 0, 5, 5, 2, 2] } },
  {
    name: 'cross-entropy with integer labels',
    source: 'dims N=6, C=4\nX: [N, C]\ny: int[N]\nS[n,c] = X[n,c] - logsumexp(k) X[n,k]\nL = -sum(n) S[n, y[n]]',
    data: { y: [3, 0, 3, 1, 2, 0] },
  },
];

/** Random real inputs, the given integer data, and random seeds; the interpreter's forward and gradients. */
function reference(source: string, data: Record<string, number[]>, seed: number) {
  const p = check(source);
  const rand = seededRandom(seed);
  const inputs: Record<string, Float64Array> = {};
  const k = compile(source);
  for (const t of p.tensors)
    if (t.role === 'input' && t.elem !== 'int') inputs[t.name] = Float64Array.from({ length: k.shapes[t.name]!.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1);
  const seeds: Record<string, Float64Array> = {};
  // a scalar output's seed is 1 (derive's program and backward's default alike)
  for (const o of k.outputs.filter((x) => k.shapes[x]!.length > 0)) seeds[`d${o}`] = Float64Array.from({ length: k.shapes[o]!.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1);
  const all = { ...inputs, ...Object.fromEntries(Object.entries(data).map(([n, v]) => [n, Float64Array.from(v)])) };
  const forward = evaluate(source, all);
  const backward = evaluate(derive(source).program, { ...all, ...seeds });
  return { inputs, seeds, forward, backward, k };
}

function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return a.length === b.length ? diff / Math.max(scale, 1e-300) : Infinity;
}

describe('gather and scatter-add kernels against the interpreter', () => {
  for (const { name, source, data } of PROGRAMS)
    for (const dtype of ['float64', 'float32'] as const)
      for (const [optimize, wasm] of [
        [true, 'auto'],
        [true, 'always'],
        [false, 'never'],
      ] as const)
        it(`${name} (${dtype}, ${optimize ? 'optimized' : 'naive'}, wasm ${wasm})`, () => {
          const ref = reference(source, data, 11);
          const k = compile(source, { dtype, optimize, wasm });
          const Arr = dtype === 'float32' ? Float32Array : Float64Array;
          const cast = (r: Record<string, Float64Array>) => Object.fromEntries(Object.entries(r).map(([n, v]) => [n, Arr.from(v)]));
          const ints = Object.fromEntries(Object.entries(data).map(([n, v]) => [n, Int32Array.from(v)]));
          const fwd = k.forward({ ...cast(ref.inputs), ...ints });
          for (const [o, want] of Object.entries(ref.forward)) if (fwd[o]) expect(relativeError(fwd[o]!, want), o).toBeLessThan(TOLERANCE[dtype]);
          const bwd = k.backward({ ...cast(ref.inputs), ...ints }, cast(ref.seeds));
          expect(Object.keys(bwd).sort()).toEqual(Object.keys(ref.inputs).map((n) => `d${n}`).sort());
          for (const [g, got] of Object.entries(bwd)) {
            const want = ref.backward[g]!;
            expect(want.some((x) => x !== 0), g).toBe(true);
            expect(relativeError(got, want), g).toBeLessThan(TOLERANCE[dtype]);
          }
        });
});

describe('the kernels’ gradients against central differences', () => {
  for (const { name, source, data } of PROGRAMS)
    it(name, () => {
      const ref = reference(source, data, 17);
      const p = check(source);
      const ints = Object.fromEntries(Object.entries(data).map(([n, v]) => [n, Float64Array.from(v)]));
      const got = ref.k.backward({ ...ref.inputs, ...Object.fromEntries(Object.entries(data).map(([n, v]) => [n, Int32Array.from(v)])) }, ref.seeds);
      for (const x of Object.keys(ref.inputs)) {
        const numeric = numericGradient(p, { ...ref.inputs, ...ints }, ref.seeds, x);
        expect(relativeError(got[`d${x}`]!, numeric), x).toBeLessThan(1e-7);
        expect(numeric.some((v) => Math.abs(v) > 0.1), x).toBe(true);
      }
    });
});

describe('integer data in the kernels', () => {
  const src = PROGRAMS[0]!.source;
  const E = Float64Array.from({ length: 35 }, (_, i) => i);
  const dY = new Float64Array(45).fill(1);

  it('an out-of-range token throws the interpreter’s message, in forward and in backward', () => {
    const k = compile(src);
    const bad = Int32Array.from([3, 0, 3, 6, 7, 0, 1, 6, 3]);
    expect(() => k.forward({ E, tok: bad })).toThrow('Y: tok[4] = 7 makes the subscript tok[n] of E 7, outside [0, 7) (dimension 1 of E)');
    expect(() => evaluate(src, { E, tok: bad })).toThrow('Y: tok[4] = 7 makes the subscript tok[n] of E 7, outside [0, 7) (dimension 1 of E)');
    const negative = Int32Array.from([3, 0, 3, 6, 3, 0, -2, 6, 3]);
    expect(() => k.backward({ E, tok: negative }, { dY })).toThrow('Y: tok[6] = -2 makes the subscript tok[n] of E -2, outside [0, 7)');
    // the scatter's own check, as the interpreter runs the gradient program
    const bk = compile(src, {});
    const program = derive(src).program;
    expect(() => evaluate(program, { E, tok: negative, dY })).toThrow('Y: tok[6] = -2');
    expect(() => bk.forward({ E, tok: Int32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 9]) })).toThrow(RangeError);
  });

  it('a scalar of integer data: its gradient, and its check', () => {
    const k = compile('dims V=4, D=2\nE: [V, D]\nk: int[]\nY[d] = E[k, d]');
    expect([...k.backward({ E: new Float64Array(8), k: [2] as never }, { dY: Float64Array.from([1, 2]) }).dE!]).toEqual([0, 0, 0, 0, 1, 2, 0, 0]);
    expect(k.forward({ E: Float64Array.from({ length: 8 }, (_, i) => i), k: 1 }).Y).toEqual(Float64Array.from([2, 3]));
    expect(() => k.forward({ E: new Float64Array(8), k: [4] as never })).toThrow('Y: k = 4 makes the subscript k of E 4, outside [0, 4) (dimension 1 of E)');
  });

  it('accepts an Int32Array or an array of whole numbers, and nothing else', () => {
    const k = compile(src);
    const tok = [3, 0, 3, 6, 3, 0, 1, 6, 3];
    const a = k.backward({ E, tok: Int32Array.from(tok) }, { dY }).dE!;
    const b = k.backward({ E, tok: tok as never }, { dY }).dE!;
    expect(b).toEqual(a);
    // token 3 four times, 0 and 6 twice, 1 once: each row's gradient is its count
    expect([...a].filter((_, i) => i % 5 === 0)).toEqual([2, 1, 0, 4, 0, 0, 2]);
    expect(() => k.forward({ E, tok: Float64Array.from(tok) as never })).toThrow('input tok is integer data (declared int): pass an Int32Array (or an array of whole numbers) of 9 elements (shape [9]), got Float64Array');
    expect(() => k.forward({ E, tok: [3, 0, 3.5, 6, 3, 0, 1, 6, 3] as never })).toThrow('input tok is integer data (declared int): its element 2 is 3.5');
    expect(() => k.forward({ E, tok: [3, 0] as never })).toThrow('input tok has 2 elements but its shape [9] needs 9');
  });

  it('the emitted TypeScript types integer data Int32Array; the check runs in JavaScript, then the scatter in WebAssembly or JavaScript', () => {
    const text = emit(src, { wasm: 'always' });
    expect(text).toContain('readonly tok: Int32Array');
    const fn = (t: string, name: string) => t.slice(t.indexOf(`export function ${name}`), t.indexOf('\n}\n', t.indexOf(`export function ${name}`)));
    const scatter = fn(text, 'backward_dE2');
    // the check, then the copies in (tok as an Int32Array), the call and the copy out
    expect(scatter).toContain("throw new RangeError('dE: tok[' + String(j0) + '] = ' + String(token)");
    expect(scatter.indexOf('throw new RangeError')).toBeLessThan(scatter.indexOf('$kernels()'));
    expect(scatter).toContain('new Int32Array($w.memory.buffer, $at[2]!, tok.length).set(tok);');
    const js = fn(emit(src, { wasm: 'never' }), 'backward_dE2');
    expect(js).not.toContain('$kernels()');
    expect(js).toContain('dE[at] = dE[at]! + dY[');
  });

  it('the cost rule (wasm: auto): a label cross-entropy runs as WebAssembly; a gather from a table, or a scatter into one, stays JavaScript', () => {
    const runs = (source: string) => {
      const p = check(source);
      const mod = lowerProgram(p, differentiate(p), { optimize: true, dtype: 'float32', simd: true, micro: () => '', wasm: 'auto' });
      return Object.fromEntries([...mod.forward, ...mod.backward].filter((k) => k.data).map((k) => [k.name, k.runs ?? 'js']));
    };
    // S is read whole (the logsumexp) as well as at S[n, y[n]]: its copy is no waste
    expect(runs('dims N, C\nS: [N, C]\ny: int[N]\nL = sum(n) (logsumexp(c) S[n,c] - S[n, y[n]]) / N')).toEqual({ forward_L: 'wasm', backward_dS: 'wasm' });
    // E (V rows) would be copied whole for the N rows the tokens name (bench: 1.8× the CPU time)
    expect(runs('dims V, D, N\nE: [V, D]\ntok: int[N]\nY[n,d] = E[tok[n], d]')).toEqual({ forward_Y: 'js', backward_dE2: 'js' });
  });

  it('in WebAssembly: every kernel with integer data runs there with wasm: always, and a bad token is the same error, nothing written', () => {
    const p = check(src);
    const mod = lowerProgram(p, differentiate(p), { optimize: true, dtype: 'float64', simd: true, micro: () => '', wasm: 'always' });
    const data = [...mod.forward, ...mod.backward].filter((k) => k.data);
    expect(data.map((k) => [k.name, k.runs, k.prologue?.length])).toEqual([
      ['forward_Y', 'wasm', 1],
      ['backward_dE2', 'wasm', 1],
    ]);
    for (const dtype of ['float64', 'float32'] as const) {
      const k = compile(src, { wasm: 'always', dtype });
      const Arr = dtype === 'float32' ? Float32Array : Float64Array;
      const bad = Int32Array.from([3, 0, 3, 6, 7, 0, 1, 6, 3]);
      const Y = new Arr(45).fill(42);
      expect(() => k.forward({ E: Arr.from(E), tok: bad }, { Y })).toThrow('Y: tok[4] = 7 makes the subscript tok[n] of E 7, outside [0, 7) (dimension 1 of E)');
      expect(Y.every((x) => x === 42)).toBe(true);
      expect(() => k.backward({ E: Arr.from(E), tok: Int32Array.from([3, 0, 3, 6, 3, 0, -2, 6, 3]) }, { dY: Arr.from(dY) })).toThrow('Y: tok[6] = -2 makes the subscript tok[n] of E -2, outside [0, 7)');
      // and the numbers: row v of dE is how often v occurs; Y's rows are E's
      const tok = Int32Array.from([3, 0, 3, 6, 3, 0, 1, 6, 3]);
      expect([...k.backward({ E: Arr.from(E), tok }, { dY: Arr.from(dY) }).dE!].filter((_, i) => i % 5 === 0)).toEqual([2, 1, 0, 4, 0, 0, 2]);
      expect([...k.forward({ E: Arr.from(E), tok }).Y!]).toEqual([...evaluate(src, { E, tok }).Y!]);
    }
  });
});

/** Iterations of a kernel's innermost loops for given sizes (its loops' bounds are sizes and constants):
 *  the work, whichever order its loops run in. */
function trips(k: Kernel, sizes: Record<string, number>): number {
  const env = new Map<Sym, number>(k.sizes.map((z) => [z.v, sizes[z.key]!] as const));
  const value = (e: LExpr): number | undefined => {
    switch (e.kind) {
      case 'const':
        return e.value;
      case 'var':
        return env.get(e.v);
      case 'unary':
        return e.op === 'cast' ? value(e.a) : undefined;
      case 'binary': {
        const [a, b] = [value(e.a), value(e.b)];
        if (a === undefined || b === undefined) return undefined;
        return { '+': a + b, '-': a - b, '*': a * b, min: Math.min(a, b), max: Math.max(a, b), floordiv: Math.floor(a / b) }[e.op as '+'];
      }
      default:
        return undefined;
    }
  };
  const run = (body: readonly LStmt[]): number => {
    let n = 0;
    for (const s of body) {
      if (s.kind === 'let') {
        const x = value(s.init);
        if (x !== undefined) env.set(s.v, x);
      } else if (s.kind === 'for') {
        const [lo, hi, step] = [value(s.lo), value(s.hi), value(s.step)];
        if (lo === undefined || hi === undefined || step === undefined) throw new Error(`loop ${s.v.name}: bounds not known`);
        const innermost = !s.body.some((x) => x.kind === 'for' || x.kind === 'block');
        for (let i = lo; i < hi; i += step) {
          env.set(s.v, i);
          n += (innermost ? 1 : 0) + run(s.body);
        }
      } else if (s.kind === 'if') n += run(s.then) + run(s.else);
      else if (s.kind === 'block') n += run(s.body);
    }
    return n;
  };
  return run(k.body);
}

describe('the cost of the scatter-add gradient', () => {
  it('runs N + N·D loop trips — not V·N·D, as a gather with a (tok[n] == v) mask would', () => {
    const src = 'E: [V, D]\ntok: int[N]\nY[n,d] = E[tok[n], d]';
    const p = check(src);
    const grads = differentiate(p, { unitScalarSeeds: false });
    const sizes = { V: 1000, D: 8, N: 16 };
    for (const optimize of [true, false]) {
      const mod = lowerProgram(p, grads, { optimize, dtype: 'float64', simd: true, micro: () => '' });
      const [zero, scatter] = mod.backward;
      expect(scatter!.formula).toBe('dE[tok[n],d] += dY[n,d]');
      // the data check (N) and the scatter (N rows of D)
      expect(trips(scatter!, sizes)).toBe(16 + 16 * 8);
      // dE = 0 fills V·D elements once; no kernel of the backward visits V·N·D
      expect(trips(zero!, sizes)).toBeLessThanOrEqual(1000 + 1000 * 8);
      expect(mod.backward.reduce((a, k) => a + trips(k, sizes), 0)).toBeLessThan(1000 * 8 * 2 + 200);
    }
  });
});
