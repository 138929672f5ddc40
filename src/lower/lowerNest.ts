// lowerNest: loops over a list of indices around a body, with bounds that come from the zero-padded
// reads and range guards of what the body sums (boundsFromPadding.ts), and the reductions that depend
// only on outer indices computed once, before the loops that would otherwise repeat them.
//
// Worked example, the conv input gradient's sum over u with the constraint {u: coef −T, rest h+P,
// dim R} (K[f,c,h+P-u*T,…] is 0 unless 0 ≤ h+P−u*T < R):
//   for u in [max(0, ceildiv(h+P−(R−1), T)), min(U, floordiv(h+P, T) + 1))
// and softmax's logsumexp over c, which depends on n only, is computed before the loop over c.
import { children, exprKey, freeIndices } from '../ir/exprs.js';
import { sizeEquals } from '../ir/sizes.js';
import type { Bound, Expr, Poly } from '../ir/types.js';
import { add, c, ceildiv, floordiv, for_, isConst, max, min, mod, neg, sub, sym, v } from '../loop/build.js';
import type { LExpr, LStmt } from '../loop/types.js';
import type { Constraint } from './boundsFromPadding.js';
import type { Hoisted, Lowering, NestOptions, Reduce, Vars } from './lowering.js';

/** The range of c.v where 0 ≤ coef·v + rest (lower side) and coef·v + rest < dim (upper side) hold. */
export function constraintRange(L: Lowering, k: Constraint, vars: Vars): { lo?: LExpr; hi?: LExpr } {
  const { scope } = L;
  const rest = scope.index(k.rest, vars);
  const sides = k.sides ?? 'both';
  const top = k.dim ? sub(scope.sizeExpr(k.dim), c(1)) : undefined; // the largest allowed value
  const numeric = typeof k.coef === 'number';
  const negative = numeric ? (k.coef as number) < 0 : [...(k.coef as Poly).values()].every((x) => x < 0);
  const mag = numeric ? c(Math.abs(k.coef as number)) : scope.poly(negative ? new Map([...(k.coef as Poly)].map(([m, x]) => [m, -x])) : (k.coef as Poly));
  const ceilDiv = (a: LExpr) => (isConst(mag, 1) ? a : ceildiv(a, mag));
  const floorDiv = (a: LExpr) => (isConst(mag, 1) ? a : floordiv(a, mag));
  // k·v + rest ≥ 0 and k·v + rest ≤ top, with k = ±mag
  const fromLower = negative ? { hi: add(floorDiv(rest), c(1)) } : { lo: ceilDiv(neg(rest)) };
  const fromUpper = top === undefined ? {} : negative ? { lo: ceilDiv(sub(rest, top)) } : { hi: add(floorDiv(sub(top, rest)), c(1)) };
  const use: { lo?: LExpr; hi?: LExpr }[] = [...(sides !== 'upper' ? [fromLower] : []), ...(sides !== 'lower' ? [fromUpper] : [])];
  const lo = use.map((u) => u.lo).find((x) => x !== undefined);
  const hi = use.map((u) => u.hi).find((x) => x !== undefined);
  return { ...(lo ? { lo } : {}), ...(hi ? { hi } : {}) };
}

/** Reductions in e (not inside other reductions) that can be computed outside some of `bounds`. */
export function hoistable(e: Expr, bounds: readonly Bound[], exclude?: Expr): { expr: Reduce; level: number }[] {
  const out: { expr: Reduce; level: number }[] = [];
  const names = bounds.map((b) => b.name);
  const seen = new Set<string>();
  const walk = (x: Expr) => {
    if (x === exclude) return;
    if (x.kind === 'reduce') {
      const level = Math.max(-1, ...freeIndices(x).map((f) => names.indexOf(f)));
      const key = exprKey(x);
      if (level < names.length - 1 && !seen.has(key)) {
        seen.add(key);
        out.push({ expr: x, level });
      }
      return;
    }
    if (x.kind === 'argmax' || x.kind === 'matfn') return;
    children(x).forEach(walk);
  };
  walk(e);
  return out;
}

export function nest(L: Lowering, bounds: readonly Bound[], outer: Vars, scopeExpr: Expr, body: (vars: Vars, hoisted: Hoisted) => readonly LStmt[], opts: NestOptions): LStmt[] {
  const { scope } = L;
  const vars = new Map(outer);
  const loopVars = bounds.map((b) => sym(b.name, 'i32'));
  const hoist = scope.opts.optimize ? hoistable(scopeExpr, bounds, opts.exclude) : [];
  const hoisted = new Map<string, LExpr>();
  const build = (level: number): LStmt[] => {
    const out: LStmt[] = [];
    for (const h of hoist.filter((x) => x.level === level - 1)) {
      const r = L.reduction(h.expr, vars, false);
      out.push(...r.stmts);
      hoisted.set(exprKey(h.expr), r.value);
    }
    if (level === bounds.length) return [...out, ...body(vars, hoisted)];
    const b = bounds[level]!;
    // bounds from the constraints on b, in the indices bound so far
    let lo = c(0);
    let hi = scope.sizeExpr(b.extent);
    let step = c(1);
    for (const k of opts.constraints?.filter((x) => x.v === b.name) ?? []) {
      // a plain index over its own extent adds nothing
      if ((k.sides ?? 'both') === 'both' && k.coef === 1 && k.rest.terms.length === 0 && k.rest.constant.size === 0 && k.dim && sizeEquals(k.dim, b.extent)) continue;
      const range = constraintRange(L, k, vars);
      if (range.lo) lo = max(lo, range.lo);
      if (range.hi) hi = min(hi, range.hi);
    }
    const residue = opts.residues?.find((r) => r.v === b.name);
    if (residue) {
      // the first value ≥ lo in the residue class of the target
      const m = scope.poly(residue.modulus);
      lo = add(lo, mod(sub(scope.index(residue.target, vars), lo), m));
      step = m;
    }
    vars.set(b.name, v(loopVars[level]!));
    const inner = build(level + 1);
    const innermost = level === bounds.length - 1;
    out.push(for_(loopVars[level]!, lo, hi, inner, { step, loop: innermost && opts.unrollSum ? 'unrolled' : level === 0 && opts.parallel ? 'parallel' : 'serial' }));
    return out;
  };
  return build(0);
}

