// Property: programs that select — several max/min reductions over one input (pooling windows of
// different widths, strides and dilations) and `where` whose branches are singular where they are
// not taken — compile to kernels that give the interpreter's numbers, forward and backward, on data
// with ties, zeros, negatives and -∞. Before issue 13 the kernels shared one arg-max table between
// such reductions and evaluated the untaken branch's derivative into NaN.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/codegen/compile.js';
import { interpret } from '../codegen/support.js';

interface Selection {
  readonly op: 'max' | 'min';
  readonly width: number;
  readonly stride: number;
  readonly dilation: number;
}

// where(X > t, a, b) with t ≥ 0: a is singular only at X ≤ 0 and b only at X ≥ 1, so each is
// singular only where it is not taken (a taken singular branch is ±∞ or NaN to both, in ways that differ)
const TAKEN_IF_POSITIVE = ['1/X[i]', 'log(X[i])', 'sqrt(X[i])', '1/(X[i]*X[i])', 'X[i]'] as const;
const TAKEN_OTHERWISE = ['X[i]', 'exp(X[i])', '1/(X[i] - 1)', 'log(1 - X[i])', '-X[i]*X[i]'] as const;

const selection = fc.record({ op: fc.constantFrom('max' as const, 'min' as const), width: fc.integer({ min: 1, max: 3 }), stride: fc.integer({ min: 1, max: 2 }), dilation: fc.integer({ min: 1, max: 2 }) });

const programs = fc
  .record({
    length: fc.integer({ min: 5, max: 9 }),
    selections: fc.array(selection, { minLength: 2, maxLength: 4 }),
    where: fc.option(fc.record({ a: fc.constantFrom(...TAKEN_IF_POSITIVE), b: fc.constantFrom(...TAKEN_OTHERWISE), threshold: fc.constantFrom('0', '0.5'), flip: fc.boolean() }), { nil: undefined }),
    data: fc.array(fc.constantFrom(0, 0, 1, -1, 0.5, 2, -2, 0.25, -Infinity), { minLength: 9, maxLength: 9 }),
    // nonzero: a zero seed times a taken branch's ∞ is 0 to the interpreter (a zero factor absorbs)
    // and NaN to the kernels (IEEE), as docs/language.md says
    seedValues: fc.array(fc.constantFrom(-3, -2, -1, 1, 2, 3), { minLength: 40, maxLength: 40 }),
  })
  .map((r) => {
    const lines = [`dims L=${r.length}`, 'X: [L]'];
    const outputs: { name: string; length: number }[] = [];
    r.selections.forEach((s: Selection, k) => {
      const reach = (s.width - 1) * s.dilation;
      const n = Math.floor((r.length - 1 - reach) / s.stride) + 1;
      if (n < 1) return;
      const name = `P${k}`;
      lines.push(`${name}: [${n}]`, `${name}[u] = ${s.op}(i:${s.width}) X[${s.stride}*u + ${s.dilation}*i]`);
      outputs.push({ name, length: n });
    });
    if (r.where) {
      const { a, b, threshold: t } = r.where;
      lines.push(`F[i] = ${r.where.flip ? `where(X[i] <= ${t}, ${b}, ${a})` : `where(X[i] > ${t}, ${a}, ${b})`}`);
      outputs.push({ name: 'F', length: r.length });
    }
    // -∞ in the data only where no `where` branch would turn it into a NaN of its own
    const data = r.data.slice(0, r.length).map((x) => (r.where && x === -Infinity ? -3 : x));
    let j = 0;
    const seeds = Object.fromEntries(outputs.map((o) => [`d${o.name}`, Array.from({ length: o.length }, () => r.seedValues[j++ % 40]!)]));
    return { source: lines.join('\n'), data, seeds };
  });

/** Same value: equal within tolerance, or the same non-finite value. */
const same = (a: number, e: number) => Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)) || Math.abs(a - e) <= 1e-12 * Math.max(1, Math.abs(e));

const RUNS = Number(process.env.DELTAGRAD_PROPERTY_RUNS ?? 0) > 0 ? 200 : 40;

describe('selections: max/min reductions over one input, and singular where branches', () => {
  it(`${RUNS} random programs, optimized, naive and without SIMD (seed 1313)`, () => {
    fc.assert(
      fc.property(programs, ({ source, data, seeds }) => {
        const ref = interpret(source, {}, { X: data }, seeds);
        for (const opts of [{ optimize: true }, { optimize: false }, { simd: false }]) {
          const k = compile(source, opts);
          const X = Float64Array.from(data);
          const got = { ...k.forward({ X }), ...k.backward({ X }, Object.fromEntries(Object.entries(seeds).map(([n, v]) => [n, Float64Array.from(v)]))) };
          for (const [name, v] of Object.entries(got)) {
            const want = ref.forward[name] ?? ref.backward[name]!;
            for (let i = 0; i < want.length; i++)
              if (!same(v[i]!, want[i]!)) throw new Error(`${JSON.stringify(opts)} ${name}[${i}] = ${v[i]}, the interpreter says ${want[i]}\n${source}\nX = ${JSON.stringify(data.map(String))}`);
          }
          // a NaN only where the interpreter has one too: the kernels never make one of their own
          expect(Object.values(got).every((v) => !v.some(Number.isNaN)) || Object.values({ ...ref.forward, ...ref.backward }).some((v) => v.some(Number.isNaN))).toBe(true);
        }
      }),
      { seed: 1313, numRuns: RUNS },
    );
  });
});
