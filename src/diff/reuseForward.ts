// reuseForward: a gradient reads a value the forward pass computed instead of computing it again.
//
// Worked example (attention, A[h,i,j] = exp(S[h,i,j] - logsumexp(j2) S[h,i,j2])): delta
// elimination leaves, inside dS[h,i,t],
//   sum(j) -A[h,i,j]*exp(S[h,i,t] - logsumexp(j3) S[h,i,j3])*dA[h,i,j]
// whose exp(…) is A's right side with j := t — it is A[h,i,t], one read instead of a logsumexp over
// a row for every (t, j): sum(j) -A[h,i,j]*A[h,i,t]*dA[h,i,j]. The differentiator already reads Y
// for the statement it differentiates at Y's own indices (σ(x) → Y); this finds any forward value
// at any indices, after the δ's are solved.
// A read replaces an expression only where it reads the same numbers: each index of the read must be
// an index running over exactly that dimension (a read outside a tensor is 0, the expression is not).
import { idxAsVar } from '../ir/affine.js';
import { access, exprHash, mapChildren } from '../ir/exprs.js';
import { matchIndices } from '../ir/matchIndices.js';
import { printExpr } from '../ir/print.js';
import { sizeEquals } from '../ir/sizes.js';
import type { Expr, ExprKind, IndexExpr, SizeExpr, Statement } from '../ir/types.js';

/** Forward statements by the hash of their right side (which leaves indices out). */
export interface ForwardValues {
  readonly byHash: ReadonlyMap<number, readonly Statement[]>;
  /** the kinds of those right sides: a node of another kind matches none, and is not hashed (a small
   *  subtree's hash is not kept, so hashing at every node walks each subtree again) */
  readonly kinds: ReadonlySet<ExprKind>;
}

/** shared: most nodes match no forward value, and an empty array a node is garbage for nothing */
const NO_STATEMENTS: readonly Statement[] = [];

const trivial = (e: Expr) => e.kind === 'access' || e.kind === 'num' || e.kind === 'index' || e.kind === 'sizeval';

export function forwardValues(statements: readonly Statement[]): ForwardValues {
  const byHash = new Map<number, Statement[]>();
  const kinds = new Set<ExprKind>();
  for (const s of statements) {
    if (trivial(s.rhs)) continue;
    kinds.add(s.rhs.kind);
    const h = exprHash(s.rhs);
    const list = byHash.get(h);
    if (list) list.push(s);
    else byHash.set(h, [s]);
  }
  return { byHash, kinds };
}

/** `e` with every forward value it computes again replaced by a read of it; `extents` gives the
 *  range of e's free indices. `log` hears of each replacement. */
export function reuseForward(e: Expr, fv: ForwardValues, extents: ReadonlyMap<string, SizeExpr>, log?: (line: string) => void): Expr {
  if (fv.byHash.size === 0) return e;
  const go = (x: Expr, env: ReadonlyMap<string, SizeExpr>): Expr => {
    if (fv.kinds.has(x.kind)) {
      for (const s of fv.byHash.get(exprHash(x)) ?? NO_STATEMENTS) {
        const read = readOf(s, x, env);
        if (read) {
          log?.(`${printExpr(x)} is the forward value ${printExpr(read)}`);
          return read;
        }
      }
    }
    if (x.kind === 'reduce' || x.kind === 'argmax') {
      const inner = new Map(env);
      for (const b of x.indices) inner.set(b.name, b.extent);
      return mapChildren(x, (c) => go(c, inner));
    }
    return mapChildren(x, (c) => go(c, env));
  };
  return go(e, extents);
}

/** s's tensor at σ(lhs) when x is s's right side under σ, and σ names whole dimensions. */
function readOf(s: Statement, x: Expr, env: ReadonlyMap<string, SizeExpr>): Expr | undefined {
  const sigma = matchIndices(s.rhs, x, new Set(s.lhs.map((b) => b.name)));
  if (!sigma) return undefined;
  const subs: IndexExpr[] = [];
  for (const b of s.lhs) {
    const by = sigma.get(b.name);
    const v = by && idxAsVar(by);
    const extent = v !== undefined ? env.get(v) : undefined;
    if (!by || !extent || !sizeEquals(extent, b.extent)) return undefined;
    subs.push(by);
  }
  return access(s.tensor, subs);
}
