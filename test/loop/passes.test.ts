// The loop IR's own checks and passes, on their own: constructors fold, mappers keep identity,
// verifyLoops finds what is wrong, and each pass both does its job and keeps every kernel of every
// layer well formed (verifyLoops after every step) and numerically the same (the kernel tests).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { check } from '../../src/ir/check.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { add, addTo, assign, buffer, c, cast, div, eq, floordiv, for_, isConst, let_, load, lt, mul, neg, select, store, sub, sym, v } from '../../src/loop/build.js';
import { exprKey, mapExprs, walkExpr } from '../../src/loop/mapLoop.js';
import { verifyLoops } from '../../src/loop/verifyLoops.js';
import type { Kernel, LStmt } from '../../src/loop/types.js';
import { constantDifference, strengthReduce } from '../../src/opt/strengthReduce.js';
import { vectorPlan } from '../../src/opt/vectorizeLoops.js';
import { unrollSums } from '../../src/opt/unrollSums.js';
import { hoistInvariants } from '../../src/opt/hoistInvariants.js';
import { lowerStatement } from '../../src/lower/lowerToLoops.js';
import { shapeOfFactory } from '../../src/pipeline.js';
import { printJsStatements } from '../../src/target/js.js';
import { JS_RESERVED, Namer } from '../../src/target/names.js';
import type { Statement } from '../../src/ir/types.js';

const print = (body: readonly LStmt[]) => printJsStatements(body, { namer: new Namer({ reserved: JS_RESERVED, dollar: true }), typed: false, instance: (m) => m, moduleScratch: (n) => n }).join('\n');
const kernel = (body: LStmt[], sizes: ReturnType<typeof sym>[] = [], buffers: ReturnType<typeof buffer>[] = []): Kernel => ({
  name: 'k',
  formula: '',
  dtype: 'f64',
  sizes: sizes.map((s) => ({ v: s, key: s.name })),
  buffers: buffers.map((b) => ({ buf: b, key: b.name, role: 'write' })),
  body,
});

describe('constructors fold what is trivially foldable', () => {
  const i = sym('i', 'i32');
  const x = sym('x', 'f64');
  it('integers', () => {
    expect(add(mul(v(i), c(1)), c(0))).toEqual(v(i));
    expect(print([let_(sym('a', 'i32'), add(add(v(i), c(2)), c(3)))])).toBe('const a = i + 5;');
    expect(mul(c(0), v(i))).toEqual(c(0));
    expect(sub(v(i), c(-4))).toEqual(add(v(i), c(4)));
    expect(floordiv(c(-7), c(2))).toEqual(c(-4));
    expect(lt(c(1), c(2))).toEqual(c(1, 'bool'));
  });
  it('floats keep 0·x (0·NaN is NaN) and fold only what is exact', () => {
    expect(isConst(mul(c(0, 'f64'), v(x)))).toBe(false);
    expect(mul(c(1, 'f64'), v(x))).toEqual(v(x));
    expect(print([let_(sym('a', 'f64'), add(v(x), neg(c(2, 'f64'))))])).toBe('const a = x - 2;');
  });
  it('x − (m + l) of two float locals is (x − m) − l, however it is written (logsumexp: lowerReduction.ts)', () => {
    const [m, l] = [sym('m', 'f64'), sym('l', 'f64')];
    const want = 'const a = x - m - l;';
    expect(print([let_(sym('a', 'f64'), sub(v(x), add(v(m), v(l))))])).toBe(want);
    expect(print([let_(sym('a', 'f64'), add(v(x), neg(add(v(m), v(l)))))])).toBe(want);
    // not for integers, nor for a sum that is not of two locals
    expect(print([let_(sym('a', 'i32'), sub(v(i), add(v(sym('j', 'i32')), v(sym('k', 'i32')))))])).toBe('const a = i - (j + k);');
    expect(print([let_(sym('a', 'f64'), sub(v(x), add(v(m), c(2, 'f64'))))])).toBe('const a = x - (m + 2);');
  });
  it('operands of different types are an internal error', () => {
    expect(() => add(v(i), v(x))).toThrow(/\+ of i32 and f64/);
    expect(() => select(v(i), v(x), v(x))).toThrow(/select on a non-boolean/);
  });
});

