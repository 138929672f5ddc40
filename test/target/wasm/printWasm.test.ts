// printWasm on small functions, run in the engine: loops of 0, 1 and several trips (counting up,
// counting down, do-while), the legalised i32 floor division and modulo of negative numerators,
// select, memory offsets, splats, casts, short-circuit && around a load that would trap, fill and
// copy, and the `internal:` errors for what it cannot print.
import { describe, expect, it } from 'vitest';
import { add, addTo, and, assign, buffer, c, call, cast, ceildiv, eq, floordiv, for_, if_, let_, load, lt, max, min, mod, mul, neg, not, rem, select, store, sub, sym, unary, v } from '../../../src/loop/build.js';
import type { LExpr, LStmt, MicroFunction, Sym, Ty } from '../../../src/loop/types.js';
import { verifyLoops } from '../../../src/loop/verifyLoops.js';
import { assembleWasm, type Instr } from '../../../src/target/wasm/assembleWasm.js';
import { printWasm, printWat } from '../../../src/target/wasm/printWasm.js';
import { instantiate } from './support.js';

const mem = buffer('mem', 'u8');
const i32 = (name: string) => sym(name, 'i32');

/** The function (checked by verifyLoops), printed, assembled and instantiated over one page. */
function build(params: Sym[], body: LStmt[]) {
  const f: MicroFunction = { name: 'run', params, mem, body };
  expect(verifyLoops(f)).toEqual([]);
  const w = printWasm(f);
  const { run, memory } = instantiate<{ run: (...args: number[]) => void }>(assembleWasm({ run: w }, 1));
  return { run, w, i32: new Int32Array(memory.buffer), f32: new Float32Array(memory.buffer), f64: new Float64Array(memory.buffer) };
}
/** store each value (i32 or f64) to its own 8-byte slot: slot first + k at byte 8(first + k) */
const results = (xs: LExpr[], first = 0): LStmt[] => xs.map((x, k) => store(mem, c(8 * (first + k)), x));
const has = (body: readonly Instr[], instr: Instr) => body.some((x) => x[0] === instr[0] && x[1] === instr[1]);

describe('printWasm: loops', () => {
  const [lo, hi, n, s] = [i32('lo'), i32('hi'), i32('n'), i32('s')];
  const cases: [number, number][] = [
    [0, 0],
    [5, 3],
    [0, 1],
    [2, 9],
    [-3, 4],
  ];
  it('count up (variable read) and test at the bottom, guarded: 0, 1 and several trips, steps 1 and 3', () => {
    for (const step of [1, 3]) {
      const i = i32('i');
      const { run, i32: m, w } = build([lo, hi], [let_(n, c(0), true), let_(s, c(0), true), for_(i, v(lo), v(hi), [addTo(n, c(1)), addTo(s, v(i))], { step: c(step) }), ...results([v(n), v(s)])]);
      expect(has(w.body, ['i32.ge_s'])).toBe(true); // the guard
      for (const [a, b] of cases) {
        run(a, b);
        let [trips, sum] = [0, 0];
        for (let x = a; x < b; x += step) trips++, (sum += x);
        expect([m[0], m[2]], `[${a}, ${b}) by ${step}`).toEqual([trips, sum]);
      }
    }
  });

  it('count down in the loop variable when the body does not read it (no compare a trip)', () => {
    const i = i32('i');
    const { run, i32: m, w } = build([lo, hi], [let_(n, c(0), true), for_(i, v(lo), v(hi), [addTo(n, c(1))]), ...results([v(n)])]);
    expect(w.body.filter((x) => x[0] === 'i32.lt_s')).toHaveLength(0);
    expect(printWat({ name: 'run', params: [lo, hi], mem, body: [let_(n, c(0), true), for_(i, v(lo), v(hi), [addTo(n, c(1))])] })).toMatch(/i32\.sub\s+local\.tee \$i\s+br_if 0/);
    for (const [a, b] of cases) {
      run(a, b);
      expect(m[0], `[${a}, ${b})`).toBe(Math.max(0, b - a));
    }
  });

  it('nonEmpty: a do-while with no guard (1 and several trips)', () => {
    const [i, j] = [i32('i'), i32('j')];
    const { run, i32: m, w } = build(
      [lo, hi],
      [let_(n, c(0), true), let_(s, c(0), true), for_(i, v(lo), v(hi), [addTo(s, v(i))], { nonEmpty: true }), for_(j, v(lo), v(hi), [addTo(n, c(1))], { nonEmpty: true }), ...results([v(n), v(s)])],
    );
    expect(w.body.filter((x) => x[0] === 'block')).toHaveLength(0);
    for (const [a, b] of cases.filter(([a, b]) => a < b)) {
      run(a, b);
      let sum = 0;
      for (let x = a; x < b; x++) sum += x;
      expect([m[0], m[2]]).toEqual([b - a, sum]);
    }
  });

  it('re-reads a bound the body changes (as JavaScript does); computes an invariant one once', () => {
    const [i, j, k] = [i32('i'), i32('j'), i32('k')];
    // for (i = 0; i < hi; i++) hi--  → ⌈hi/2⌉ trips
    const { run, i32: m } = build([lo, hi], [let_(n, c(0), true), for_(i, c(0), v(hi), [addTo(n, c(1)), assign(hi, sub(v(hi), c(1)))]), ...results([v(n)])]);
    run(0, 9);
    expect(m[0]).toBe(5);
    // an expression bound, read once: for (j = 0; j < lo + hi; j++) with the body reading j
    const { run: run2, i32: m2, w } = build([lo, hi], [let_(s, c(0), true), for_(j, c(0), add(v(lo), v(hi)), [addTo(s, v(j))]), for_(k, c(0), c(3), [addTo(s, c(100))]), ...results([v(s)])]);
    run2(2, 3);
    expect(m2[0]).toBe(0 + 1 + 2 + 3 + 4 + 300);
    expect(w.locals.map(([name]) => name)).toContain('j_end');
  });
});

