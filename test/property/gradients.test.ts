// Property: for every well-formed program, every derived input gradient agrees with central
// differences through the interpreter (float64, relative error < 1e-6).
//
// Programs are random (test/property/generate.ts): ranks 0–4, strided / offset / flipped / floor-
// divided subscripts, + − × ÷, the built-in functions, `def` functions, sum / max / min / mean /
// logsumexp (and Σ), Einstein sums, chains of statements with fan-out, sizes given at run time or
// overriding their defaults. The run is seeded and reproducible; on a failure fast-check prints the
// seed, the path and the shrunk program. Replay one with
//   DELTAGRAD_PROPERTY_SEED=<seed> DELTAGRAD_PROPERTY_PATH=<path> npx vitest run test/property/gradients.test.ts
// and run many more programs with `npm run test:deep` (DELTAGRAD_PROPERTY_RUNS=5000).
//
// A case is skipped — never passed with a looser tolerance — when
//   - a kink (relu/abs/elu at 0, max/min ties, a comparison flipping) lies within 1e-4 of the
//     random inputs (test/property/kinks.ts): central differences are wrong there by chance;
//   - the gradient is below what float64 difference quotients can resolve to 1e-6, even with the
//     precise oracle (test/property/precise.ts): e.g. an exactly-zero gradient next to rounding noise;
//   - one check would cost more than COST_BUDGET loop iterations (a deterministic measure).
// When the h = 1e-5 check fails, the precise oracle (Richardson extrapolation) decides at the same
// tolerance. The numbers of checked and skipped programs are printed at the end.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check } from '../../src/ir/check.js';
import { children } from '../../src/ir/exprs.js';
import type { Expr, Program, Statement } from '../../src/ir/types.js';
import { checkGradients, gradientInputs } from '../helpers.js';
import { generateProgram, type GeneratedProgram } from './generate.js';
import { nearKink } from './kinks.js';
import { checkCost, preciseCheck, PRECISE_STEP } from './precise.js';

const TOLERANCE = 1e-6;
const RUNS = Number(process.env.DELTAGRAD_PROPERTY_RUNS ?? 550);
const SEED = Number(process.env.DELTAGRAD_PROPERTY_SEED ?? 20260601);
const PATH = process.env.DELTAGRAD_PROPERTY_PATH;
const COST_BUDGET = 400_000;

/** A generated program that fast-check prints as readable text in a counterexample. */
const printable = (g: GeneratedProgram): GeneratedProgram =>
  Object.assign(g, { [fc.toStringMethod]: () => `\n${g.source}\n-- sizes ${JSON.stringify(g.sizes)}, input seed ${g.seed}\n` });

/** The choices that drive the generator (see generate.ts), and the seed of the input values. */
export const programs = fc
  .tuple(fc.array(fc.nat({ max: 9999 }), { maxLength: 400, size: 'max' }), fc.integer({ min: 1, max: 1_000_000 }))
  .map(([choices, seed]) => printable(generateProgram(choices, seed)));

interface Tally {
  checked: number;
  precise: number;
  skipped: Record<string, number>;
  features: Record<string, number>;
}

/** The tensors a statement reads, once per read. */
function reads(s: Statement): string[] {
  const out: string[] = [];
  const walk = (e: Expr) => {
    if (e.kind === 'access') out.push(e.tensor);
    children(e).forEach(walk);
  };
  walk(s.rhs);
  return out;
}

/** What the generated programs exercise, counted over the checked ones (a guard against the
 *  generator silently losing a feature). */
