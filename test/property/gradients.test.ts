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

const FEATURES: Record<string, RegExp> = {
  def: /^def /m,
  'rank 4 input': /^\w+: \[[^\]]*,[^\]]*,[^\]]*,[^\]]*\]/m,
  'strided subscript': /\[[^\]]*\b\d\*\w/,
  'flipped subscript': /[A-D]-1-\w/,
  'floor division or remainder in a subscript': /\[[^\]]*\w[/%]2/,
  'sum or Σ': /sum\(|Σ|∑/,
  'max or min reduction': /(max|min)\(\w+(:\w+)?(, \w+(:\w+)?)?\) /,
  'mean or logsumexp': /mean\(|logsumexp\(/,
  'elementwise max or min': /(max|min)\([^()]*\([^()]*\)[^()]*,|(max|min)\([^,()]+, /,
  'relu, abs or elu': /relu\(|abs\(|elu\(/,
  'where or a mask': /where\(|\) \*|\)\*/,
  'three or more statements': /^Y3\b/m,
  'an undeclared input': /\bZ1\[/,
  'argmax or argmin': /argm(ax|in)\(/,
  'a size given at run time': /./,
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
  for (const [f, re] of Object.entries(FEATURES)) if (f === 'a size given at run time' ? Object.keys(g.sizes).length > 0 : re.test(g.source)) tally.features[f] = (tally.features[f] ?? 0) + 1;
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
