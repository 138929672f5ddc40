// lowerGpuReduction: a statement that is one long reduction per output element (a loss, a bias
// gradient) → one workgroup per output element: its invocations stride through the reduced
// positions, each keeping a partial result, and then combine them in workgroup memory as a tree
// (64 → 32 → … → 1, a barrier between levels). Max and min keep the first arg-max of row-major
// order (ties go to the smaller position), so a recorded max pools the same window position as on
// the CPU.
//
// Worked example, the bias gradient db[f] = sum(n,u,v) dY[n,f,u,v]:
//   for f parallel:                                      (a workgroup per f)
//     alloc $red[64] workgroup
//     for $t in [0, 64) workgroup:
//       let $acc = 0;  for q in [$t, N·U·V) by 64 { $acc += dY[n(q), f, u(q), v(q)] }
//       $red[$t] = $acc; barrier
//       if ($t < 32) $red[$t] += $red[$t + 32]; barrier   … down to 1
//       if ($t == 0) db[f] = $red[0]
// It takes statements whose right side holds one reduction outside any other, when the reduction
// runs over at least as many indices of unknown or large extent as the output has (db[f]: three for
// one; a scalar loss always); a short window (max pooling's 2×2) stays one invocation per element.
import { idxVar } from '../../ir/affine.js';
import { children, exprKey } from '../../ir/exprs.js';
import { sizeTryEval } from '../../ir/sizes.js';
import type { Expr, SizeExpr, Statement } from '../../ir/types.js';
import { add, addTo, and, assign, buffer, c, call, div, eq, for_, gt, if_, let_, load, lt, or, select, store, sub, sym, v } from '../../loop/build.js';
import type { LExpr, LStmt } from '../../loop/types.js';
import { argmaxName } from '../kernelScope.js';
import type { Lowering, Reduce, Vars } from '../lowering.js';
import { extentOf, unflatten } from './unflatten.js';

/** invocations per workgroup */
export const REDUCE_WG = 64;

/** Small enough to stay a serial loop of one invocation. */
const short = (e: SizeExpr, defaults: ReadonlyMap<string, number>) => {
  const x = sizeTryEval(e, defaults);
  return x !== undefined && x <= 16;
};