const FEATURES: Record<string, (g: GeneratedProgram, p: Program) => boolean> = {
  def: (g) => /^def /m.test(g.source),
  'rank 4 input': (_, p) => p.tensors.some((t) => t.role === 'input' && t.shape.length === 4),
  'strided subscript': (g) => /\[[^\]]*\b\d\*\w/.test(g.source),
  'flipped subscript': (g) => /[A-D]-1-\w/.test(g.source),
  'floor division or remainder in a subscript': (g) => /\[[^\]]*\w[/%]2/.test(g.source),
  'sum or Σ': (g) => /sum\(|Σ|∑/.test(g.source),
  'max or min reduction': (g) => /(max|min)\(\w+(:\w+)?(, \w+(:\w+)?)?\) /.test(g.source),
  'mean or logsumexp': (g) => /mean\(|logsumexp\(/.test(g.source),
  'elementwise max or min': (g) => /(max|min)\([^()]*\([^()]*\)[^()]*,|(max|min)\([^,()]+, /.test(g.source),
  'relu, abs or elu': (g) => /relu\(|abs\(|elu\(/.test(g.source),
  'where or a mask': (g) => /where\(|\) \*|\)\*/.test(g.source),
  'argmax or argmin': (g) => /argm(ax|in)\(/.test(g.source),
  'an Einstein sum': (g) => /\[[^\]]*\b[mno]\b/.test(g.source),
  'an undeclared input': (_, p) => p.tensors.some((t) => t.role === 'input' && !t.declared && t.shape.length > 0),
  'three or more statements': (_, p) => p.statements.length >= 3,
  'an intermediate read by two later statements': (_, p) => p.tensors.some((t) => t.role === 'intermediate' && p.statements.filter((s) => reads(s).includes(t.name)).length >= 2),
  'a tensor read twice in one statement': (_, p) => p.statements.some((s) => reads(s).some((t, k, all) => all.indexOf(t) !== k)),
  'a size given at run time': (g) => Object.keys(g.sizes).length > 0,
};

function run(tally: Tally, g: GeneratedProgram): void {
  const skip = (why: string) => {
    tally.skipped[why] = (tally.skipped[why] ?? 0) + 1;
    fc.pre(false);
  };
  const p = check(g.source); // a well-formed program must check
  if (checkCost(p, g.sizes) > COST_BUDGET) return skip('too costly');
  const inputs = gradientInputs(p, g.sizes, { seed: g.seed });
  if (nearKink(p, inputs, g.sizes)) return skip('near a kink');
  const r = checkGradients(g.source, g.sizes, { seed: g.seed });
  let precise = false;
  for (const [name, error] of Object.entries(r.errors)) {
    if (error < TOLERANCE) continue;
    if (nearKink(p, inputs, g.sizes, { distance: 5 * PRECISE_STEP })) return skip('near a kink (precise oracle)');
    const v = preciseCheck(p, r.inputs, r.seeds, name, g.sizes, r.analytic[name]!, TOLERANCE);
    if (v.kind === 'unmeasurable') return skip('gradient below float64 resolution');
    if (v.kind === 'fail')
      throw new Error(`d${name}: relative error ${error} against central differences (${v.error} against the precise oracle)\n${r.program}`);
    precise = true;
  }
  tally.checked++;
  if (precise) tally.precise++;
  for (const [f, has] of Object.entries(FEATURES)) if (has(g, p)) tally.features[f] = (tally.features[f] ?? 0) + 1;
}

describe('derived gradients agree with central differences on random programs', () => {
  it(
    `${RUNS} random programs (seed ${SEED})`,
    () => {
      const tally: Tally = { checked: 0, precise: 0, skipped: {}, features: {} };
      const started = Date.now();
      fc.assert(
        fc.property(programs, (g) => run(tally, g)),
        { seed: SEED, numRuns: RUNS, ...(PATH ? { path: PATH } : {}), maxSkipsPerRun: 1 },
      );
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      console.log(
        `property: ${tally.checked} programs checked in ${seconds} s (${tally.precise} needed the precise oracle); skipped: ${JSON.stringify(tally.skipped)}\nfeatures: ${JSON.stringify(tally.features)}`,
      );
      expect(tally.checked).toBeGreaterThanOrEqual(RUNS);
      // the generator must keep producing every feature (a guard against it silently degrading)
      for (const f of Object.keys(FEATURES)) expect(tally.features[f] ?? 0, f).toBeGreaterThanOrEqual(Math.floor(RUNS / 40));
    },
    60_000 + RUNS * 200,
  );
});
