// Kink margins: is a random input point too close to a place where the program is not smooth?
//
// Central differences are only right where the function is differentiable on [x − h, x + h]. The
// non-smooth places of a program are its kink sites: relu, abs and elu at 0, max(a,b)/min(a,b) and
// comparisons where a = b, where(c, …) where c crosses 0, and max/min reductions (and argmax) where
// the best candidate ties with another. For each site this evaluates its "gap" (the relu argument,
// a − b, best − other) at every position — every left-side index and every reduction index around
// the site becomes a subscript of a probe tensor — at the point and at a few randomly perturbed
// points. A gap that moves with the inputs and is within `distance` of 0, measured in input space
// (|gap| / rate of change), is a near-kink: the caller skips that case. A gap that does not move is a
// constant (a padded read, a relu of an index value) or a tie of two identical functions: harmless.
//
// Worked example: Y[i] = relu(X[i] - 0.5) at X = [0.5000001, 0.9]: the probe K[i] = X[i] - 0.5 is
// [1e-7, 0.4]; a perturbation of 1e-3 moves it by ~1e-3, so position 0 lies ~1e-4 from the kink: skip.
import { resolveSizes, run } from '../../src/ir/evaluate.js';
import { add, neg } from '../../src/ir/exprs.js';
import { seededRandom } from '../../src/ir/gradcheck.js';
import { sizeEval } from '../../src/ir/sizes.js';
import type { Bound, Expr, Program, Statement, TensorInfo } from '../../src/ir/types.js';

interface Site {
  readonly what: string;
  readonly probe: Statement;
  /** for extremum sites: how many trailing probe dimensions are the reduced ones, and which op */
  readonly extremum?: { readonly reduced: number; readonly op: 'max' | 'min' };
}

/** Every kink site of a program, each as a probe statement over all indices in scope there. */
export function kinkSites(p: Program): Site[] {
  const sites: Site[] = [];
  const probe = (s: Statement, path: readonly Bound[], rhs: Expr): Statement => ({
    tensor: `__kink${sites.length}`,
    lhs: [...s.lhs, ...path],
    rhs,
    line: 0,
  });
  for (const s of p.statements) {
    const walk = (e: Expr, path: readonly Bound[]) => {
      switch (e.kind) {
        case 'call':
          if (e.fn === 'relu' || e.fn === 'abs' || e.fn === 'elu' || e.fn === 'where') sites.push({ what: e.fn, probe: probe(s, path, e.args[0]!) });
          if (e.fn === 'max' || e.fn === 'min') sites.push({ what: e.fn, probe: probe(s, path, add([e.args[0]!, neg(e.args[1]!)])) });
          e.args.forEach((a) => walk(a, path));
          return;
        case 'compare':
          sites.push({ what: e.op, probe: probe(s, path, add([e.a, neg(e.b)])) });
          walk(e.a, path);
          walk(e.b, path);
          return;
        case 'reduce':
          if (e.op === 'max' || e.op === 'min') sites.push({ what: `${e.op}()`, probe: probe(s, [...path, ...e.indices], e.body), extremum: { reduced: e.indices.length, op: e.op } });
          walk(e.body, [...path, ...e.indices]);
          return;
        case 'argmax':
          sites.push({ what: `arg${e.op}`, probe: probe(s, [...path, ...e.indices], e.body), extremum: { reduced: e.indices.length, op: e.op } });
          walk(e.body, [...path, ...e.indices]);
          return;
        case 'matfn':
          walk(e.body, [...path, ...e.indices]);
          return;
        case 'num':
        case 'sizeval':
        case 'index':
        case 'access':
        case 'delta':
          return;
        case 'add':
          e.terms.forEach((t) => walk(t, path));
          return;
        case 'mul':
          e.factors.forEach((t) => walk(t, path));
          return;
        case 'div':
          walk(e.num, path);
          walk(e.den, path);
          return;
        case 'pow':
          walk(e.base, path);
          walk(e.exp, path);
          return;
        case 'neg':
          walk(e.arg, path);
          return;
        default: {
          const never: never = e;
          return never;
        }
      }
    };
    walk(s.rhs, []);
  }
  return sites;
}

export interface NearKink {
  readonly site: string;
  /** distance to the kink in input space (|gap| / rate of change) */
  readonly distance: number;
}

/**
 * The closest kink within `distance` of the inputs (in input space), or undefined when every kink
 * is farther. `eta` is the size of the random perturbations used to measure how fast each gap moves.
 */
export function nearKink(p: Program, inputs: Record<string, Float64Array>, sizes: Record<string, number>, opts: { distance?: number; eta?: number; seed?: number } = {}): NearKink | undefined {
  const sites = kinkSites(p);
  if (sites.length === 0) return undefined;
  const distance = opts.distance ?? 1e-4;
  const eta = opts.eta ?? 1e-3;
  const tensors: TensorInfo[] = [
    ...p.tensors,
    ...sites.map((s) => ({ name: s.probe.tensor, shape: s.probe.lhs.map((b) => b.extent), role: 'output' as const, declared: true })),
  ];
  const probes: Program = { ...p, tensors, statements: [...p.statements, ...sites.map((s) => s.probe)] };
  const rand = seededRandom(opts.seed ?? 12345);
  const points = [inputs];
  for (let k = 0; k < 3; k++) {
    const moved: Record<string, Float64Array> = {};
    for (const [name, v] of Object.entries(inputs)) moved[name] = v.map((x) => x + eta * (2 * rand() - 1));
    points.push(moved);
  }
  const values = points.map((x) => run(probes, x, sizes));
  let worst: NearKink | undefined;
  const consider = (site: string, g: readonly number[]) => {
    const g0 = g[0]!;
    const change = Math.max(...g.slice(1).map((x) => Math.abs(x - g0)));
    if (change === 0) return; // constant here: no kink nearby
    const crossed = g.slice(1).some((x) => Math.sign(x) !== Math.sign(g0));
    const dist = crossed ? 0 : (Math.abs(g0) / change) * eta;
    if (dist < distance && (!worst || dist < worst.distance)) worst = { site, distance: dist };
  };
  for (const s of sites) {
    const at = values.map((v) => v[s.probe.tensor]!);
    const n = at[0]!.length;
    if (!s.extremum) {
      for (let j = 0; j < n; j++) consider(s.what, at.map((v) => v[j]!));
      continue;
    }
    // candidates of one reduction are the trailing `reduced` dimensions, contiguous in row-major order
    const shape = probeShape(probes, s.probe.tensor, sizes);
    const group = shape.slice(shape.length - s.extremum.reduced).reduce((a, b) => a * b, 1);
    if (group === 0) continue;
    const better = s.extremum.op === 'max' ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
    for (let start = 0; start < n; start += group) {
      const base = at[0]!;
      let best = start;
      for (let c = start + 1; c < start + group; c++) if (better(base[c]!, base[best]!)) best = c;
      for (let c = start; c < start + group; c++) {
        if (c === best) continue;
        const sign = s.extremum.op === 'max' ? 1 : -1;
        consider(s.what, at.map((v) => sign * (v[best]! - v[c]!)));
      }
    }
  }
  return worst;
}

/** The extents of a probe: those of the statement's indices around the site. */
function probeShape(p: Program, name: string, sizes: Record<string, number>): number[] {
  const values = resolveSizes(p, {}, sizes);
  return p.tensors.find((x) => x.name === name)!.shape.map((d) => sizeEval(d, values));
}
