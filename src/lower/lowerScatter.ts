// lowerScatter: a scatter-add statement, T[at] += rhs, as loops over its own indices that add each
// value into the element it names — one thread, in order, so repeated tokens accumulate without a race.
//
// Worked example: dE[tok[n],d] += dY[n,d] (E: [V, D], tok: int[N]) lowers to
//   for n in [0, N)  for d in [0, D)
//     let $at = load(tok, n)*D + d
//     store(dE, $at, load(dE, $at) + load(dY, n*D + d))
// N·D steps, as the forward read E[tok[n], d] took; the kernel's data check (checkDataLoops.ts) has
// already proven every tok[n] in [0, V). A plain subscript that may fall outside T adds nothing there.
import type { Statement } from '../ir/types.js';
import { add, all, c, ge, if_, let_, load, lt, store, sym, v } from '../loop/build.js';
import type { LStmt } from '../loop/types.js';
import { nonNegative } from './kernelScope.js';
import type { Lowering } from './lowering.js';

export function lowerScatter(L: Lowering, s: Statement): LStmt[] | undefined {
  if (!s.scatter) return undefined;
  const { scope } = L;
  const out = scope.tensor(s.tensor, 'write');
  const at = s.scatter.at;
  const shape = scope.ctx.shapeOf(s.tensor);
  return L.nest(s.lhs, new Map(), s.rhs, (vars, hoisted) => {
    const e = L.expr(s.rhs, vars, hoisted);
    const i = sym('at', 'i32');
    const inside = at.flatMap((x, d) => {
      if (scope.subscriptInRange(x, shape[d]!)) return [];
      const k = scope.index(x, vars);
      return [...(nonNegative(x) ? [] : [ge(k, c(0))]), lt(k, scope.dim(s.tensor, d))];
    });
    const add_ = [let_(i, scope.offset(s.tensor, at, vars)), store(out, v(i), add(load(out, v(i)), e.value))];
    return [...e.stmts, ...(inside.length ? if_(all(inside), add_) : add_)];
  }, {});
}
