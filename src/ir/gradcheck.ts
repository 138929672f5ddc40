// gradcheck: central differences through the reference interpreter — the oracle for every gradient.
//
// Worked example: for f = (x+y)*z at (−2, 5, −4), perturbing x by ±h gives
//   (f(x+h) − f(x−h)) / 2h = z = −4,
// the value the derived dx = z must match. For tensor outputs the scalar probed is Σ dY ⊙ Y, so the
// numeric gradient is the vector–Jacobian product that reverse mode computes.
import { run, resolveSizes, shapeOf, type Inputs } from './evaluate.js';
import type { Program } from './types.js';

export interface NumericOptions {
  readonly sizes?: Record<string, number>;
  /** step; the default balances truncation (h²) against rounding (ε/h) in float64 */
  readonly h?: number;
}

/** Σ over outputs of seed ⊙ output (a scalar output with no seed counts with weight 1). */
function probe(p: Program, inputs: Inputs, seeds: Record<string, Float64Array>, sizes: Record<string, number>): number {
  const out = run(p, inputs, sizes);
  let total = 0;
  for (const t of p.tensors) {
    if (t.role !== 'output') continue;
    const y = out[t.name]!;
    const s = seeds[`d${t.name}`];
    for (let i = 0; i < y.length; i++) total += (s ? s[i]! : 1) * y[i]!;
  }
  return total;
}

/** ∂(Σ seed·outputs)/∂input by central differences, one element at a time. */
export function numericGradient(p: Program, inputs: Inputs, seeds: Record<string, Float64Array>, wrt: string, opts: NumericOptions = {}): Float64Array {
  const sizes = opts.sizes ?? {};
  const base = inputs[wrt];
  if (base === undefined) throw new Error(`missing input ${wrt}`);
  const x = typeof base === 'number' ? Float64Array.of(base) : Float64Array.from(base as ArrayLike<number>);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const h = (opts.h ?? 1e-5) * Math.max(1, Math.abs(x[i]!));
    const save = x[i]!;
    x[i] = save + h;
    const up = probe(p, { ...inputs, [wrt]: typeof base === 'number' ? x[0]! : x }, seeds, sizes);
    x[i] = save - h;
    const down = probe(p, { ...inputs, [wrt]: typeof base === 'number' ? x[0]! : x }, seeds, sizes);
    x[i] = save;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** ‖a − b‖ / max(‖a‖, ‖b‖), 0 when both vanish. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  const scale = Math.sqrt(Math.max(na, nb));
  return scale === 0 ? 0 : Math.sqrt(diff) / scale;
}

/** Random inputs for every input tensor (uniform in [lo, hi)), from a seeded generator. */
export function randomInputs(p: Program, sizes: Record<string, number>, rand: () => number, lo = -1, hi = 1): Record<string, Float64Array> {
  const resolved = resolveSizes(p, {}, sizes);
  const out: [string, Float64Array][] = [];
  for (const t of p.tensors) {
    if (t.role !== 'input') continue;
    const n = shapeOf(p, t.name, resolved).reduce((a, b) => a * b, 1);
    out.push([t.name, Float64Array.from({ length: n }, () => lo + (hi - lo) * rand())]);
  }
  return Object.fromEntries(out);
}

/** A small deterministic PRNG (mulberry32), so failing cases reproduce. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