describe('printWasm: i32 arithmetic legalised', () => {
  const [a, b, zero] = [i32('a'), i32('b'), i32('zero')];
  const ops = (x: LExpr, y: LExpr) => [floordiv(x, y), ceildiv(x, y), mod(x, y)];
  const want = (x: number, y: number) => [Math.floor(x / y), Math.ceil(x / y), ((x % y) + y) % y];
  const numerators = Array.from({ length: 41 }, (_, k) => k - 20).concat([-1000001, 999999]);

  it('floordiv, ceildiv and mod by a variable divisor, negative numerators included (the numerator an expression)', () => {
    const { run, i32: m } = build([a, b, zero], results(ops(sub(v(a), v(zero)), v(b))));
    for (const y of [1, 2, 3, 5, 7, 8, 100])
      for (const x of numerators) {
        run(x, y, 0);
        expect([m[0], m[2], m[4]], `${x}, ${y}`).toEqual(want(x, y).map((r) => r + 0));
      }
  });

  it('by constant divisors: powers of two as shifts and masks, others by div_s / rem_s', () => {
    for (const y of [2, 3, 4, 7, 8, 64]) {
      const { run, i32: m, w } = build([a], results(ops(v(a), c(y))));
      expect(has(w.body, ['i32.div_s'])).toBe(!Number.isInteger(Math.log2(y)));
      for (const x of numerators) {
        run(x);
        expect([m[0], m[2], m[4]], `${x}, ${y}`).toEqual(want(x, y).map((r) => r + 0));
      }
    }
    expect(() => build([a], results([floordiv(v(a), c(-2))]))).toThrow(/internal: printWasm cannot print floordiv by -2/);
  });

  it('rem (for operands ≥ 0), i32 min / max by select, neg, comparisons, not', () => {
    const { run, i32: m } = build([a, b], results([rem(v(a), v(b)), min(v(a), v(b)), max(v(a), mul(v(b), c(2))), neg(v(a)), cast('i32', lt(v(a), v(b))), cast('i32', not(eq(v(a), v(b))))]));
    for (const [x, y] of [
      [7, 3],
      [-4, 9],
      [5, 5],
      [-8, -3],
    ] as const) {
      run(x, y);
      expect([m[0], m[2], m[4], m[6], m[8], m[10]]).toEqual([x % y, Math.min(x, y), Math.max(x, 2 * y), -x, +(x < y), +(x !== y)]);
    }
  });
});

