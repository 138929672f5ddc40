// Programs built to cost too much — defs that double, deep nests of calls, quotients, powers and
// chains, long chains of statements — drawn across the limits of src/ir/limits.ts. Whatever their
// size, derive and the run of the program it derives must end within a CPU budget in a result or a
// located DeltagradError: never a stack overflow, an out-of-memory or a hang. A smaller maxNodes than
// the default keeps each run fast; the depth limits, which guard the stack, are the defaults.
//
// Seeded and reproducible (DELTAGRAD_FUZZ_SEED, DELTAGRAD_FUZZ_PATH; DELTAGRAD_FUZZ_RUNS for more).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derive } from '../../src/diff/derive.js';
import { DeltagradError } from '../../src/ir/errors.js';
import { evaluate } from '../../src/ir/evaluate.js';
import { DERIVED_LIMITS } from '../../src/ir/limits.js';

const RUNS = Math.ceil(Number(process.env.DELTAGRAD_FUZZ_RUNS ?? 250) / 5);
const SEED = Number(process.env.DELTAGRAD_FUZZ_SEED ?? 7_2026);
const PATH = process.env.DELTAGRAD_FUZZ_PATH;
const CPU_LIMIT_MS = 3000;
const MAX_NODES = 100_000;

const BODIES = ['sin(x)*x', 'x*x*x', 'x + 1', '1', 'exp(x)', 'x/(1 + x*x)', 'sigmoid(x)*x', 'x^x', 'max(x, 0.5*x)'];
const nest = (n: number, open: string, close: string, inner: string) => open.repeat(n) + inner + close.repeat(n);
const lines = (n: number, f: (k: number) => string) => Array.from({ length: n }, (_, k) => f(k)).join('\n');

const costly = fc.oneof(
  // f_k(x) = f_{k-1}(f_{k-1}(x)): f_K(a) applies the body 2^K times
  fc.record({ body: fc.constantFrom(...BODIES), k: fc.nat({ max: 30 }) }).map(({ body, k }) => `def f0(x) = ${body}\n${lines(k, (i) => `def f${i + 1}(x) = f${i}(f${i}(x))`)}\ny = f${k}(a)`),
  // one def nested d deep
  fc.record({ body: fc.constantFrom(...BODIES), d: fc.integer({ min: 1, max: 199 }) }).map(({ body, d }) => `def g(x) = ${body}\ny = ${nest(d, 'g(', ')', 'a')}`),
  // a chain of defs, each a nest of calls around the previous
  fc.record({ n: fc.integer({ min: 1, max: 60 }), d: fc.integer({ min: 1, max: 60 }), fn: fc.constantFrom('sin', 'relu', 'exp', 'sqrt') }).map(
    ({ n, d, fn }) => `def f0(x) = ${nest(d, `${fn}(`, ')', 'x')}\n${lines(n - 1, (i) => `def f${i + 1}(x) = ${nest(d, `${fn}(`, ')', `f${i}(x)`)}`)}\ny = f${n - 1}(a)`,
  ),
  // nested quotients, powers and calls, up to the parser's nesting limit
  fc.integer({ min: 1, max: 199 }).map((d) => `y = ${nest(d, '1/(a+', ')', 'a')}`),
  fc.integer({ min: 1, max: 199 }).map((d) => `y = ${nest(d, '(a^', ')', 'a')}`),
  fc.integer({ min: 1, max: 199 }).map((d) => `y = ${nest(d, 'sigmoid(', ')', 'a')}*a`),
  // chains of / - ^ inside each of many parentheses: the tree is deeper than the parser's nesting
  fc.record({ levels: fc.integer({ min: 1, max: 150 }), m: fc.integer({ min: 1, max: 64 }), op: fc.constantFrom('/a', '-a', '*a', '+a') }).map(
    ({ levels, m, op }) => `y = ${Array.from({ length: levels }).reduce<string>((e) => `(${e}${op.repeat(m)})`, 'a')}`,
  ),
  // a chain of statements, each using the one before twice
  fc.integer({ min: 1, max: 400 }).map((n) => `y0 = sin(a)\n${lines(n, (i) => `y${i + 1} = y${i}*sin(y${i})`)}`),
);

/** derive, then run the derived program at a = 0.5, as `derive --at` does; returns what ended it. */
function outcome(source: string): { ok: boolean; cpuMs: number } {
  const cpu = process.cpuUsage();
  let ok = true;
  try {
    const r = derive(source, { limits: { maxNodes: MAX_NODES } });
    evaluate(r.program, { a: 0.5 }, { limits: DERIVED_LIMITS });
  } catch (e) {
    // a located error is the only acceptable failure: a RangeError here is a stack overflow
    if (!(e instanceof DeltagradError)) throw e;
    expect(e.span, `a location for ${e.message}`).toBeDefined();
    ok = false;
  }
  const used = process.cpuUsage(cpu);
  return { ok, cpuMs: (used.user + used.system) / 1000 };
}

describe('programs built to cost too much', () => {
  it(`${RUNS} of them end within ${CPU_LIMIT_MS} ms of CPU in a result or a located error (seed ${SEED})`, () => {
    const tally = { ok: 0, refused: 0 };
    fc.assert(
      fc.property(costly, (source) => {
        const r = outcome(source);
        tally[r.ok ? 'ok' : 'refused']++;
        expect(r.cpuMs, `CPU time for ${source.slice(0, 200)}`).toBeLessThan(CPU_LIMIT_MS);
      }),
      { seed: SEED, numRuns: RUNS, ...(PATH ? { path: PATH } : {}) },
    );
    // the draws must land on both sides of the limits
    expect(tally.ok).toBeGreaterThan(RUNS / 5);
    expect(tally.refused).toBeGreaterThan(RUNS / 10);
  }, 120_000);
});
