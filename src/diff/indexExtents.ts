// indexExtents: the extent of every index a statement binds, by name — the length of a ones vector
// spanning that index, so a matrix form's 1 can be spelled ones(N) in matrix notation.
//
// Worked example: db[f] = sum(n) dY[n,f] binds f over F (its left side) and n over N (the sum), so
// the column sum 1ᵀ·dY has a 1 of length N: ones(N)'*dY.
import { children } from '../ir/exprs.js';
import { printSize } from '../ir/sizes.js';
import type { Bound, Expr, Statement } from '../ir/types.js';

/** name → printed extent; an index bound twice over different extents has none (undefined). */
export function indexExtents(s: Statement): (index: string) => string | undefined {
  const seen = new Map<string, string | null>();
  const bind = (bs: readonly Bound[]) => {
    for (const b of bs) {
      const e = printSize(b.extent);
      seen.set(b.name, seen.has(b.name) && seen.get(b.name) !== e ? null : e);
    }
  };
  const walk = (e: Expr): void => {
    if (e.kind === 'reduce' || e.kind === 'argmax' || e.kind === 'matfn') bind(e.indices);
    for (const c of children(e)) walk(c);
  };
  bind(s.lhs);
  walk(s.rhs);
  return (index) => seen.get(index) ?? undefined;
}
