// matmulShape: is a statement a matrix product — Y[rows…, cols…] = epilogue(Σ_ks left(rows, ks)·right(ks, cols))?
// (or a batch of them: Y[b…, rows…, cols…] with both operands reading b)
//
// Worked example: Y[n,f] = sum(d) X[n,d]*W[f,d] + b[f] has rows n (X), columns f (W), contraction d
// and the epilogue `+ b[f]`; the conv forward Y[n,f,u,v] = sum(c,i,j) K[f,c,i,j]*X[n,c,u*T+i-P,v*T+j-P]
// + b[f] has rows f (K), columns n,u,v (X, a multi-index) and is `mixed`: X's subscripts mix output
// and summed indices, an implicit im2col (lowerIm2col.ts). Attention's S[h,i,j] = sum(e) Q[h,i,e]*K[h,j,e]
// is a batch over h of products with rows i, columns j; a grouped conv's Y[n,g,f,u,v] = sum(c,i,j)
// K[g,f,c,i,j]*X[n,g*CG+c,u+i-P,v+j-P] a batch over g of mixed ones.
import { children, freeIndices } from '../ir/exprs.js';
import type { Bound, Expr, Statement } from '../ir/types.js';
import { reductionsIn } from './kernelScope.js';

export interface MatmulShape {
  /** indices both operands read (a head of multi-head attention): one GEMM for each of their values */
  readonly batch: readonly Bound[];
  /** row, column and contraction indices: several make a multi-index (conv: columns n,u,v) */
  readonly rows: readonly Bound[];
  readonly cols: readonly Bound[];
  readonly ks: readonly Bound[];
  readonly reduction: Extract<Expr, { kind: 'reduce' }>;
  readonly left: Expr[];
  readonly right: Expr[];
  /** an operand read mixes a left-side and a summed index (a convolution's implicit im2col) */
  readonly mixed: boolean;
}

/**
 * Y[rows…, cols…] = epilogue(Σ_{ks} left(rows, ks)·right(ks, cols))? The factors of the sum fall in
 * two groups that share no left-side index; each group's left-side indices become the rows or the
 * columns (several make a multi-index: a batched Y[b,i,j] = Σ_k A[b,i,k]·B[k,j] has rows b,i).
 * Subscripts must be plain or affine in one kind of index: a subscript mixing a left-side and a
 * summed index (a convolution) is left to the direct loops.
 */
export function matmulShape(s: Statement, descending = false): MatmulShape | undefined {
  if (s.lhs.length < 2) return undefined;
  const found: Expr[] = [];
  const walk = (e: Expr) => {
    if (e.kind === 'reduce' || e.kind === 'argmax' || e.kind === 'matfn') {
      found.push(e);
      return;
    }
    for (const c of children(e)) walk(c);
  };
  walk(s.rhs);
  if (found.length !== 1 || found[0]!.kind !== 'reduce') return undefined;
  const r = found[0] as Extract<Expr, { kind: 'reduce' }>;
  if (r.op !== 'sum') return undefined;
  const lhs = s.lhs.map((b) => b.name);
  const ks = r.indices.map((b) => b.name);
  const factors = r.body.kind === 'mul' ? r.body.factors : [r.body];
  // batch indices: left-side indices every operand reads (A[b,i,k]*X[b,k,j]); a GEMM runs per value
  const reading = factors.map((f) => freeIndices(f).filter((v) => lhs.includes(v))).filter((vs) => vs.length > 0);
  const batch = reading.length ? lhs.filter((v) => reading.every((vs) => vs.includes(v))) : [];
  const groups: { vars: Set<string>; factors: Expr[] }[] = [];
  const free: Expr[] = [];
  let mixed = false;
  for (const f of factors) {
    // an arg-max indicator may be an operand: lowerMatmul's probe keeps it only when it is a read of
    // the forward's record (maxout's gradient), not loops of its own
    if (containsReduce(f)) return undefined;
    if (!readsAreDense(f, lhs, ks)) {
      if (!readsAreMonotone(f, descending)) return undefined;
      mixed = true;
    }
    const fv = freeIndices(f);
    if (fv.some((v) => !lhs.includes(v) && !ks.includes(v))) return undefined;
    const mine = fv.filter((v) => lhs.includes(v) && !batch.includes(v));
    if (mine.length === 0) {
      free.push(f);
      continue;
    }
    const joined = groups.filter((g) => mine.some((v) => g.vars.has(v)));
    const merged = { vars: new Set([...mine, ...joined.flatMap((g) => [...g.vars])]), factors: [...joined.flatMap((g) => g.factors), f] };
    for (const g of joined) groups.splice(groups.indexOf(g), 1);
    groups.push(merged);
  }
  if (groups.length !== 2) return undefined;
  // every left-side index must be a batch index, a row or a column (a grouped convolution's group is
  // a batch: lowerIm2col runs one GEMM per group)
  if (!lhs.every((v) => batch.includes(v) || groups.some((g) => g.vars.has(v)))) return undefined;
  // rows: the group with fewer indices (the filters of a conv); on a tie the one holding the first index
  const [g0, g1] = groups as [(typeof groups)[0], (typeof groups)[0]];
  const first = (g: (typeof groups)[0]) => Math.min(...[...g.vars].map((v) => lhs.indexOf(v)));
  const rowsG = g0.vars.size !== g1.vars.size ? (g0.vars.size < g1.vars.size ? g0 : g1) : first(g0) < first(g1) ? g0 : g1;
  const colsG = rowsG === g0 ? g1 : g0;
  const pick = (g: (typeof groups)[0]) => s.lhs.filter((b) => g.vars.has(b.name));
  return { batch: s.lhs.filter((b) => batch.includes(b.name)), rows: pick(rowsG), cols: pick(colsG), ks: r.indices, reduction: r, left: [...free, ...rowsG.factors], right: colsG.factors, mixed };
}

