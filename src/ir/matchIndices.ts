// matchIndices: is an expression a pattern with its free indices replaced — and by what?
//
// Worked example: the pattern exp(S[h,i,j] - logsumexp(j2) S[h,i,j2]) with the indices h, i, j
// free matches exp(S[h,i,t] - logsumexp(j3) S[h,i,j3]) under h := h, i := i, j := t: the bound
// indices correspond by position (j2 with j3), the free ones are bound at their first plain use and
// checked at every other. The differentiator uses it to read a forward value, A[h,i,t], where a
// gradient would compute it again (reuseForward.ts).
import { idxKey, idxRename, idxSubstitute, idxVars } from './affine.js';
import { exprHash } from './exprs.js';
import { sizeKey } from './sizes.js';
import { assertNever, type Expr, type IndexExpr } from './types.js';

/** The substitution σ of `vars` under which `pattern` is `target`, or undefined. Operands match in
 *  order (no commutativity); an index of the pattern that is not a plain variable is checked once
 *  every variable has its value. */
export function matchIndices(pattern: Expr, target: Expr, vars: ReadonlySet<string>): Map<string, IndexExpr> | undefined {
  if (exprHash(pattern) !== exprHash(target)) return undefined;
  const bind = new Map<string, IndexExpr>();
  const pending: [IndexExpr, IndexExpr][] = [];
  /** target indices bound inside the match: σ may not name them (they mean nothing outside it) */
  const inner = new Set<string>();

  // the pattern's variables as placeholders, and its bound indices as the target's: the two may
  // use the same names (a pattern's free j beside the target's bound j)
  const hole = (v: string) => `\u0001${v}`;
  const index = (p: IndexExpr, t: IndexExpr, alpha: ReadonlyMap<string, string>): boolean => {
    const names = new Map<string, string>();
    for (const x of idxVars(p)) names.set(x, alpha.get(x) ?? (vars.has(x) ? hole(x) : x));
    const q = idxRename(p, names);
    const only = q.terms.length === 1 && q.constant.size === 0 ? q.terms[0]! : undefined;
    const v = only && only.atom.kind === 'var' && only.atom.name.startsWith('\u0001') && only.coef.size === 1 && only.coef.get('') === 1 ? only.atom.name : undefined;
    if (v !== undefined && !bind.has(v)) {
      if (idxVars(t).some((x) => inner.has(x))) return false;
      bind.set(v, t);
      return true;
    }
    pending.push([q, t]);
    return true;
  };

  const go = (p: Expr, t: Expr, alpha: ReadonlyMap<string, string>): boolean => {
    if (p.kind !== t.kind) return false;
    switch (p.kind) {
      case 'num':
        return Object.is(p.value, (t as typeof p).value);
      case 'sizeval':
        return sizeKey(p.size) === sizeKey((t as typeof p).size);
      case 'index':
        return index(p.expr, (t as typeof p).expr, alpha);
      case 'access': {
        const u = t as typeof p;
        return p.tensor === u.tensor && p.subs.length === u.subs.length && p.subs.every((s, k) => index(s, u.subs[k]!, alpha));
      }
      case 'delta': {
        const u = t as typeof p;
        return index(p.a, u.a, alpha) && index(p.b, u.b, alpha);
      }
      case 'add':
      case 'mul': {
        const ps = p.kind === 'add' ? p.terms : p.factors;
        const ts = t.kind === 'add' ? t.terms : (t as Extract<Expr, { kind: 'mul' }>).factors;
        return ps.length === ts.length && ps.every((x, k) => go(x, ts[k]!, alpha));
      }
      case 'div': {
        const u = t as typeof p;
        return go(p.num, u.num, alpha) && go(p.den, u.den, alpha);
      }
      case 'pow': {
        const u = t as typeof p;
        return go(p.base, u.base, alpha) && go(p.exp, u.exp, alpha);
      }
      case 'neg':
        return go(p.arg, (t as typeof p).arg, alpha);
      case 'compare': {
        const u = t as typeof p;
        return p.op === u.op && go(p.a, u.a, alpha) && go(p.b, u.b, alpha);
      }
      case 'call': {
        const u = t as typeof p;
        return p.fn === u.fn && p.args.length === u.args.length && p.args.every((x, k) => go(x, u.args[k]!, alpha));
      }
      case 'reduce':
      case 'argmax': {
        const u = t as typeof p;
        if (p.op !== u.op || p.indices.length !== u.indices.length) return false;
        if (!p.indices.every((b, k) => sizeKey(b.extent) === sizeKey(u.indices[k]!.extent))) return false;
        const deeper = new Map(alpha);
        p.indices.forEach((b, k) => {
          deeper.set(b.name, u.indices[k]!.name);
          inner.add(u.indices[k]!.name);
        });
        if (p.kind === 'argmax') {
          const at = (u as Extract<Expr, { kind: 'argmax' }>).at;
          if (p.at.length !== at.length || !p.at.every((x, k) => index(x, at[k]!, alpha))) return false;
        }
        return go(p.body, u.body, deeper);
      }
      case 'matfn': {
        // det/logdet/inv of M[p,q] = body: the same function of a matching matrix, at matching indices
        const u = t as typeof p;
        if (p.fn !== u.fn || p.indices.length !== u.indices.length || p.at.length !== u.at.length) return false;
        if (!p.indices.every((b, k) => sizeKey(b.extent) === sizeKey(u.indices[k]!.extent))) return false;
        if (!p.at.every((x, k) => index(x, u.at[k]!, alpha))) return false;
        const deeper = new Map(alpha);
        p.indices.forEach((b, k) => {
          deeper.set(b.name, u.indices[k]!.name);
          inner.add(u.indices[k]!.name);
        });
        return go(p.body, u.body, deeper);
      }
      default:
        return assertNever(p);
    }
  };

  if (!go(pattern, target, new Map())) return undefined;
  for (const [q, t] of pending) {
    let r = q;
    for (const v of idxVars(q)) {
      if (!v.startsWith('\u0001')) continue;
      const by = bind.get(v);
      if (!by) return undefined;
      r = idxSubstitute(r, v, by);
    }
    if (idxKey(r) !== idxKey(t)) return undefined;
  }
  const out = new Map<string, IndexExpr>();
  for (const v of vars) {
    const by = bind.get(hole(v));
    if (by) out.set(v, by);
  }
  return out;
}