describe('mappers and the checker', () => {
  it('a mapper that changes nothing returns the very same statements', () => {
    const i = sym('i', 'i32');
    const Y = buffer('Y', 'f64');
    const body: LStmt[] = [for_(i, c(0), c(4), [store(Y, v(i), c(1, 'f64'))])];
    expect(mapExprs(body, (e) => e)).toBe(body);
    expect(mapExprs(body, (e) => (e.kind === 'const' && e.ty === 'f64' ? c(2, 'f64') : e))).not.toBe(body);
  });
  it('verifyLoops names unbound variables, shadowing, assignment to constants and type errors', () => {
    const i = sym('i', 'i32');
    const a = sym('a', 'f64');
    const Y = buffer('Y', 'f64');
    expect(verifyLoops(kernel([store(Y, v(i), c(1, 'f64'))], [], [Y]))).toEqual(['k: i#' + i.id + ' is not bound in store Y']);
    expect(verifyLoops(kernel([let_(a, c(0, 'f64')), assign(a, c(1, 'f64'))], [], []))).toEqual(['k: a is assigned but not mutable']);
    expect(verifyLoops(kernel([for_(i, c(0), c(2), [for_(i, c(0), c(2), [])])]))).toEqual([`k: loop variable i#${i.id} shadows a binding`]);
    expect(verifyLoops(kernel([store(Y, c(0), c(1))], [], [Y]))).toEqual(['k: store of i32 into Y (f64)']);
  });
});

describe('passes on a small kernel', () => {
  // for n, for i: Y[n*I + i] = sum(k) A[(n*I + i)*K + k] * X[k]
  const n = sym('n', 'i32');
  const i = sym('i', 'i32');
  const k = sym('k', 'i32');
  const [N, I, K] = ['N', 'I', 'K'].map((s) => sym(s, 'i32')) as [ReturnType<typeof sym>, ReturnType<typeof sym>, ReturnType<typeof sym>];
  const [Y, A, X] = ['Y', 'A', 'X'].map((s) => buffer(s, 'f64'));
  const acc = sym('acc', 'f64');
  const row = add(mul(v(n), v(I)), v(i));
  const body: LStmt[] = [
    for_(n, c(0), v(N), [
      for_(i, c(0), v(I), [
        let_(acc, c(0, 'f64'), true),
        for_(k, c(0), v(K), [addTo(acc, mul(load(A!, add(mul(row, v(K)), v(k))), load(X!, v(k))))], { loop: 'unrolled' }),
        store(Y!, row, v(acc)),
      ]),
    ]),
  ];
  const k0 = kernel(body, [N, I, K], [Y!, A!, X!]);
  it('strengthReduce: no multiplication left in an index; unrollSums: four partial sums; hoistInvariants: bounds once', () => {
    const reduced = strengthReduce(k0);
    expect(verifyLoops(reduced)).toEqual([]);
    const text = print(reduced.body);
    expect(text).not.toMatch(/\[[^\]]*\*[^\]]*\]/);
    const unrolled = unrollSums(reduced);
    expect(verifyLoops(unrolled)).toEqual([]);
    expect((print(unrolled.body).match(/\+= A\[/g) ?? []).length).toBe(5);
    const hoisted = hoistInvariants(unrolled);
    expect(verifyLoops(hoisted)).toEqual([]);
    // the unrolled loop's end depends on K only: computed once, before every loop
    const lines = print(hoisted.body).split('\n');
    expect(lines.findIndex((l) => /const \$end = /.test(l))).toBeLessThan(lines.findIndex((l) => l.startsWith('for (let n')));
  });
  it('the passes compute what the plain kernel computes', () => {
    const run = (kk: Kernel) => {
      const f = new Function('Y', 'A', 'X', 'N', 'I', 'K', print(kk.body));
      const [n0, i0, k0_] = [3, 5, 7];
      const Av = Float64Array.from({ length: n0 * i0 * k0_ }, (_, j) => Math.sin(j));
      const Xv = Float64Array.from({ length: k0_ }, (_, j) => Math.cos(j));
      const Yv = new Float64Array(n0 * i0);
      f(Yv, Av, Xv, n0, i0, k0_);
      return [...Yv];
    };
    const plain = run(k0);
    const all = run(hoistInvariants(unrollSums(strengthReduce(k0))));
    plain.forEach((y, j) => expect(all[j]).toBeCloseTo(y, 12));
  });
});

