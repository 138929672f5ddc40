// unstride: a sum guarded by divisibility, Σ_y (E % T == 0)·A[…, E/T, …]·B[…, y, …] (a transposed
// convolution's kernel gradient, as the differentiator leaves it for a symbolic stride T), rewritten
// with the quotient as the summed index: y = T·h + y − E, so Σ_h A[…, h, …]·B[…, T·h + y − E, …]. The
// convolution family's correlation pattern then reads it.
//
// Worked example: dK[c,f,i,j] = sum(n,y,x) ((y+P-i)%T == 0)*((x+P-j)%T == 0)*X[n,c,(y+P-i)/T,(x+P-j)/T]*dY[n,f,y,x]
// becomes dK[c,f,i,j] = sum(n,h,w) X[n,c,h,w]*dY[n,f,T*h+i-P,T*w+j-P], which prints as
//   dK[c,f] = Σ_n dY[n,f] ⋆[d=T, p=P] X[n,c]
import { idxAdd, idxCoef, idxKey, idxScale, idxSub, idxSubstitute, idxVar } from '../ir/affine.js';
import { polyConstValue, polyKey } from '../ir/sizes.js';
import type { Bound, Expr, IndexExpr, Poly, SizeExpr, Statement } from '../ir/types.js';

type Shapes = (tensor: string) => readonly SizeExpr[] | undefined;

/** (E % T == 0) → { E, T }; null for any other factor. */
function guard(f: Expr): { of: IndexExpr; by: Poly } | null {
  const zero = (b: Expr) => (b.kind === 'num' && b.value === 0) || (b.kind === 'index' && b.expr.terms.length === 0 && b.expr.constant.size === 0);
  if (f.kind !== 'compare' || f.op !== '==' || !zero(f.b) || f.a.kind !== 'index') return null;
  const e = f.a.expr;
  const t = e.terms[0];
  if (e.terms.length !== 1 || e.constant.size || t?.atom.kind !== 'mod' || polyConstValue(t.coef) !== 1) return null;
  return { of: t.atom.of, by: t.atom.by };
}

/** The statement with each guarded quotient as a summed index of its own; null when it has none. */
export function unstride(s: Statement, shapes: Shapes): Statement | null {
  let x = s.rhs;
  const bounds: Bound[] = [];
  while (x.kind === 'reduce' && x.op === 'sum') {
    bounds.push(...x.indices);
    x = x.body;
  }
  if (x.kind !== 'mul' || bounds.length === 0) return null;
  const guards = x.factors.map(guard);
  const rest = x.factors.filter((_, k) => !guards[k]);
  const reads = rest.filter((f): f is Extract<Expr, { kind: 'access' }> => f.kind === 'access');
  if (guards.every((g) => !g) || reads.length !== rest.length) return null;
  let factors: Expr[] = reads;
  const sums = [...bounds];
  for (const g of guards) {
    if (!g) continue;
    // the summed index y that E moves with at a unit rate, and the read at E/T
    const y = bounds.find((b) => idxCoef(g.of, b.name) !== undefined && polyConstValue(idxCoef(g.of, b.name) as Poly) === 1);
    const quotient = (e: IndexExpr) => e.terms.length === 1 && !e.constant.size && e.terms[0]!.atom.kind === 'div' && idxKey(e.terms[0]!.atom.of) === idxKey(g.of) && polyKey(e.terms[0]!.atom.by) === polyKey(g.by);
    const at = factors.flatMap((f) => (f.kind === 'access' ? f.subs.map((e, k) => ({ f, k, e })) : [])).filter((r) => quotient(r.e));
    if (!y || at.length !== 1) return null;
    const { f: reader, k } = at[0]!;
    if (reader.kind !== 'access') return null;
    const extent = shapes(reader.tensor)?.[k];
    const h = `${y.name}_q`;
    if (!extent || sums.some((b) => b.name === h)) return null;
    // y = T·h + y − E
    const yIs = idxAdd(idxScale(idxVar(h), g.by), idxSub(idxVar(y.name), g.of));
    factors = factors.map((f) =>
      f === reader
        ? { ...reader, subs: reader.subs.map((e, q) => (q === k ? idxVar(h) : idxSubstitute(e, y.name, yIs))) }
        : f.kind === 'access' ? { ...f, subs: f.subs.map((e) => idxSubstitute(e, y.name, yIs)) } : f,
    );
    sums.splice(sums.indexOf(y), 1, { name: h, extent });
  }
  if (factors.some((f) => f.kind === 'access' && f.subs.some((e) => e.terms.some((t) => t.atom.kind !== 'var')))) return null;
  return { ...s, rhs: { kind: 'reduce', op: 'sum', indices: sums, body: { kind: 'mul', factors } } };
}
