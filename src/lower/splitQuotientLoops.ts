// splitQuotientLoops: an output index that the right side only reads as ⌊h/τ⌋ and h mod τ → two
// loops, the quotient q and the remainder r, so that no element computes a floor or a remainder.
//
// Worked example, max-pool backward (2×2 windows, stride 2):
//   dX[n,c,h,w] = (argmax(i:2, j:2 @ h%2, w%2) X[n,c,2*(h/2)+i,2*(w/2)+j]) * dY[n,c,h/2,w/2]
// h appears only as h/2 and h%2, w only as w/2 and w%2. With h = 2·q + r the loops become
//   for q in [0, ⌈H/2⌉)  for r in [0, min(2, H − 2·q))   (h = 2q + r: rows in the same order)
// and the right side reads `dY[n,c,q,p]` and compares the arg-max with `r*2 + s`. The loops visit
// the elements of dX in the order h, w did (r's bound drops the last half-window of an odd H), so
// the output is still written through one running offset.
//
// An index qualifies when every occurrence on the right is a quotient or remainder of exactly that
// index by one positive constant τ ≥ 2; any plain use, or a mixed divisor, leaves it alone.
import { idxAdd, idxConst, idxScale, idxVar, idxVars } from '../ir/affine.js';
import { mapIndices } from '../ir/exprs.js';
import { polyAdd, polyConst, polyConstValue } from '../ir/sizes.js';
import type { Bound, Expr, IndexExpr, SizeExpr } from '../ir/types.js';

/** 0 ≤ v + τ·q < extent: the remainder loop stops at the end of the original index's range. */
export interface QuotientGuard {
  readonly v: string;
  readonly rest: IndexExpr;
  readonly dim: SizeExpr;
}

export interface QuotientSplit {
  readonly lhs: readonly Bound[];
  readonly rhs: Expr;
  readonly guards: readonly QuotientGuard[];
  /** each split index h = by·q + r */
  readonly splits: readonly { readonly h: string; readonly q: string; readonly r: string; readonly by: number }[];
}

/** The divisor τ when every use of `h` in `rhs` is ⌊h/τ⌋ or h mod τ for one constant τ ≥ 2. */
function onlyQuotientDivisor(rhs: Expr, h: string): number | undefined {
  let divisor: number | undefined;
  let plain = false;
  const isExactlyH = (x: IndexExpr) =>
    x.constant.size === 0 && x.terms.length === 1 && x.terms[0]!.atom.kind === 'var' && x.terms[0]!.atom.name === h && polyConstValue(x.terms[0]!.coef) === 1;
  const visit = (x: IndexExpr): IndexExpr => {
    for (const t of x.terms) {
      const a = t.atom;
      if (a.kind === 'var') {
        if (a.name === h) plain = true;
        continue;
      }
      if (a.kind === 'read') {
        if (a.subs.some((s) => idxVars(s).includes(h))) plain = true;
        continue;
      }
      if (!isExactlyH(a.of)) {
        // h nested deeper (⌊(h+1)/2⌋, ⌊⌊h/2⌋/2⌋): not this split's shape
        if (idxVars(a.of).includes(h)) plain = true;
        continue;
      }
      const by = polyConstValue(a.by);
      if (by === undefined || !Number.isInteger(by) || by < 2 || (divisor !== undefined && by !== divisor)) plain = true;
      else divisor = by;
    }
    return x;
  };
  mapIndices(rhs, visit); // a walk over every index expression; the copy it builds is dropped
  return plain ? undefined : divisor;
}

/** Replaces ⌊h/τ⌋ by q and h mod τ by r in one index expression. */
function renameQuotients(x: IndexExpr, h: string, q: string, r: string): IndexExpr {
  let out = idxConst(x.constant);
  for (const t of x.terms) {
    const a = t.atom;
    const by = a.kind === 'div' || a.kind === 'mod' ? a.of.terms[0]?.atom : undefined;
    const name = (a.kind === 'div' || a.kind === 'mod') && by?.kind === 'var' && by.name === h ? (a.kind === 'div' ? q : r) : undefined;
    out = idxAdd(out, name ? idxScale(idxVar(name), t.coef) : { terms: [t], constant: new Map() });
  }
  return out;
}

/** ⌈extent/τ⌉ as a size: ⌊(extent + τ − 1)/τ⌋. */
function ceilDivSize(extent: SizeExpr, by: number): SizeExpr {
  const num: SizeExpr = extent.kind === 'poly' ? { kind: 'poly', poly: polyAdd(extent.poly, polyConst(by - 1)) } : { kind: 'sum', terms: [extent, { kind: 'poly', poly: polyConst(by - 1) }] };
  return { kind: 'div', num, den: { kind: 'poly', poly: polyConst(by) } };
}

/**
 * Splits each qualifying left-side index into quotient and remainder loops; undefined when none
 * qualifies. `fresh` names the new loop indices (they must not clash with the program's names).
 */
export function splitQuotientLoops(lhs: readonly Bound[], rhs: Expr, fresh: (prefix: string) => string): QuotientSplit | undefined {
  const bounds: Bound[] = [];
  const guards: QuotientGuard[] = [];
  const splits: QuotientSplit['splits'][number][] = [];
  let body = rhs;
  for (const b of lhs) {
    const by = onlyQuotientDivisor(body, b.name);
    if (by === undefined) {
      bounds.push(b);
      continue;
    }
    const q = fresh('q');
    const r = fresh('r');
    body = mapIndices(body, (x) => renameQuotients(x, b.name, q, r));
    bounds.push({ name: q, extent: ceilDivSize(b.extent, by) }, { name: r, extent: { kind: 'poly', poly: polyConst(by) } });
    guards.push({ v: r, rest: idxScale(idxVar(q), polyConst(by)), dim: b.extent });
    splits.push({ h: b.name, q, r, by });
  }
  return guards.length === 0 ? undefined : { lhs: bounds, rhs: body, guards, splits };
}
