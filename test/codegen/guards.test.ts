// Runtime guards (issue 6, item 4): compiled kernels, and the generated/ Operator API, reject bad
// input — wrong array lengths, wrong dtypes, missing or unknown inputs and seeds, NaN, fractional,
// negative, infinite, missing and unknown sizes — with an Error that names the tensor or the size,
// before any loop runs (checked by watching every element read). And the kernels never read out
// of bounds: every read and write of every array is watched on odd shapes, large paddings and
// strides, and outputs are checked for NaN and against the interpreter.
import { describe, expect, it } from 'vitest';
import { compile, emit, type DataArray, type Dtype } from '../../src/codegen/compile.js';
import { loadModule } from '../helpers.js';
import { operator, type KernelModule, type ProgramInfo } from '../../src/codegen/operator.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import { affine, conv2d, conv2dKernels, maxpool2d, softmaxCrossEntropy } from '../../generated/index.js';
import { describeSizes, expectClose, hasNaN, interpret, layerSource, makeArray, reference, TOLERANCE } from './support.js';

const CONV = layerSource('conv2d');
const AFFINE = layerSource('affine');
const convSizes = { N: 2, C: 3, H: 6, W: 5, F: 4 }; // R=S=3, P=1, T=1 by default: Y is [2, 4, 6, 5]

/** Element reads and writes of a typed array, and any outside [0, length). */
interface Watch {
  reads: number;
  writes: number;
  bad: string[];
}

/** A proxy that behaves as `a` (instanceof, length, methods) and records every element access. */
function watched<T extends Float32Array | Float64Array | Int32Array>(a: T, name: string, w: Watch): T {
  const numeric = (k: string | symbol): number | undefined => {
    if (typeof k !== 'string') return undefined;
    const n = Number(k);
    return String(n) === k || k === '-0' ? n : undefined;
  };
  const check = (n: number, what: string) => {
    if (!(Number.isInteger(n) && n >= 0 && n < a.length) && w.bad.length < 10) w.bad.push(`${what} ${name}[${n}] (length ${a.length})`);
  };
  return new Proxy(a, {
    get(t, k) {
      const n = numeric(k);
      if (n !== undefined) {
        w.reads++;
        check(n, 'read');
      }
      const v = Reflect.get(t, k, t);
      return typeof v === 'function' ? v.bind(t) : v;
    },
    set(t, k, v) {
      const n = numeric(k);
      if (n !== undefined) {
        w.writes++;
        check(n, 'write');
      }
      return Reflect.set(t, k, v, t);
    },
  });
}

const validConvInputs = () => ({
  X: new Float64Array(2 * 3 * 6 * 5).fill(0.5),
  K: new Float64Array(4 * 3 * 3 * 3).fill(0.25),
  b: new Float64Array(4).fill(1),
});

/** expect(f).toThrow, and the message mentions every one of `parts` (names as whole words). */
function expectError(f: () => unknown, ...parts: (string | number)[]): string {
  let message: string | undefined;
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    message = (e as Error).message;
  }
  if (message === undefined) throw new Error(`expected an error mentioning ${parts.join(', ')}, but nothing was thrown`);
  for (const p of parts) {
    const re =
      typeof p === 'number'
        ? new RegExp(`(^|[^\\d.])${p}(?![\\d.]\\d)`)
        : new RegExp(`(^|[^\\w$])${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w$])`);
    expect(message, `the error "${message}" should mention ${p}`).toMatch(re);
  }
  return message;
}

