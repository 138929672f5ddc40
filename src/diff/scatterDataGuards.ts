// scatterDataGuards: a gradient term that reads through integer data at a summed index becomes a
// scatter-add, which costs what the forward read did.
//
// Worked example: Y[n,d] = E[tok[n], d] w.r.t. E eliminates (eliminateDeltas.ts) to
//   Σ_n (tok[n] == v')·dY[n,d']          a gather form: V·N·D steps for dE's V·D elements
// Its guard equates a position, v', with data read at a summed index, n. Promoting n to a loop
// index and v' to the data it equals gives the same sum as
//   dE[tok[n], d'] += dY[n,d']  for every n, d'           N·D steps
// A guard whose data is read at positions only — the one-hot dS[n,c] = -(y[n] == c)·dL, where n was
// solved — costs what the gradient's elements do, and stays a gather form.
// A Hessian block's scatter, H[tok[n], d3, tok[n], d] += 2·(d == d3), loops over d only: d3 := d.
import { idxAsVar, idxRename, idxSubstitute, idxVar, idxVars } from '../ir/affine.js';
import { mul, neg, reduce, substituteIndex } from '../ir/exprs.js';
import { polyConstValue, sizeEquals } from '../ir/sizes.js';
import type { Bound, Expr, IndexExpr } from '../ir/types.js';

/** T[at] += rhs for every value of `loops`. */
export interface Scatter {
  readonly loops: readonly Bound[];
  readonly at: readonly IndexExpr[];
  readonly rhs: Expr;
}

/** tok[…] + c: the one data-dependent form a subscript takes (the data check covers it) */
const isData = (x: IndexExpr) => x.terms.length === 1 && x.terms[0]!.atom.kind === 'read' && polyConstValue(x.terms[0]!.coef) === 1;

/** The term as a scatter when a guard reads data at a summed index, else undefined (it stays). */
export function scatterDataGuards(term: Expr, positions: readonly Bound[]): Scatter | undefined {
  let negated = false;
  let e = term;
  if (e.kind === 'neg') {
    negated = true;
    e = e.arg;
  }
  let sums: readonly Bound[] = e.kind === 'reduce' && e.op === 'sum' ? e.indices : [];
  const body = sums.length ? (e as Extract<Expr, { kind: 'reduce' }>).body : e;
  let factors: readonly Expr[] = body.kind === 'mul' ? body.factors : [body];
  let loops: readonly Bound[] = positions;
  let at: IndexExpr[] = positions.map((b) => idxVar(b.name));
  const promoted = new Set<string>();
  for (;;) {
    const found = factors.findIndex((f) => equate(f, loops, sums, promoted) !== undefined);
    if (found < 0) break;
    const { p, x } = equate(factors[found]!, loops, sums, promoted)!;
    const moved = sums.filter((b) => idxVars(x).includes(b.name));
    moved.forEach((b) => promoted.add(b.name));
    sums = sums.filter((b) => !moved.includes(b));
    loops = [...loops.filter((b) => b.name !== p), ...moved];
    at = at.map((ix) => idxSubstitute(ix, p, x));
    factors = factors.filter((_, k) => k !== found).map((f) => substituteIndex(f, p, x));
  }
  if (promoted.size === 0) return undefined;
  // (d == d3) between two loop indices: one loop, d3 := d (a Hessian's rows repeat a position)
  for (;;) {
    const found = factors.findIndex((f) => sameLoops(f, loops) !== undefined);
    if (found < 0) break;
    const [keep, drop] = sameLoops(factors[found]!, loops)!;
    loops = loops.filter((b) => b.name !== drop);
    at = at.map((ix) => idxSubstitute(ix, drop, idxVar(keep)));
    factors = factors.filter((_, k) => k !== found).map((f) => substituteIndex(f, drop, idxVar(keep)));
  }
  const rhs = reduce('sum', sums, mul(factors));
  return { loops, at, rhs: negated ? neg(rhs) : rhs };
}

/** (x == p): p a position still a plain loop index, x data read at a summed (or promoted) index. */
function equate(f: Expr, loops: readonly Bound[], sums: readonly Bound[], promoted: ReadonlySet<string>): { p: string; x: IndexExpr } | undefined {
  if (f.kind !== 'compare' || f.op !== '==' || f.a.kind !== 'index' || f.b.kind !== 'index') return undefined;
  for (const [pos, x] of [
    [f.b.expr, f.a.expr],
    [f.a.expr, f.b.expr],
  ] as const) {
    const p = idxAsVar(pos);
    if (p === undefined || promoted.has(p) || !loops.some((b) => b.name === p) || !isData(x)) continue;
    const vars = idxVars(x);
    if (vars.includes(p)) continue;
    if (vars.some((v) => promoted.has(v) || sums.some((b) => b.name === v))) return { p, x };
  }
  return undefined;
}

/** (p == q) for two distinct loop indices: [p, q] */
function sameLoops(f: Expr, loops: readonly Bound[]): [string, string] | undefined {
  if (f.kind !== 'compare' || f.op !== '==' || f.a.kind !== 'index' || f.b.kind !== 'index') return undefined;
  const [p, q] = [idxAsVar(f.a.expr), idxAsVar(f.b.expr)];
  const loop = (x: string | undefined) => loops.find((b) => b.name === x);
  const [a, b] = [loop(p), loop(q)];
  // over the same range: q := p then visits exactly the pairs where p == q
  return a && b && p !== q && sizeEquals(a.extent, b.extent) ? [p!, q!] : undefined;
}

/** Rename a scatter's indices (a gradient's primed positions to their plain names). */
export function renameScatter(s: Scatter, map: ReadonlyMap<string, string>, renameExpr: (e: Expr) => Expr): Scatter {
  return {
    loops: s.loops.map((b) => ({ name: map.get(b.name) ?? b.name, extent: b.extent })),
    at: s.at.map((x) => idxRename(x, map)),
    rhs: renameExpr(s.rhs),
  };
}
