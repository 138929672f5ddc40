// lowerReduction: sum, mean, max, min and logsumexp over their indices → an accumulator and loops.
//
// Worked example, softmax's row logsumexp(c) S[n,c] (n bound outside):
//   let $max = -∞;  for c … { if (S[n,c] > $max) $max = S[n,c] }
//   let $acc = 0;   for c … { $acc += exp(S[n,c] − $max) }
//   let $log = $max == −∞ ? 0 : log($acc);  logsumexp = $max + $log   (a row of −∞ stays −∞)
// Sums skip their zero terms: zero-padded reads and range guards bound the loops
// (boundsFromPadding.ts), and the innermost loop is marked for unrolling into partial sums. Max, min
// and logsumexp see padded zeros, so their loops cannot shrink; instead, when the whole window lies
// inside the tensor (the usual case) a second copy of the loops runs without read checks.
// Max and min start from their identity and keep the first of equal values; with `recordArg` the
// flat position of that first arg-max is kept too (max pooling's record).
import { idxVars } from '../ir/affine.js';
import { polyConstValue, sizeTryEval } from '../ir/sizes.js';
import { assertNever, type Bound, type Expr, type IndexExpr } from '../ir/types.js';
import { add, addTo, all, assign, c, call, div, eq, ge, gt, if_, le, let_, lt, mul, select, sub, sym, v } from '../loop/build.js';
import type { LExpr, LStmt } from '../loop/types.js';
import { boundsFrom, loopOrder } from './boundsFromPadding.js';
import { accessKey } from './kernelScope.js';
import type { Lowered, Lowering, Reduce, Vars } from './lowering.js';

/** The condition under which every direct read of a window body is inside its tensor. */
function fullWindow(L: Lowering, body: Expr, nest: readonly Bound[], outer: Vars): { cond: LExpr; keys: string[] } | undefined {
  const { scope } = L;
  const names = nest.map((b) => b.name);
  const factors = body.kind === 'mul' ? body.factors : [body];
  const conds: LExpr[] = [];
  const keys: string[] = [];
  for (const f of factors) {
    if (f.kind !== 'access') continue;
    const shape = scope.ctx.shapeOf(f.tensor);
    let ok = true;
    f.subs.forEach((s, d) => {
      if (!ok || scope.subscriptInRange(s, shape[d]!)) return;
      const vs = idxVars(s).filter((x) => names.includes(x));
      const t = s.terms.find((x) => x.atom.kind === 'var' && vs.includes(x.atom.name));
      const k = t ? polyConstValue(t.coef) : undefined;
      if (vs.length !== 1 || !t || k !== 1) return void (ok = false);
      const rest: IndexExpr = { terms: s.terms.filter((x) => x !== t), constant: s.constant };
      if (idxVars(rest).some((x) => names.includes(x))) return void (ok = false);
      const ext = nest.find((b) => b.name === vs[0])!.extent;
      // 0 ≤ rest and rest + extent − 1 ≤ dim − 1
      const r = scope.index(rest, outer);
      conds.push(ge(r, c(0)), le(add(r, scope.sizeExpr(ext)), scope.dim(f.tensor, d)));
    });
    if (!ok) return undefined;
    keys.push(accessKey(f));
  }
  if (!conds.length || !keys.length) return undefined;
  return { cond: all(conds), keys };
}

