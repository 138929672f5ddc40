// matchRecorded: is an arg-max indicator of a gradient the arg-max of a forward max (min) reduction
// whose positions the forward pass recorded? Then the gradient compares positions with the record
// instead of searching the window again.
//
// Worked example: forward Y[n,c,h,w] = max(i:2, j:2) X[n,c,2h+i,2w+j] records Y_argmax. The
// gradient's indicator argmax(i2:2, j2:2 @ h%2, w%2) X[n,c,2*(h/2)+i2,2*(w/2)+j2] matches it at
// Y[n, c, h/2, w/2]: the window's position, found by matching subscripts and checked by
// substituting back. A max over other ranges (3 wide, not 2), or whose window would move with its own
// index (X[u+2i] against X[u'+i]: u = u'−i), is another reduction and does not match.
import { idxDiv, idxKey, idxRename, idxSub, idxVars } from '../ir/affine.js';
import { children, exprKey, renameIndices, substituteIndex } from '../ir/exprs.js';
import { polyConstValue, sizeEquals } from '../ir/sizes.js';
import type { Expr, IndexExpr, Statement } from '../ir/types.js';
import { negateIndex } from './boundsFromPadding.js';

type Indicator = Extract<Expr, { kind: 'argmax' }>;

/** The recorded tensor and where to read its record, or undefined. */
export function matchRecorded(records: ReadonlyMap<string, Statement>, x: Indicator): { tensor: string; at: IndexExpr[] } | undefined {
  for (const [tensor, st] of records) {
    const r = st.rhs;
    // the same reduction: same op over the same ranges (a 3-wide and a 2-wide max of one input
    // match body for body, but record different arg-maxes)
    if (r.kind !== 'reduce' || r.op !== x.op || r.indices.length !== x.indices.length) continue;
    if (r.indices.some((b, i) => !sizeEquals(b.extent, x.indices[i]!.extent))) continue;
    const at = matchForward(st, x);
    if (at) return { tensor, at };
  }
  return undefined;
}

/**
 * Forward `Y[l] = max(i) body(l, i)` and an indicator argmax(i' @ at) body': the left-side values E
 * with body(E, i') = body', by matching subscripts; undefined when there are none.
 */
function matchForward(st: Statement, x: Indicator): IndexExpr[] | undefined {
  const r = st.rhs as Extract<Expr, { kind: 'reduce' }>;
  const bound = new Map(r.indices.map((b, i) => [b.name, x.indices[i]!.name] as const));
  const lhs = st.lhs.map((b) => b.name);
  const pats: IndexExpr[] = [];
  const tgts: IndexExpr[] = [];
  const collect = (p: Expr, t: Expr): boolean => {
    if (p.kind !== t.kind) return false;
    if (p.kind === 'access' && t.kind === 'access') {
      if (p.tensor !== t.tensor || p.subs.length !== t.subs.length) return false;
      pats.push(...p.subs);
      tgts.push(...t.subs);
      return true;
    }
    const pc = children(p);
    const tc = children(t);
    return pc.length === tc.length && pc.every((q, i) => collect(q, tc[i]!)) && (p.kind !== 'num' || (t as { value: number }).value === p.value);
  };
  if (!collect(r.body, x.body)) return undefined;
  const sol = new Map<string, IndexExpr>();
  for (let k = 0; k < pats.length; k++) {
    const p = pats[k]!;
    const ls = idxVars(p).filter((name) => lhs.includes(name));
    if (ls.length === 0) continue;
    if (ls.length > 1) return undefined;
    const l = ls[0]!;
    const term = p.terms.find((t) => t.atom.kind === 'var' && t.atom.name === l);
    const coef = term ? polyConstValue(term.coef) : undefined;
    if (!term || coef === undefined || coef === 0) return undefined;
    // target − (pattern without l, bound renamed) = coef·E
    const rest = idxRename({ terms: p.terms.filter((t) => t !== term), constant: p.constant }, bound);
    const e = scaleDown(idxSub(tgts[k]!, rest), coef);
    if (!e) return undefined;
    const prev = sol.get(l);
    if (prev && idxKey(prev) !== idxKey(e)) return undefined;
    sol.set(l, e);
  }
  if (lhs.some((l) => !sol.has(l))) return undefined;
  // the window's position cannot depend on the window's own indices
  const inner = new Set(x.indices.map((b) => b.name));
  if ([...sol.values()].some((e) => idxVars(e).some((name) => inner.has(name)))) return undefined;
  // verify: substituting the solution into the forward body gives the indicator's body
  let check: Expr = renameIndices(r.body, bound);
  for (const l of lhs) check = substituteIndex(check, l, sol.get(l)!);
  if (exprKey(check) !== exprKey(x.body)) return undefined;
  return lhs.map((l) => sol.get(l)!);
}

function scaleDown(e: IndexExpr, k: number): IndexExpr | undefined {
  if (k === 1) return e;
  const q = idxDiv(e, new Map([['', Math.abs(k)]]));
  // e = k·(something/k) form: 2*(h/2) divided by 2 is h/2
  if (q.terms.some((t) => t.atom.kind === 'div' && idxKey(t.atom.of) === idxKey(e))) return undefined;
  return k < 0 ? negateIndex(q) : q;
}