export function lowerGpuReduction(L: Lowering, s: Statement): LStmt[] | undefined {
  const { scope } = L;
  const tops = topReductions(s.rhs);
  if (tops.length !== 1 || tops[0]!.kind !== 'reduce') return undefined;
  const r = tops[0] as Reduce;
  const long = r.indices.filter((b) => !short(b.extent, scope.ctx.defaults));
  if (s.lhs.length > 0 && long.length < s.lhs.length) return undefined;
  const F = scope.F;
  const out = scope.tensor(s.tensor, 'write');
  const record = scope.ctx.recordsArgmax.has(s.tensor) && s.rhs === r ? scope.tensor(argmaxName(s.tensor), 'write', 'i32') : undefined;
  r.indices.forEach((b) => scope.extentOf.set(b.name, b.extent));
  const loops = s.lhs.map((b) => sym(b.name, 'i32'));
  const outer: Vars = new Map(s.lhs.map((b, d) => [b.name, v(loops[d]!)] as const));
  const at = scope.offset(s.tensor, s.lhs.map((b) => idxVar(b.name)), outer);
  const R = extentOf(scope, r.indices);
  const red = buffer('$red', F);
  const args = buffer('$args', 'i32');
  const t = sym('$t', 'i32');
  const wantArg = record !== undefined;
  /** each invocation's partial result over its positions q = t, t + 64, … (in increasing order) */
  const partial = (each: (x: LExpr, q: LExpr) => LStmt[]): LStmt => {
    const q = sym('$q', 'i32');
    const e = L.expr(r.body, new Map([...outer, ...unflatten(scope, r.indices, v(q))]), new Map());
    return for_(q, v(t), R, [...e.stmts, ...each(e.value, v(q))], { step: c(REDUCE_WG) });
  };
  /** the tree over $red (and $args): level by level, a barrier after each */
  const tree = (combine: (mine: LExpr, other: LExpr, at: LExpr) => LStmt[]): LStmt[] => {
    const stmts: LStmt[] = [];
    for (let half = REDUCE_WG / 2; half >= 1; half /= 2) {
      stmts.push(...if_(lt(v(t), c(half)), combine(load(red, v(t)), load(red, add(v(t), c(half))), add(v(t), c(half)))), { kind: 'barrier' });
    }
    return stmts;
  };
  const sumTree = tree((mine, other) => [store(red, v(t), add(mine, other))]);
  const acc = sym('$acc', F);
  const body: LStmt[] = [];
  let value: LExpr;
  switch (r.op) {
    case 'sum':
    case 'mean': {
      body.push(let_(acc, c(0, F), true), partial((x) => [addTo(acc, x)]), store(red, v(t), v(acc)), { kind: 'barrier' }, ...sumTree);
      const total = load(red, c(0));
      // the mean of no terms is 0, as their sum is
      value = r.op === 'sum' ? total : select(eq(R, c(0)), c(0, F), div(total, scope.float(R)));
      break;
    }
    case 'max':
    case 'min': {
      const better = (a: LExpr, b: LExpr) => (r.op === 'max' ? gt(a, b) : lt(a, b));
      const arg = sym('$arg', 'i32');
      body.push(let_(acc, c(r.op === 'max' ? -Infinity : Infinity, F), true), let_(arg, c(0), true));
      body.push(partial((x, q) => {
        const x1 = sym('$v', F);
        return [let_(x1, x), ...if_(better(v(x1), v(acc)), [assign(acc, v(x1)), assign(arg, q)])];
      }));
      body.push(store(red, v(t), v(acc)), store(args, v(t), v(arg)), { kind: 'barrier' });
      body.push(...tree((mine, other, there) => {
        const theirs = load(args, there);
        // the first arg-max: a better value, or an equal one at an earlier position
        const wins = or(better(other, mine), and(eq(other, mine), lt(theirs, load(args, v(t)))));
        return if_(wins, [store(red, v(t), other), store(args, v(t), theirs)]);
      }));
      value = load(red, c(0));
      break;
    }
    case 'logsumexp': {
      // stable: the maximum first (a tree of its own), then Σ exp(x − max)
      const m = sym('$max', F);
      body.push(let_(acc, c(-Infinity, F), true), partial((x) => if_(gt(x, v(acc)), [assign(acc, x)])));
      body.push(store(red, v(t), v(acc)), { kind: 'barrier' });
      body.push(...tree((mine, other) => if_(gt(other, mine), [store(red, v(t), other)])));
      body.push(let_(m, load(red, c(0))), { kind: 'barrier' });
      const acc2 = sym('$acc', F);
      body.push(let_(acc2, c(0, F), true), partial((x) => [addTo(acc2, call('exp', F, [sub(x, v(m))]))]));
      body.push(store(red, v(t), v(acc2)), { kind: 'barrier' }, ...sumTree);
      // a row of −∞ (or no terms) has logsumexp −∞
      value = select(eq(v(m), c(-Infinity, F)), v(m), add(v(m), call('log', F, [load(red, c(0))])));
      break;
    }
    default:
      return undefined;
  }
  const epilogue = L.expr(s.rhs, outer, new Map([[exprKey(r), value]]));
  if (epilogue.stmts.length) return undefined;
  body.push(...if_(eq(v(t), c(0)), [...(record ? [store(record, at, load(args, c(0)))] : []), store(out, at, epilogue.value)]));
  const group: LStmt[] = [
    { kind: 'alloc', buf: red, size: c(REDUCE_WG), scope: 'workgroup', zero: false },
    ...(wantArg || r.op === 'max' || r.op === 'min' ? [{ kind: 'alloc', buf: args, size: c(REDUCE_WG), scope: 'workgroup', zero: false } as LStmt] : []),
    for_(t, c(0), c(REDUCE_WG), body, { loop: 'workgroup' }),
  ];
  return [
    { kind: 'comment', text: `a workgroup per output element: ${REDUCE_WG} invocations reduce over ${r.indices.map((b) => b.name).join(',')}, then a tree in workgroup memory` },
    ...loops.reduceRight<LStmt[]>((inner, x, d) => [for_(x, c(0), scope.sizeExpr(s.lhs[d]!.extent), inner, { loop: 'parallel' })], group),
  ];
}

/** Reductions and arg-max indicators of e that are inside no other. */
function topReductions(e: Expr): Expr[] {
  if (e.kind === 'reduce' || e.kind === 'argmax') return [e];
  return children(e).flatMap(topReductions);
}