export function lowerReduction(L: Lowering, reduceNode: Reduce, outer: Vars, recordArg: boolean): Lowered & { arg?: LExpr } {
  const { scope } = L;
  const F = scope.F;
  let r = reduceNode;
  r.indices.forEach((b) => scope.extentOf.set(b.name, b.extent));
  const out: LStmt[] = [];
  // sums may skip terms that are 0: zero-padded reads and range guards bound the loops
  const tightenable = scope.opts.optimize && (r.op === 'sum' || r.op === 'mean');
  if (tightenable) r = { ...r, indices: loopOrder(scope, r) };
  const bounds = tightenable ? boundsFrom(scope, r.body, r.indices) : { body: r.body, constraints: [], residues: [], proven: [] };
  const added = bounds.proven.filter((k) => !scope.proven.has(k));
  added.forEach((k) => scope.proven.add(k));
  const plainLoop = (each: (value: LExpr, vars: Vars) => readonly LStmt[]) =>
    L.nest(r.indices, outer, bounds.body, (vars, hoisted) => {
      const e = L.expr(bounds.body, vars, hoisted);
      return [...e.stmts, ...each(e.value, vars)];
    }, { constraints: bounds.constraints, residues: bounds.residues, unrollSum: tightenable });
  const window = !tightenable && scope.opts.optimize ? fullWindow(L, bounds.body, r.indices, outer) : undefined;
  const loop = (each: (value: LExpr, vars: Vars) => readonly LStmt[]): LStmt[] => {
    if (!window) return plainLoop(each);
    const fresh = window.keys.filter((k) => !scope.proven.has(k));
    fresh.forEach((k) => scope.proven.add(k));
    const fast = plainLoop(each);
    fresh.forEach((k) => scope.proven.delete(k));
    const slow = plainLoop(each);
    const inside = sym('$inside', 'bool');
    return [let_(inside, window.cond), ...if_(v(inside), fast, slow)];
  };
  const done = () => added.forEach((k) => scope.proven.delete(k));
  switch (r.op) {
    case 'sum':
    case 'mean': {
      const acc = sym('$acc', F);
      out.push(let_(acc, c(0, F), true));
      out.push(...loop((x) => [addTo(acc, x)]));
      done();
      if (r.op === 'sum') return { stmts: out, value: v(acc) };
      // the mean of no terms is 0, as their sum is (not 0/0)
      const count = r.indices.reduce((m, b) => mul(m, scope.sizeExpr(b.extent)), c(1));
      const known = r.indices.map((b) => sizeTryEval(b.extent, new Map())).reduce<number | undefined>((a, b) => (a === undefined || b === undefined ? undefined : a * b), 1);
      const mean = div(v(acc), scope.float(count));
      return { stmts: out, value: known ? mean : select(eq(count, c(0)), c(0, F), mean) };
    }
    case 'max':
    case 'min': {
      // over no terms (or only −∞ terms) the max is −∞, the min +∞: their identities
      const acc = sym('$acc', F);
      out.push(let_(acc, c(r.op === 'max' ? -Infinity : Infinity, F), true));
      const arg = recordArg ? sym('$arg', 'i32') : undefined;
      if (arg) out.push(let_(arg, c(0), true));
      const flat = (vars: Vars) => r.indices.reduce((a, b, i) => add(a, mul(vars.get(b.name)!, r.indices.slice(i + 1).reduce((m, y) => mul(m, scope.sizeExpr(y.extent)), c(1)))), c(0));
      out.push(
        ...loop((x, vars) => {
          const t = sym('$v', F);
          const better = r.op === 'max' ? gt(v(t), v(acc)) : lt(v(t), v(acc));
          return [let_(t, x), ...if_(better, [assign(acc, v(t)), ...(arg ? [assign(arg, flat(vars))] : [])])];
        }),
      );
      done();
      return { stmts: out, value: v(acc), ...(arg ? { arg: v(arg) } : {}) };
    }
    case 'prod': {
      // the product of no terms is 1; a padded read is a factor 0, as in the interpreter
      const acc = sym('$acc', F);
      out.push(let_(acc, c(1, F), true));
      out.push(...loop((x) => [assign(acc, mul(v(acc), x))]));
      done();
      return { stmts: out, value: v(acc) };
    }
    case 'logsumexp': {
      // stable: subtract the maximum before exponentiating
      const m = sym('$max', F);
      out.push(let_(m, c(-Infinity, F), true));
      out.push(...loop((x) => if_(gt(x, v(m)), [assign(m, x)])));
      const acc = sym('$acc', F);
      out.push(let_(acc, c(0, F), true));
      out.push(...loop((x) => [addTo(acc, call('exp', F, [sub(x, v(m))]))]));
      done();
      // logsumexp = $max + $log, left as that sum: x − logsumexp is then (x − $max) − $log (build.ts's
      // sub), exact where x is near the maximum — $max + $log rounded first loses the digits of $log
      // at the maximum's magnitude (float32 at scores ~1000: 3e-5). A row of −∞ (or no terms) has
      // $log 0, so −∞, not −∞ + log(NaN).
      const l = sym('$log', F);
      out.push(let_(l, select(eq(v(m), c(-Infinity, F)), c(0, F), call('log', F, [v(acc)]))));
      return { stmts: out, value: add(v(m), v(l)) };
    }
    default:
      return assertNever(r.op);
  }
}
