// findInPlace: which outputs may share their memory with which inputs, so that a caller can update a
// tensor in place (sgd's `out: { Wnew: W }`) — and every other sharing is refused before a kernel runs.
//
// Worked example: in
//   Vnew[i] = mu*V[i] - lr*G[i]
//   Wnew[i] = W[i] + Vnew[i]
// Vnew may take V's array and Wnew W's: each element is read, then written at the same place, and
// no later statement reads V or W. (A gradient that reads V — dmu does — then sees the new values:
// the operator refuses such a backward, see operator.ts.) In a matrix product
// Y[i,j] = sum(k) A[i,k]*X[k,j], Y may take no input's array: the GEMM writes Y blocks while later
// blocks still read X (an error of 24 at n = 300 before this check existed).
import { idxAsVar } from '../ir/affine.js';
import { children, tensorsRead } from '../ir/exprs.js';
import { sizeEquals } from '../ir/sizes.js';
import type { Expr, Program, Statement } from '../ir/types.js';

/** output or intermediate → the inputs whose arrays it may be written into */
export type InPlace = Record<string, readonly string[]>;

/** Every read of `tensor` in `e` is at exactly the statement's left-side indices, in order, and no
 * reduction or arg-max sits anywhere in `e` (a pure elementwise map reads before it writes). */
function readsOnlyInPlace(s: Statement, e: Expr, tensor: string): boolean {
  if (e.kind === 'reduce' || e.kind === 'argmax' || e.kind === 'delta' || e.kind === 'matfn') return false;
  if (e.kind === 'access' && e.tensor === tensor)
    return e.subs.length === s.lhs.length && e.subs.every((sub, d) => idxAsVar(sub) === s.lhs[d]!.name);
  return children(e).every((c) => readsOnlyInPlace(s, c, tensor));
}

export function findInPlace(p: Program): InPlace {
  const shape = new Map(p.tensors.map((t) => [t.name, t.shape] as const));
  const sameShape = (a: string, b: string) => {
    const x = shape.get(a)!;
    const y = shape.get(b)!;
    return x.length === y.length && x.every((d, k) => sizeEquals(d, y[k]!));
  };
  const out: InPlace = Object.create(null) as InPlace;
  // what each statement reads, and the last statement that reads each tensor: found once, not once
  // per statement (a chain of 800 layers would walk every later statement at each)
  const reads = p.statements.map((s) => tensorsRead(s.rhs));
  const lastRead = new Map<string, number>();
  reads.forEach((r, k) => r.forEach((t) => lastRead.set(t, k)));
  const inputAt = new Map(p.tensors.filter((t) => t.role === 'input' && t.shape.length > 0).map((t, i) => [t.name, i] as const));
  p.statements.forEach((s, k) => {
    // a scatter-add writes into its tensor's array, which an earlier statement made
    if (s.scatter) return;
    const ok = reads[k]!
      .filter((x) => inputAt.has(x))
      .sort((a, b) => inputAt.get(a)! - inputAt.get(b)!)
      .filter((x) => sameShape(x, s.tensor) && readsOnlyInPlace(s, s.rhs, x) && lastRead.get(x)! <= k);
    if (ok.length) out[s.tensor] = ok;
  });
  return out;
}