describe('a mean pool gradient’s pair of stores (dX[2q] = dX[2q + 1] = dY[q]/4)', () => {
  const q = sym('q', 'i32');
  const Q = sym('Q', 'i32');
  const [dX, dY] = [buffer('dX', 'f32'), buffer('dY', 'f32')];
  const quarter = div(load(dY, v(q)), c(4, 'f32'));
  const pair = [for_(q, c(0), v(Q), [store(dX, mul(c(2), v(q)), quarter), store(dX, add(mul(c(2), v(q)), c(1)), quarter)])];
  const k0: Kernel = { ...kernel(pair, [Q], [dX, dY]), dtype: 'f32' };
  it('x / 4 is x · 0.25 (exact), x / 3 stays a division', () => {
    expect(print([let_(sym('a', 'f32'), quarter)])).toBe('const a = dY[q] * 0.25;');
    expect(print([let_(sym('a', 'f32'), div(load(dY, v(q)), c(3, 'f32')))])).toBe('const a = dY[q] / 3;');
  });
  it('strengthReduce: one pointer, the second store at it + 1', () => {
    const reduced = strengthReduce(k0);
    expect(verifyLoops(reduced)).toEqual([]);
    const text = print(reduced.body);
    expect(text).toContain('dX[$p] = dY[q] * 0.25;');
    expect(text).toContain('dX[$p + 1] = dY[q] * 0.25;');
    expect(constantDifference(add(mul(c(2), add(v(q), v(Q))), c(3)), add(mul(v(Q), c(2)), mul(c(2), v(q))))).toBe(3);
    expect(constantDifference(mul(c(2), v(q)), v(q))).toBeUndefined();
  });
  it('vectorPlan: one vector load of dY, two stores of its lanes interleaved', () => {
    const loop = strengthReduce(k0).body.find((s) => s.kind === 'for') as Extract<LStmt, { kind: 'for' }>;
    const plan = vectorPlan(loop, 'f32')!;
    expect(plan).toBeDefined();
    const stores = plan.body.filter((s) => s.kind === 'store');
    expect(stores.map((s) => (s.kind === 'store' && s.value.kind === 'binary' ? s.value.op : ''))).toEqual(['interleaveLo', 'interleaveHi']);
    // the second vector store starts four elements on
    const [lo, hi] = stores as Extract<LStmt, { kind: 'store' }>[];
    expect(exprKey(hi!.index)).toBe(exprKey(add(lo!.index, c(4))));
    // stores not side by side, or a constant apart other than 1, stay scalar
    const apart = { ...loop, body: [loop.body[0]!, { ...(loop.body[1] as Extract<LStmt, { kind: 'store' }>), index: add((loop.body[0] as Extract<LStmt, { kind: 'store' }>).index, c(2)) }, ...loop.body.slice(2)] };
    expect(vectorPlan(apart, 'f32')).toBeUndefined();
  });
  it('vectorPlan: a max pool’s dX[2q + s] = (A[q] == s)·dY[q] compares four integers of the record at once (f32 lanes only)', () => {
    const A = buffer('A', 'i32');
    const routed = (s: number) => mul(cast('f32', eq(load(A, v(q)), c(s))), load(dY, v(q)));
    const loop = strengthReduce({ ...k0, body: [for_(q, c(0), v(Q), [store(dX, mul(c(2), v(q)), routed(0)), store(dX, add(mul(c(2), v(q)), c(1)), routed(1))])] }).body.find((s) => s.kind === 'for') as Extract<LStmt, { kind: 'for' }>;
    const plan = vectorPlan(loop, 'f32')!;
    expect(plan).toBeDefined();
    let intLanes = 0;
    for (const s of plan.body) if (s.kind === 'store') walkExpr(s.value, (x) => void (x.kind === 'load' && x.ty === 'i32x4' && intLanes++));
    // each of the two vector stores interleaves both values: two integer vector loads apiece
    expect(intLanes).toBe(4);
    // a float64 kernel has two lanes, an integer vector four: it stays scalar
    expect(vectorPlan({ ...loop, body: loop.body.map((s) => (s.kind === 'store' ? { ...s, buf: buffer('dX', 'f64') } : s)) }, 'f64')).toBeUndefined();
  });
});

describe('every kernel of every layer is well formed after every step', () => {
  const dir = fileURLToPath(new URL('../../examples/layers/', import.meta.url));
  const layers = readdirSync(dir).filter((f) => f.endsWith('.dg'));
  it(`${layers.length} layers × float64/float32 × optimized/naive/simd: false`, () => {
    let kernels = 0;
    for (const f of layers) {
      const p = check(readFileSync(dir + f, 'utf8'));
      const grads = differentiate(p, { unitScalarSeeds: false });
      const records = new Map<string, Statement>();
      for (const s of p.statements) if (s.rhs.kind === 'reduce' && (s.rhs.op === 'max' || s.rhs.op === 'min')) records.set(s.tensor, s);
      const defaults = new Map(p.sizes.filter((z) => z.default !== undefined).map((z) => [z.name, z.default!] as const));
      for (const opts of [
        { dtype: 'float64', optimize: true, simd: true },
        { dtype: 'float32', optimize: true, simd: true },
        { dtype: 'float64', optimize: false, simd: true },
        { dtype: 'float64', optimize: true, simd: false },
      ] as const) {
        const ctx = { shapeOf: shapeOfFactory(p), recordsArgmax: opts.optimize ? records : new Map(), defaults, program: p };
        for (const s of [...p.statements, ...grads.map((g) => g.statement)]) {
          let kk = lowerStatement(s, 'k', ctx, opts);
          const steps = opts.optimize ? [strengthReduce, unrollSums, hoistInvariants] : [hoistInvariants];
          expect(verifyLoops(kk), `${f} ${s.tensor} lowered`).toEqual([]);
          for (const step of steps) {
            kk = step(kk);
            expect(verifyLoops(kk), `${f} ${s.tensor} after ${step.name}`).toEqual([]);
          }
          kernels++;
        }
      }
    }
    expect(kernels).toBeGreaterThan(200);
  });
});