describe('compile(): bad input throws a clear Error before any loop runs', () => {
  for (const dtype of ['float64', 'float32'] as Dtype[]) {
    const k = compile(CONV, { sizes: convSizes, dtype });
    const other = dtype === 'float64' ? 'Float32Array' : 'Float64Array';
    const good = () => {
      const v = validConvInputs();
      return { X: makeArray(dtype, v.X), K: makeArray(dtype, v.K), b: makeArray(dtype, v.b) };
    };
    const dY = () => makeArray(dtype, 2 * 4 * 6 * 5, () => 1);

    /** Runs f with every valid input watched; asserts it throws and that no element was read or written. */
    const rejectsUntouched = (f: (inputs: Record<string, DataArray>) => unknown, ...parts: (string | number)[]) => {
      const w: Watch = { reads: 0, writes: 0, bad: [] };
      const inputs = Object.fromEntries(Object.entries(good()).map(([n, a]) => [n, watched(a, n, w)]));
      expectError(() => f(inputs), ...parts);
      expect(w.reads + w.writes, 'element accesses before the error').toBe(0);
    };

    describe(dtype, () => {
      it('(the watch sees the reads of a valid call, so "no access before the error" means something)', () => {
        const w: Watch = { reads: 0, writes: 0, bad: [] };
        const inputs = Object.fromEntries(Object.entries(good()).map(([n, a]) => [n, watched(a, n, w)]));
        k.backward(inputs, { dY: dY() });
        expect(w.reads).toBeGreaterThan(180);
        expect(w.bad).toEqual([]);
      });

      it('a wrong array length names the tensor, the expected and the actual size', () => {
        for (const [name, n, wrong] of [
          ['X', 180, 179],
          ['K', 108, 109],
          ['b', 4, 1],
        ] as const)
          rejectsUntouched((x) => k.forward({ ...x, [name]: makeArray(dtype, wrong) }), `input ${name}`, n, wrong);
        rejectsUntouched((x) => k.backward({ ...x, X: makeArray(dtype, 0) }, { dY: dY() }), 'X', 180, 0);
      });

      it(`a ${other} (wrong dtype), a plain array or an Int32Array is rejected, naming the tensor`, () => {
        const wrong = dtype === 'float64' ? new Float32Array(180) : new Float64Array(180);
        rejectsUntouched((x) => k.forward({ ...x, X: wrong }), 'X', other);
        rejectsUntouched((x) => k.forward({ ...x, X: Array.from({ length: 180 }, () => 0) as unknown as DataArray }), 'X');
        rejectsUntouched((x) => k.forward({ ...x, K: new Int32Array(108) as unknown as DataArray }), 'K');
        rejectsUntouched(
          (x) => k.backward(x, { dY: (dtype === 'float64' ? new Float32Array(240) : new Float64Array(240)) as DataArray }),
          'dY',
        );
      });

      it('a missing input names it, with its shape', () => {
        rejectsUntouched(({ X, K }) => k.forward({ X: X!, K: K! }), 'b', 4);
        rejectsUntouched(({ K, b }) => k.backward({ K: K!, b: b! }, { dY: dY() }), 'X', 180);
        expectError(() => k.forward(undefined as never));
      });

      it('an unknown input name is rejected, naming it', () => {
        rejectsUntouched((x) => k.forward({ ...x, Z: makeArray(dtype, 3) }), 'Z');
        rejectsUntouched((x) => k.forward({ ...x, x: x.X! }), 'x');
      });

      it('seeds: missing, wrong length, unknown name', () => {
        rejectsUntouched((x) => k.backward(x, {}), 'dY', 240);
        rejectsUntouched((x) => k.backward(x, { dY: makeArray(dtype, 239) }), 'dY', 240, 239);
        rejectsUntouched((x) => k.backward(x, { dY: dY(), dZ: makeArray(dtype, 240) }), 'dZ');
        rejectsUntouched((x) => k.backward(x, { dX: makeArray(dtype, 180) }), 'dX');
      });

      it('a number where an array is needed is rejected; a number for a scalar input is accepted', () => {
        rejectsUntouched((x) => k.forward({ ...x, b: 1 }), 'b');
        const l2 = compile(layerSource('l2_penalty'), { sizes: { D: 3 }, dtype });
        const W = makeArray(dtype, [1, 2, 3]);
        expect(Array.from(l2.forward({ W, lam: 0.5 }).L!)).toEqual([7]);
        expectError(() => l2.forward({ W, lam: makeArray(dtype, 2) }), 'lam', 1, 2);
      });
    });
  }

  describe('sizes', () => {
    const sizes = { N: 2, D: 3, F: 4 };
    it('NaN, fractional, negative, infinite and non-number sizes name the size', () => {
      for (const bad of [NaN, 2.5, -1, Infinity, -Infinity])
        for (const dtype of ['float64', 'float32'] as Dtype[])
          expectError(() => compile(AFFINE, { sizes: { ...sizes, D: bad }, dtype }), 'D');
      expectError(() => compile(AFFINE, { sizes: { ...sizes, N: '2' as unknown as number } }), 'N');
      expectError(() => compile(AFFINE, { sizes: { ...sizes, F: null as unknown as number } }), 'F');
    });
    it('a missing size and an unknown size are named', () => {
      expectError(() => compile(AFFINE, { sizes: { N: 2, F: 4 } }), 'D');
      expectError(() => compile(AFFINE, { sizes: { ...sizes, Q: 3 } }), 'Q');
      expectError(() => compile(AFFINE, { sizes: {} }), 'N', 'D', 'F');
    });
    it('sizes for which a shape is negative are rejected, naming the tensor', () => {
      // H + 2P − R < −1: the output height would be negative
      expectError(() => compile(CONV, { sizes: { N: 1, C: 1, H: 1, W: 5, F: 1, P: 0 } }), 'Y');
    });
    // Regression test, was a bug (compile / src/ir/evaluate.ts shapeOf): stride T = 0 passes the size check (a whole
    // number ≥ 0), then the shape (H+2*P-R)/T+1 divides by zero and the error reads
    // "the size of Y needs values for : pass them as sizes" — it names no size and says nothing of T.
    it('a zero stride (a division by zero in a shape) is rejected, naming the size', () => {
      expectError(() => compile(CONV, { sizes: { ...convSizes, T: 0 } }), 'T');
    });
    it('an unknown dtype is rejected', () => {
      expectError(() => compile(AFFINE, { sizes, dtype: 'float16' as Dtype }), 'float16');
    });
  });
});