/** Reads whose subscripts are sums of indices with positive coefficients (numbers or sizes) plus a
 * constant, as a convolution's X[n, c, u*T+i-P, v*T+j-P]: each subscript's range is then [constant,
 * constant + Σ coefficient·(extent − 1)], which lowerIm2col pads to. With `descending`, negative
 * coefficients too (a residue class of a conv input gradient reads dY[n, f, first+h-u, …]), whose
 * terms reach down instead. A summed index running backwards could read mostly zeros (K[f,c,h+P-u*T]
 * over all of u), so only splitResidueClasses, which bounds such indices by the taps, asks for it. */
function readsAreMonotone(e: Expr, descending: boolean): boolean {
  let ok = true;
  const visit = (x: Expr) => {
    if (x.kind === 'index') ok = false;
    if (x.kind === 'argmax') return;
    if (x.kind === 'access')
      for (const sub of x.subs)
        for (const t of sub.terms) {
          const signs = [...t.coef.values()];
          const uniform = signs.every((v) => v > 0) || (descending && signs.every((v) => v < 0));
          if (t.atom.kind !== 'var' || !uniform) ok = false;
        }
    children(x).forEach(visit);
  };
  visit(e);
  return ok;
}

/** No quotient/remainder subscripts, and no left-side index mixed with a summed one. */
function readsAreDense(e: Expr, lhs: readonly string[], ks: readonly string[]): boolean {
  let ok = true;
  const visit = (x: Expr) => {
    if (x.kind === 'access') {
      x.subs.forEach((sub) => {
        if (sub.terms.some((t) => t.atom.kind !== 'var')) ok = false;
        const vs = sub.terms.map((t) => (t.atom as { name: string }).name);
        // a left-side index mixed with a summed one (the implicit im2col of a convolution) would
        // need a padding test per packed element: such statements keep the direct loops, whose
        // bounds come from the padding instead
        if (vs.some((v) => lhs.includes(v)) && vs.some((v) => ks.includes(v))) ok = false;
      });
    }
    if (x.kind === 'index') ok = false;
    if (x.kind === 'argmax') return;
    children(x).forEach(visit);
  };
  visit(e);
  return ok;
}

/** A reduction anywhere in e (an arg-max's body does not count: a recorded arg-max never runs it). */
function containsReduce(e: Expr): boolean {
  if (e.kind === 'reduce') return true;
  if (e.kind === 'argmax') return false;
  return children(e).some(containsReduce);
}

/** A product of factors as one expression. */
export const product = (fs: readonly Expr[]): Expr => (fs.length === 1 ? fs[0]! : { kind: 'mul', factors: fs });
