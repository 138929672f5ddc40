// hoistFactors: a factor of a sum's terms that does not depend on the summed indices moves out of
// the sum — computed once, not once per term.
//
// Worked example (log-softmax, after reuseForward): dX[n,c] = dY[n,c] + sum(c2) -exp(Y[n,c])*dY[n,c2]
//   exp(Y[n,c]) and the sign do not depend on c2   →   dX[n,c] = dY[n,c] - exp(Y[n,c])*sum(c2) dY[n,c2]
// The sum left depends on n only, so the kernels compute it once per row (lowerNest.ts hoists it)
// instead of once per (c, c2): O(C) per row instead of O(C²) — the textbook's dY − P·Σ dY.
// Sums nested inside are rewritten first; a quotient's denominator moves out when it does not depend
// on the summed indices either.
import { div, freeIndices, mapChildren, mul, reduce } from '../ir/exprs.js';
import { printExpr } from '../ir/print.js';
import type { Expr } from '../ir/types.js';

/** The factors of a product: a sign becomes a factor −1. */
const factorsOf = (e: Expr): Expr[] => (e.kind === 'mul' ? [...e.factors] : e.kind === 'neg' ? [{ kind: 'num', value: -1 }, ...factorsOf(e.arg)] : [e]);

export function hoistFactors(e: Expr, log?: (line: string) => void): Expr {
  const inner = mapChildren(e, (c) => hoistFactors(c, log));
  if (inner.kind !== 'reduce' || inner.op !== 'sum') return inner;
  const summed = new Set(inner.indices.map((b) => b.name));
  const depends = (x: Expr) => freeIndices(x).some((v) => summed.has(v));
  // −(a/b) is (−1·a)/b
  const sign = inner.body.kind === 'neg' ? -1 : 1;
  const body = inner.body.kind === 'neg' ? inner.body.arg : inner.body;
  const [top, den] = body.kind === 'div' ? [body.num, body.den] : [body, undefined];
  const denOut = den !== undefined && !depends(den);
  const factors = sign < 0 ? [{ kind: 'num', value: -1 } as Expr, ...factorsOf(top)] : factorsOf(top);
  // each factor's free indices found once, not once for each list
  const dependent = factors.map(depends);
  const out = factors.filter((_, k) => !dependent[k]);
  const stay = factors.filter((_, k) => dependent[k]);
  // nothing to gain: only a plain number or a lone denominator would move (−1, 2, /N, /a[n] cost
  // little inside and read best where they stand); a denominator that is itself a computation
  // (layer norm's sqrt(var[n] + eps) in dmu: a square root per term) is worth computing once
  const cheap = (x: Expr) => x.kind === 'num' || x.kind === 'sizeval' || x.kind === 'access';
  if (out.every((f) => f.kind === 'num') && !(denOut && !cheap(den!))) return inner;
  if (stay.length === 0 && (den === undefined || denOut)) return inner; // a sum of a constant: nothing is repeated
  const sum = reduce('sum', inner.indices, den !== undefined && !denOut ? div(mul(stay), den) : mul(stay));
  const hoisted = denOut ? div(mul([...out, sum]), den) : mul([...out, sum]);
  log?.(`factor out of sum(${inner.indices.map((b) => b.name).join(',')}): ${printExpr(inner)} = ${printExpr(hoisted)}`);
  return hoisted;
}