describe('printWasm: memory, select, vectors, casts', () => {
  it('folds a constant addend into the memarg offset', () => {
    const p = i32('p');
    const f64 = { ty: 'f64' as Ty };
    const { run, f64: m, w } = build([p], [store(mem, add(v(p), c(16)), mul(load(mem, add(v(p), c(8)), f64), c(2, 'f64'))), store(mem, add(v(p), c(32)), load(mem, add(v(p), c(16)), { ty: 'f64x2' }))]);
    expect(has(w.body, ['f64.load', 8]) && has(w.body, ['f64.store', 16]) && has(w.body, ['v128.load', 16]) && has(w.body, ['v128.store', 32])).toBe(true);
    m[5] = 1.25;
    run(32);
    expect([m[6], m[8], m[9]]).toEqual([2.5, 2.5, 0]);
  });

  it('select on i32, f64 and v128 (both arms evaluated, the condition last)', () => {
    const [x, y] = [i32('x'), i32('y')];
    const cond = lt(v(x), v(y));
    const vx = unary('splat', 'f64x2', cast('f64', v(x)));
    const { run, f64: m, i32: mi } = build([x, y], [store(mem, c(0), select(cond, v(x), v(y))), store(mem, c(8), select(cond, c(1.5, 'f64'), c(-2.5, 'f64'))), store(mem, c(16), select(cond, vx, c(7, 'f64x2')))]);
    run(3, 4);
    expect([mi[0], m[1], m[2], m[3]]).toEqual([3, 1.5, 3, 3]);
    run(4, 3);
    expect([mi[0], m[1], m[2], m[3]]).toEqual([3, -2.5, 7, 7]);
  });

  it('splats a scalar load with load64_splat / load32_splat, anything else with f64x2.splat', () => {
    const p = i32('p');
    const { run, f64: m, f32: m32, w } = build(
      [p],
      [
        store(mem, c(16), unary('splat', 'f64x2', load(mem, add(v(p), c(8)), { ty: 'f64' }))),
        store(mem, c(32), unary('splat', 'f64x2', mul(load(mem, v(p), { ty: 'f64' }), c(3, 'f64')))),
        store(mem, c(48), unary('splat', 'f32x4', load(mem, c(4), { ty: 'f32' }))),
      ],
    );
    expect(has(w.body, ['v128.load64_splat', 8]) && has(w.body, ['f64x2.splat']) && has(w.body, ['v128.load32_splat', 0])).toBe(true);
    m[0] = 2;
    m[1] = -0.5;
    run(0);
    expect([m[2], m[3], m[4], m[5]]).toEqual([-0.5, -0.5, 6, 6]);
    expect([...m32.subarray(12, 16)]).toEqual([m32[1], m32[1], m32[1], m32[1]]);
  });

  it('casts: i32 ↔ f64 (toward 0, saturating), f64 ↔ f32, bool → number; floor, ceil, sqrt, abs, relu, fmax', () => {
    const [x, p] = [sym('x', 'f64'), i32('p')];
    // the input in slot 0, the results in slots 1…
    const { run, f64: m } = build(
      [p],
      [
        let_(x, load(mem, c(0), { ty: 'f64' })),
        ...results(
          [
            cast('f64', cast('i32', v(x))),
            cast('f64', cast('f32', v(x))),
            cast('f64', lt(v(x), c(0, 'f64'))),
            unary('floor', 'f64', v(x)),
            unary('ceil', 'f64', v(x)),
            call('sqrt', 'f64', [call('abs', 'f64', [v(x)])]),
            call('relu', 'f64', [v(x)]),
            call('fmax', 'f64', [v(x), c(1, 'f64')]),
            cast('f64', v(p)),
          ],
          1,
        ),
      ],
    );
    for (const input of [-2.7, 2.5, 0.1, -1e10, NaN]) {
      m[0] = input;
      run(-7);
      const want = [Number.isNaN(input) ? 0 : Math.max(-(2 ** 31), Math.trunc(input)), Math.fround(input), +(input < 0), Math.floor(input), Math.ceil(input), Math.sqrt(Math.abs(input)), input > 0 ? input : 0, input >= 1 ? input : 1, -7];
      expect([...m.subarray(1, 10)], String(input)).toEqual(want);
    }
  });

  it('i32x4 / f32x4 lanes: add, mul, min, neg, convert', () => {
    const { run, i32: m, f32 } = build(
      [],
      [
        store(mem, c(32), add(load(mem, c(0), { ty: 'i32x4' }), mul(load(mem, c(16), { ty: 'i32x4' }), c(3, 'i32x4')))),
        store(mem, c(48), neg(min(load(mem, c(0), { ty: 'i32x4' }), load(mem, c(16), { ty: 'i32x4' })))),
        store(mem, c(64), mul(cast('f32x4', load(mem, c(0), { ty: 'i32x4' })), c(0.5, 'f32x4'))),
      ],
    );
    m.set([1, -2, 3, 4, 5, 6, -7, 8]);
    run();
    expect([...m.subarray(8, 16)]).toEqual([16, 16, -18, 28, -1, 2, 7, -4]);
    expect([...f32.subarray(16, 20)]).toEqual([0.5, -1, 1.5, 2]);
  });
});

