// separateProducts: which matrix products in a statement deserve a kernel of their own. A statement
// whose right side holds two or more sums side by side runs them all in one loop nest, element by
// element — the lowering's GEMM only takes a statement with one sum. Each sum that is a product of two
// operand groups (a matrix product) is then better computed as an intermediate, by the GEMM, and the
// statement adds the results.
//
// Worked example, a GRU's gate and the gradient of its input:
//   Z[n,k] = sigmoid(sum(d) Wz[k,d]*X[n,d] + sum(j) Uz[k,j]*Hs[n,j] + bz[k])
//   dX[n,d] = sum(k) Z[n,k]*(1 - Z[n,k])*Wz[k,d]*dZ[n,k] + sum(k) … *Wr[k,d]*… + sum(k) … *Wc[k,d]*…
// each sum is a product of a group over n (Z, dZ or X, Hs) and one over k or d (the weights): every
// one becomes an intermediate (WzX[n,k] = sum(d) …, a GEMM), and Z = sigmoid(WzX + UzHs + bz) runs
// over N·M elements instead of N·M·(D + M) steps of scalar loops.
import { idxAsVar } from '../ir/affine.js';
import { children, freeIndices } from '../ir/exprs.js';
import type { Expr, Statement } from '../ir/types.js';

type Reduce = Extract<Expr, { kind: 'reduce' }>;

/** The sums of a statement's right side that no other reduction encloses (the right side itself
 *  excluded: a statement that is one sum is the GEMM's already). */
export function outerSums(s: Statement): Reduce[] {
  const out: Reduce[] = [];
  const go = (x: Expr, root: boolean) => {
    if (x.kind === 'reduce' || x.kind === 'argmax' || x.kind === 'matfn') {
      if (!root && x.kind === 'reduce' && x.op === 'sum') out.push(x);
      return;
    }
    for (const c of children(x)) go(c, false);
  };
  go(s.rhs, true);
  return out;
}

const factorsOf = (e: Expr): Expr[] => (e.kind === 'mul' ? e.factors.flatMap(factorsOf) : e.kind === 'neg' ? factorsOf(e.arg) : [e]);

/** Only plain index subscripts (A[k,d], not X[2*u+i] or E[tok[n]]) and no reduction inside. */
function plainReads(e: Expr): boolean {
  if (e.kind === 'reduce' || e.kind === 'argmax' || e.kind === 'matfn' || e.kind === 'index') return false;
  if (e.kind === 'access' && !e.subs.every((x) => idxAsVar(x) !== undefined)) return false;
  return children(e).every(plainReads);
}

/**
 * Is `r` a matrix product: a sum of factors that fall in exactly two groups, each over left-side
 * indices of its own (rows and columns), joined only by the summed indices?
 */
export function isMatrixProduct(r: Reduce): boolean {
  if (r.op !== 'sum' || r.body.kind !== 'mul' || !plainReads(r.body)) return false;
  const summed = new Set(r.indices.map((b) => b.name));
  const groups: Set<string>[] = [];
  for (const f of factorsOf(r.body)) {
    const mine = freeIndices(f).filter((v) => !summed.has(v));
    if (mine.length === 0) continue;
    const joined = groups.filter((g) => mine.some((v) => g.has(v)));
    const merged = new Set([...mine, ...joined.flatMap((g) => [...g])]);
    for (const g of joined) groups.splice(groups.indexOf(g), 1);
    groups.push(merged);
  }
  return groups.length === 2 && freeIndices(r.body).some((v) => summed.has(v));
}

/** A stem for the intermediate's name from the two tensors read first (WzX), or 'mm'. */
export function productStem(r: Reduce): string {
  const names = factorsOf(r.body).flatMap((f) => (f.kind === 'access' && /^[A-Za-z][A-Za-z0-9]*$/.test(f.tensor) ? [f.tensor] : []));
  const stem = names.slice(0, 2).join('');
  return names.length >= 2 && stem.length <= 8 ? stem : 'mm';
}
