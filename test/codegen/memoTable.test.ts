// The GEMM's index tables are kept across calls (src/lower/memoTable.ts) and filled again when a
// size they depend on changes: one emitted conv module run at sizes A, B, then A again (the tables
// kept for B must not serve A), and a grouped conv, each call against the interpreter.
import { describe, expect, it } from 'vitest';
import { emit } from '../../src/codegen/compile.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import { loadModule } from '../helpers.js';
import { expectClose, interpret, layerSource, TOLERANCE } from './support.js';

interface Loaded {
  forward(t: Record<string, Float64Array>, s: Record<string, number>): void;
  backward(t: Record<string, Float64Array>, s: Record<string, number>): void;
  shapes(s: Record<string, number>): Record<string, number[]>;
  program: { inputs: string[]; seeds: string[]; intermediates: string[]; outputs: string[]; gradients: string[]; scratch?: string[]; temporaries?: Record<string, string[]>; sizes: string[]; defaults: Record<string, number> };
}

function runAgainstInterpreter(m: Loaded, source: string, sizes: Record<string, number>, seed: number) {
  const p = m.program;
  const s = Object.fromEntries(p.sizes.map((n) => [n, sizes[n] ?? p.defaults[n]!]));
  const shapes = m.shapes(s);
  const count = (n: string) => (shapes[n] ?? shapes[n.replace(/^d/, '')]!).reduce((a, b) => a * b, 1);
  const rand = seededRandom(seed);
  const t: Record<string, Float64Array> = {};
  const given: Record<string, Float64Array> = {};
  for (const n of [...p.inputs, ...p.seeds]) given[n] = t[n] = Float64Array.from({ length: count(n) }, () => 2 * rand() - 1);
  const inner = [...(p.scratch ?? []), ...new Set(Object.values(p.temporaries ?? {}).flat())];
  for (const n of [...p.intermediates, ...inner, ...p.outputs, ...p.gradients]) t[n] = new Float64Array(count(n));
  m.forward(t, s);
  m.backward(t, s);
  const seeds = Object.fromEntries(p.seeds.map((n) => [n, given[n]!]));
  const ref = interpret(source, s, Object.fromEntries(p.inputs.map((n) => [n, given[n]!])), seeds);
  for (const n of p.outputs) expectClose(t[n], ref.forward[n]!, TOLERANCE.float64, `${n} at ${JSON.stringify(s)}`);
  for (const n of p.inputs) expectClose(t[`d${n}`], ref.backward[`d${n}`]!, TOLERANCE.float64, `d${n} at ${JSON.stringify(s)}`);
}

describe('index tables kept across calls', () => {
  it('a conv module at sizes A, B, A: each call matches the interpreter', () => {
    const source = layerSource('conv2d');
    const text = emit(source);
    // the tables are module scratch, kept with the sizes they were filled for
    expect(text).toMatch(/_for\[0\]!? !== 1 \|\|/);
    const m = loadModule(text) as unknown as Loaded;
    const a = { N: 2, C: 3, H: 7, W: 6, F: 4 };
    const b = { N: 3, C: 2, H: 5, W: 8, F: 5, P: 2 };
    runAgainstInterpreter(m, source, a, 1);
    runAgainstInterpreter(m, source, b, 2);
    runAgainstInterpreter(m, source, a, 3);
    // the same lengths with other contents: H and W swapped keep H·W
    runAgainstInterpreter(m, source, { ...a, H: 6, W: 7 }, 4);
  });

  it('a grouped conv (batch over groups, one table for every group) at two group counts', () => {
    const source = layerSource('grouped_conv2d');
    const m = loadModule(emit(source)) as unknown as Loaded;
    const sizes = { N: 2, G: 2, CG: 2, FG: 3, H: 5, W: 6 };
    runAgainstInterpreter(m, source, sizes, 5);
    runAgainstInterpreter(m, source, { ...sizes, G: 3 }, 6);
    runAgainstInterpreter(m, source, sizes, 7);
  });
});
