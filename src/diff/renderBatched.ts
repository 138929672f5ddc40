// renderBatched: a statement whose every tensor read starts with the left side's first index b (and
// uses b nowhere else) is a
// batch of smaller statements, one per b — each printed by the other patterns with its tensors as
// slices T[b] (the slice notation of the convolution forms: T[b] is T with its first index fixed).
//
// Worked example: attention's dQ[h,i,e] = sum(j) K[h,j,e]*dS[h,i,j]/sqrt(E) reads every tensor at h
// first, so per head it is dQ[i,e] = Σ_j K[j,e]·dS[i,j]/√E, the product dS·K:
//   dQ[h] = dS[h]·K[h]/sqrt(E)
// and cosine similarity of rows, S[n] = X[n]ᵀ·Y[n]/(‖X[n]‖·‖Y[n]‖), has the vector gradient per row.
import { idxAsVar, idxVars } from '../ir/affine.js';
import { allIndexNames, mapChildren } from '../ir/exprs.js';
import type { Expr, SizeExpr, Statement } from '../ir/types.js';

type Shapes = (tensor: string) => readonly SizeExpr[] | undefined;
export interface BatchedForm {
  readonly text: string;
  readonly latex: string;
  readonly source?: string;
  readonly pattern: string;
}

/** T[b, rest…] → the slice `T[b]` read at rest…; null when b appears any other way. */
function strip(e: Expr, b: string): Expr | null {
  let ok = true;
  let slices = 0;
  const walk = (x: Expr): Expr => {
    if (!ok) return x;
    if (x.kind === 'access') {
      if (x.subs.length === 0) return x;
      // every tensor with subscripts is sliced: one read whole (Σ_k X[k,c]) would mix the batch
      if (idxAsVar(x.subs[0]!) !== b || x.subs.slice(1).some((s) => idxVars(s).includes(b))) {
        ok = false;
        return x;
      }
      slices++;
      return { kind: 'access', tensor: `${x.tensor}[${b}]`, subs: x.subs.slice(1) };
    }
    return mapChildren(x, walk);
  };
  const out = walk(e);
  return ok && slices > 0 && !allIndexNames(out).includes(b) ? out : null;
}

/** The statement per element of its first index, rendered by `render` (every pattern, this one included). */
export function batched(s: Statement, shapes: Shapes, render: (s: Statement, shapes: Shapes) => BatchedForm | null): BatchedForm | null {
  if (s.lhs.length < 2) return null;
  const b = s.lhs[0]!.name;
  const rhs = strip(s.rhs, b);
  if (!rhs) return null;
  const slice = `${s.tensor}[${b}]`;
  const sliceShapes: Shapes = (t) => {
    const m = /^(.*)\[(\w+)\]$/.exec(t);
    return m ? shapes(m[1]!)?.slice(1) : shapes(t);
  };
  return render({ ...s, tensor: slice, lhs: s.lhs.slice(1), rhs }, sliceShapes);
}
