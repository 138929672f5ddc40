// A second, more precise numeric oracle, for gradients that central differences at h = 1e-5 cannot
// resolve to a relative error of 1e-6 in float64.
//
// Central differences have error ≈ C·h² (truncation) + ε·|f|/h (rounding). At h = 1e-5 the rounding
// part is ≈ 1e-11·|f|: a gradient of 1e-5 next to an output of size 1 is only known to ~1e-6. Richardson
// extrapolation, (4·D(h/2) − D(h))/3, cancels the h² term, so a larger step can be used (error
// ≈ C'·h⁴ + ε·|f|/h): at h = 2e-3 both parts are ~1e-12. The oracle runs twice, at h and 2h; the
// difference of the two estimates measures its own uncertainty. A gradient whose discrepancy with the
// analytic one is within that uncertainty cannot be checked to 1e-6 by any float64 difference
// quotient here (a vanishing gradient next to large outputs): the caller counts it as unmeasurable
// and skips the case. The tolerance itself never changes.
//
// Worked example: a gradient of norm 2.6e-5 whose h = 1e-5 check gives 1.6e-6 (rounding-dominated)
// gives ~1e-10 here and passes; an exactly-zero analytic gradient against numeric noise of 1e-13
// (the output does not depend on the input) is unmeasurable, not wrong.
import { resolveSizes, run } from '../../src/ir/evaluate.js';
import { children } from '../../src/ir/exprs.js';
import { sizeEval } from '../../src/ir/sizes.js';
import { numericGradient, relativeError } from '../../src/ir/gradcheck.js';
import type { Bound, Expr, Program } from '../../src/ir/types.js';

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));
const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (x, i) => x - b[i]!);

/** Σ |seed · output| over every output (weight 1 for a scalar output): the size of the probed function. */
function probeMagnitude(p: Program, inputs: Record<string, Float64Array>, seeds: Record<string, Float64Array>, sizes: Record<string, number>): number {
  const out = run(p, inputs, sizes);
  let total = 0;
  for (const t of p.tensors) {
    if (t.role !== 'output') continue;
    const y = out[t.name]!;
    const s = seeds[`d${t.name}`];
    for (let i = 0; i < y.length; i++) total += Math.abs((s ? s[i]! : 1) * y[i]!);
  }
  return total;
}

/** Richardson-extrapolated central differences at steps h and h/2. */
export function richardson(p: Program, inputs: Record<string, Float64Array>, seeds: Record<string, Float64Array>, wrt: string, sizes: Record<string, number>, h: number): Float64Array {
  const coarse = numericGradient(p, inputs, seeds, wrt, { sizes, h });
  const fine = numericGradient(p, inputs, seeds, wrt, { sizes, h: h / 2 });
  return Float64Array.from(fine, (f, i) => (4 * f - coarse[i]!) / 3);
}

export type Verdict = { readonly kind: 'pass'; readonly error: number } | { readonly kind: 'unmeasurable'; readonly error: number; readonly uncertainty: number } | { readonly kind: 'fail'; readonly error: number };

/** The largest step the precise oracle takes (kinks must be farther than this, with a margin). */
export const PRECISE_STEP = 4e-3;

/** Re-check one gradient with the precise oracle (see the file comment). */
export function preciseCheck(p: Program, inputs: Record<string, Float64Array>, seeds: Record<string, Float64Array>, wrt: string, sizes: Record<string, number>, analytic: Float64Array, tolerance: number): Verdict {
  const a = richardson(p, inputs, seeds, wrt, sizes, PRECISE_STEP / 2);
  const error = relativeError(analytic, a);
  if (error < tolerance) return { kind: 'pass', error };
  const b = richardson(p, inputs, seeds, wrt, sizes, PRECISE_STEP);
  // the two estimates may agree exactly (a change below one ulp of the outputs reads as 0 both
  // times), so the uncertainty is at least the rounding of the difference quotient, ε·|f|/h; the
  // + 1 covers the rounding of the analytic side, a sum of terms of order 1 (inputs and seeds are)
  const rounding = (10 * Number.EPSILON * (probeMagnitude(p, inputs, seeds, sizes) + 1) * Math.sqrt(analytic.length)) / (PRECISE_STEP / 4);
  const uncertainty = Math.max(norm(diff(a, b)), rounding);
  const discrepancy = norm(diff(analytic, a));
  if (discrepancy <= 3 * uncertainty) return { kind: 'unmeasurable', error, uncertainty };
  return { kind: 'fail', error };
}

/** Loop iterations of one run of the program (every statement's positions times the work of its
 *  right side, reductions multiplying their body): a deterministic measure of how long a check takes. */
export function evaluationCost(p: Program, sizes: Record<string, number>): number {
  const values = resolveSizes(p, {}, sizes);
  const extent = (b: Bound) => sizeEval(b.extent, values);
  const cost = (e: Expr): number => {
    switch (e.kind) {
      case 'reduce':
      case 'argmax':
        return e.indices.reduce((n, b) => n * Math.max(1, extent(b)), 1) * (1 + cost(e.body));
      default:
        return 1 + children(e).reduce((n, c) => n + cost(c), 0);
    }
  };
  return p.statements.reduce((n, s) => n + s.lhs.reduce((k, b) => k * Math.max(1, extent(b)), 1) * cost(s.rhs), 0);
}

/** Work of a central-difference check: two runs per input element. */
export function checkCost(p: Program, sizes: Record<string, number>): number {
  const values = resolveSizes(p, {}, sizes);
  const elements = p.tensors.filter((t) => t.role === 'input').reduce((n, t) => n + t.shape.reduce((k, d) => k * sizeEval(d, values), 1), 0);
  return 2 * elements * evaluationCost(p, sizes);
}