// ---- the Operator API of generated/ ------------------------------------------------------------

describe('generated/ Operator API: the same checks', () => {
  /** conv2d with its kernels spied on: did forward or backward run? */
  const spied = () => {
    const calls = { forward: 0, backward: 0 };
    const m = conv2dKernels as unknown as KernelModule<ProgramInfo>;
    const spy: KernelModule<ProgramInfo> = {
      program: m.program,
      shapes: m.shapes,
      forward: (t, s) => {
        calls.forward++;
        m.forward(t, s);
      },
      backward: (t, s) => {
        calls.backward++;
        m.backward(t, s);
      },
    };
    return { op: operator(spy, 'conv2d'), calls };
  };
  const forwardRejects = (inputs: Record<string, unknown>, sizes: Record<string, unknown>, ...parts: (string | number)[]) => {
    const { op, calls } = spied();
    expectError(() => op.forward({}, inputs as never, sizes as never), ...parts);
    expect(calls.forward, 'the kernels ran before the error').toBe(0);
  };

  it('wrong lengths, wrong dtypes and missing inputs name the tensor', () => {
    const v = validConvInputs();
    forwardRejects({ ...v, X: new Float64Array(179) }, convSizes, 'X', 180, 179);
    forwardRejects({ ...v, K: new Float32Array(108) }, convSizes, 'K', 'Float32Array');
    forwardRejects({ ...v, b: [1, 1, 1, 1] }, convSizes, 'b');
    forwardRejects({ X: v.X, K: v.K }, convSizes, 'b', 4);
  });

  it('NaN, fractional, negative, missing and unknown sizes name the size', () => {
    const v = validConvInputs();
    for (const bad of [NaN, 2.5, -3, Infinity]) forwardRejects(v, { ...convSizes, H: bad }, 'H');
    forwardRejects(v, { ...convSizes, P: '1' }, 'P');
    forwardRejects(v, { N: 2, C: 3, H: 6, W: 5 }, 'F');
    forwardRejects(v, { ...convSizes, Z: 1 }, 'Z');
  });

  // Regression test, was a bug (src/codegen/operator.ts forward): input names are never checked against program.inputs,
  // so a misspelt or extra input is silently ignored (compile() rejects it: "Z is not an input").
  it('an unknown input name is rejected, naming it', () => {
    forwardRejects({ ...validConvInputs(), Z: new Float64Array(3) }, convSizes, 'Z');
  });

  // Regression test, was a bug (src/codegen/operator.ts resolve/shapes): a zero stride passes the size check and the
  // output allocation fails with "RangeError: Invalid typed array length: Infinity" — no size named.
  it('a zero stride is rejected, naming the size', () => {
    forwardRejects(validConvInputs(), { ...convSizes, T: 0 }, 'T');
  });

  it('seeds: backward without forward, missing or wrong-length seed; out arrays of the wrong length', () => {
    const { op, calls } = spied();
    expectError(() => op.backward({}, { dY: new Float64Array(240) }), 'forward');
    const ctx = {};
    op.forward(ctx, validConvInputs(), convSizes);
    expectError(() => op.backward(ctx, {}), 'dY', 240);
    expectError(() => op.backward(ctx, { dY: new Float64Array(241) }), 'dY', 240, 241);
    expectError(() => op.backward(ctx, { dY: new Float32Array(240) as never }), 'dY', 'Float32Array');
    expect(calls.backward).toBe(0);
    expectError(() => op.forward({}, validConvInputs(), convSizes, { Y: new Float64Array(239) }), 'Y', 240, 239);
    expect(calls.forward).toBe(1);
  });

  // Regression test, was a bug (src/codegen/operator.ts backward): seed names are never checked against program.seeds,
  // so `{ dy: … }` for `{ dY: … }` is ignored — for a scalar loss it silently uses the seed 1.
  it('an unknown seed name is rejected, naming it', () => {
    const ctx = {};
    softmaxCrossEntropy.forward(ctx, { S: new Float64Array(6), Yt: new Float64Array(6) }, { N: 2, C: 3 });
    expectError(() => softmaxCrossEntropy.backward(ctx, { dl: 0.5 } as never), 'dl');
  });

  it('backward(ctx, seeds, { wrt }) runs only the kernels of those gradients, with the same numbers', () => {
    const m = conv2dKernels as unknown as Record<string, (t: never, s: never) => void> & KernelModule<ProgramInfo>;
    const ran: string[] = [];
    const spy = Object.fromEntries(
      Object.entries(m).map(([k, v]) => [k, typeof v === 'function' && k.startsWith('backward') ? (t: never, s: never) => (ran.push(k), v(t, s)) : v]),
    ) as unknown as KernelModule<ProgramInfo>;
    const op = operator(spy, 'conv2d');
    const dY = Float64Array.from({ length: 240 }, (_, i) => Math.sin(i));
    const ctx = {};
    op.forward(ctx, validConvInputs(), convSizes);
    // one forward, three backwards: each but the last retains what forward saved
    const all = op.backward(ctx, { dY }, { retain: true }) as Record<string, Float64Array>;
    expect(ran).toEqual(['backward']);
    ran.length = 0;
    const some = op.backward(ctx, { dY }, { wrt: ['K', 'b'], retain: true }) as Record<string, Float64Array>;
    expect(ran).toEqual(['backward_dK', 'backward_db']);
    expect(Object.keys(some).sort()).toEqual(['dK', 'db']);
    expect([...some.dK!]).toEqual([...all.dK!]);
    expect([...some.db!]).toEqual([...all.db!]);
    expect(all.dX!.some((x) => x !== 0), 'the full backward computed dX').toBe(true);
    expectError(() => op.backward(ctx, { dY }, { wrt: ['x' as never] }), 'x', 'not an input');
  });

  it('the real layers check too (affine, maxpool2d)', () => {
    expectError(
      () => affine.forward({}, { X: new Float64Array(5), W: new Float64Array(12), b: new Float64Array(4) }, { N: 2, D: 3, F: 4 }),
      'X',
      6,
      5,
    );
    expectError(() => maxpool2d.forward({}, { X: new Float64Array(20) }, { N: 1, C: 1, H: 4, W: NaN }), 'W');
    expectError(() => conv2d.forward({}, validConvInputs(), { ...convSizes, C: 2.5 }), 'C');
  });
});