describe('printWasm: && around a trap, fill, copy', () => {
  it('does not evaluate a load on the right of && when the left is false (it would trap)', () => {
    const [i, n, r] = [i32('i'), i32('n'), i32('r')];
    const guarded = and(lt(v(i), v(n)), lt(c(0), load(mem, mul(v(i), c(4)))));
    const { run, i32: m } = build([i, n], [let_(r, c(0), true), ...if_(guarded, [assign(r, c(1))]), store(mem, c(0), v(r))]);
    expect(() => run(1 << 28, 0)).not.toThrow();
    expect(m[0]).toBe(0);
    m[3] = 5;
    run(3, 10);
    expect(m[0]).toBe(1);
  });

  it('fill: bytes with memory.fill, f64 values with a loop of stores (only whole values in [from, to))', () => {
    const [from, to] = [i32('from'), i32('to')];
    const fillOf = (value: LExpr): LStmt => ({ kind: 'fill', buf: mem, from: v(from), to: v(to), value });
    const bytes = build([from, to], [fillOf(c(0x7f))]);
    expect(has(bytes.w.body, ['memory.fill'])).toBe(true);
    bytes.run(3, 9);
    expect([...new Uint8Array(bytes.i32.buffer, 0, 11)]).toEqual([0, 0, 0, 127, 127, 127, 127, 127, 127, 0, 0]);
    const doubles = build([from, to], [fillOf(c(-1.5, 'f64'))]);
    doubles.run(8, 8 * 4 + 7);
    expect([...doubles.f64.subarray(0, 6)]).toEqual([0, -1.5, -1.5, -1.5, 0, 0]);
  });

  it('copy within the memory is memory.copy (bytes)', () => {
    const [d, s, n] = [i32('d'), i32('s'), i32('n')];
    const { run, i32: m, w } = build([d, s, n], [{ kind: 'copy', dst: mem, dstAt: v(d), src: mem, srcAt: v(s), count: v(n) }]);
    expect(has(w.body, ['memory.copy'])).toBe(true);
    m.set([1, 2, 3, 4]);
    run(32, 4, 8);
    expect([...m.subarray(8, 11)]).toEqual([2, 3, 0]);
  });
});

describe('printWasm: what it cannot print is an internal error naming the node', () => {
  const x = sym('x', 'f64');
  const other = buffer('X', 'f64');
  const cases: [string, LStmt[], RegExp][] = [
    ['exp of lanes', [{ kind: 'let', v: sym('xv', 'f64x2'), init: call('exp', 'f64x2', [c(1, 'f64x2')]), mutable: false }], /internal: printWasm cannot print exp of f64x2/],
    ['another buffer', [let_(x, load(other, c(0)))], /load of X, which is not the module's memory/],
    ['a load not known in bounds', [let_(x, load(mem, c(0), { ty: 'f64', inBounds: false }))], /not known to be in bounds/],
    ['an alloc', [{ kind: 'alloc', buf: other, size: c(4), scope: 'call', zero: true }], /cannot print the alloc statement/],
    ['a loop by a negative step', [for_(i32('i'), c(0), c(4), [], { step: c(-1) })], /step -1/],
  ];
  for (const [what, body, message] of cases) it(what, () => expect(() => printWasm({ name: 'run', params: [], mem, body })).toThrow(message));
});