// ---- no out-of-bounds reads, no NaN ------------------------------------------------------------

interface LoadedKernels {
  forward(t: Record<string, DataArray | Int32Array>, s: Record<string, number>): void;
  backward(t: Record<string, DataArray | Int32Array>, s: Record<string, number>): void;
  shapes(s: Record<string, number>): Record<string, number[]>;
  program: ProgramInfo;
}
const modules = new Map<string, LoadedKernels>();
const loaded = (source: string, dtype: Dtype, optimize: boolean): LoadedKernels => {
  const key = `${dtype}|${optimize}|${source}`;
  if (!modules.has(key)) modules.set(key, loadModule(emit(source, { dtype, optimize })) as unknown as LoadedKernels);
  return modules.get(key)!;
};

/**
 * Runs the emitted forward and backward functions directly, on arrays that all (inputs, outputs,
 * intermediates, the planner's scratch and temporaries, arg-max records, seeds, gradients) record any
 * access outside their bounds.
 */
function runWatched(source: string, dtype: Dtype, optimize: boolean, sizes: Record<string, number>, seed: number) {
  const m = loaded(source, dtype, optimize);
  const p = m.program;
  const s = Object.fromEntries(p.sizes.map((n) => [n, sizes[n] ?? p.defaults[n]!]));
  const shapes = m.shapes(s);
  const shapeOf = (n: string): number[] => {
    const sh = shapes[n] ?? shapes[n.replace(/^d/, '')] ?? shapes[n.replace(/_argmax$/, '')];
    if (!sh) throw new Error(`no shape for ${n}`);
    return sh;
  };
  const count = (n: string) => shapeOf(n).reduce((a, b) => a * b, 1);
  const rand = seededRandom(seed);
  const w: Watch = { reads: 0, writes: 0, bad: [] };
  const t: Record<string, DataArray | Int32Array> = {};
  const plain: Record<string, DataArray> = {};
  for (const n of p.inputs) plain[n] = makeArray(dtype, count(n), () => 2 * rand() - 1);
  for (const n of p.seeds) plain[n] = makeArray(dtype, count(n), () => 2 * rand() - 1);
  for (const [n, a] of Object.entries(plain)) t[n] = watched(a, n, w);
  // the planner's intermediates and temporaries (src/plan/) are watched like the others
  const inner = [...(p.scratch ?? []), ...new Set(Object.values(p.temporaries ?? {}).flat())];
  for (const n of [...p.intermediates, ...inner, ...p.outputs, ...p.gradients]) t[n] = watched(makeArray(dtype, count(n)), n, w);
  for (const n of p.records) t[n] = watched(new Int32Array(count(n)), n, w);
  m.forward(t, s);
  m.backward(t, s);
  return { w, t, s, plain };
}

describe('no out-of-bounds access and no NaN, at odd shapes, large paddings and strides', () => {
  const rand = seededRandom(31337);
  const pick = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const convCases: Record<string, number>[] = [
    { N: 1, C: 1, H: 2, W: 3, F: 1, R: 3, S: 3, P: 4, T: 1 }, // padding much larger than the kernel and the image
    { N: 2, C: 2, H: 1, W: 1, F: 2, R: 1, S: 1, P: 2, T: 3 },
    { N: 1, C: 2, H: 5, W: 4, F: 1, R: 5, S: 4, P: 0, T: 4 },
    { N: 3, C: 1, H: 7, W: 2, F: 2, R: 2, S: 2, P: 3, T: 2 },
  ];
  while (convCases.length < 12) {
    const z = {
      N: pick(1, 3),
      C: pick(1, 3),
      H: pick(1, 9),
      W: pick(1, 9),
      F: pick(1, 3),
      R: pick(1, 5),
      S: pick(1, 5),
      P: pick(0, 4),
      T: pick(1, 4),
    };
    if (z.H + 2 * z.P >= z.R && z.W + 2 * z.P >= z.S) convCases.push(z);
  }
  const poolCases = [1, 2, 3, 5, 7].flatMap((H) => [1, 4, 5].map((W) => ({ N: 2, C: 1, H, W })));
  const programs: [string, string, Record<string, number>[]][] = [
    ['conv2d', CONV, convCases],
    [
      'conv2d_s2p1',
      layerSource('conv2d_s2p1'),
      [
        { N: 1, C: 1, H: 1, W: 2, F: 1 },
        { N: 2, C: 2, H: 4, W: 3, F: 2 },
      ],
    ],
    ['maxpool2d', layerSource('maxpool2d'), poolCases],
    ['avgpool2d', layerSource('avgpool2d'), poolCases],
    ['maxout', layerSource('maxout'), [{ N: 3, D: 1, K: 2, T: 3 }]],
    [
      'affine_relu',
      layerSource('affine_relu'),
      [
        { N: 5, D: 3, F: 9 },
        { N: 1, D: 1, F: 1 },
      ],
    ],
    [
      'softmax_xent',
      layerSource('softmax_xent'),
      [
        { N: 3, C: 1 },
        { N: 2, C: 5 },
      ],
    ],
    ['two_layer_svm', layerSource('two_layer_svm'), [{ N: 5, D: 3, H: 6, C: 3 }]],
  ];
  // the naive kernels test every read (`cond ? X[…] : 0`); the optimized ones drop the tests where
  // loop bounds make them unnecessary, so they are the ones watched here (both dtypes: the GEMM tiles differ)
  const optimize = true;
  for (const [name, source, cases] of programs)
    for (const dtype of ['float64', 'float32'] as Dtype[])
      it(`${name} · ${dtype} · optimized · ${cases.length} shapes`, () => {
        const inputs = reference(source)
          .forward.tensors.filter((x) => x.role === 'input')
          .map((x) => x.name);
        cases.forEach((sizes, ci) => {
          const { w, t, s, plain } = runWatched(source, dtype, optimize, sizes, 40 + ci);
          const where = `${name} ${describeSizes(s)}`;
          expect(w.bad, `out-of-bounds accesses at ${where}`).toEqual([]);
          for (const [n, a] of Object.entries(t)) expect(hasNaN(a), `NaN in ${n} at ${where}`).toBe(false);
          // and the values are the zero-padded ones
          const ref = interpret(
            source,
            s,
            Object.fromEntries(inputs.map((n) => [n, plain[n]!])),
            Object.fromEntries(Object.entries(plain).filter(([n]) => !inputs.includes(n))),
          );
          for (const n of inputs) expectClose(t[`d${n}`] as DataArray, ref.backward[`d${n}`]!, TOLERANCE[dtype], `d${n} at ${where}`);
        });
      });
});
