// lowerPerElement: the general strategy — loops over the output's elements, each computed by its own
// expression (reductions inside it as their own loops, or hoisted to the loop they depend on).
//
// Worked example, max pooling's forward Y[n,c,h,w] = max(i:2, j:2) X[n,c,2h+i,2w+j], whose arg-max
// the gradient reads: loops n, c, h, w over Y; per element the window's loops keep the max and the
// flat position of its first arg-max, stored side by side:
//   store(Y_argmax, o, $arg); store(Y, o, $acc)
// Its gradient dX[n,c,h,w] = (argmax(… @ h%2, w%2) …)*dY[n,c,h/2,w/2] reads h and w only as
// quotient and remainder, so its loops run over q = h/2 and r = h%2 instead (splitQuotientLoops).
import type { Statement } from '../ir/types.js';
import { add, c, mul, store } from '../loop/build.js';
import type { LExpr, LStmt } from '../loop/types.js';
import type { Constraint } from './boundsFromPadding.js';
import { argmaxName } from './kernelScope.js';
import type { Lowering, Vars } from './lowering.js';
import { splitQuotientLoops } from './splitQuotientLoops.js';

export function lowerPerElement(L: Lowering, s: Statement): LStmt[] {
  const { scope } = L;
  const out = scope.tensor(s.tensor, 'write');
  const recorded = scope.ctx.recordsArgmax.has(s.tensor) && scope.opts.optimize;
  const record = recorded ? scope.tensor(argmaxName(s.tensor), 'write', 'i32') : undefined;
  // indices read only as ⌊h/τ⌋ and h mod τ loop as quotient and remainder (pooling backward)
  let n = 0;
  const split = scope.opts.optimize && !recorded ? splitQuotientLoops(s.lhs, s.rhs, (p) => `$${p}${n++}`) : undefined;
  const lhs = split?.lhs ?? s.lhs;
  lhs.forEach((b) => scope.extentOf.set(b.name, b.extent));
  const rhs = split?.rhs ?? s.rhs;
  const constraints: Constraint[] = (split?.guards ?? []).map((g) => ({ v: g.v, coef: 1, rest: g.rest, dim: g.dim, sides: 'upper' }));
  /** the output's own indices, from the loop indices (h = τ·q + r where split) */
  const outIndex = (vars: Vars): Map<string, LExpr> =>
    new Map(
      s.lhs.map((b) => {
        const p = split?.splits.find((x) => x.h === b.name);
        return [b.name, p ? add(mul(c(p.by), vars.get(p.q)!), vars.get(p.r)!) : vars.get(b.name)!] as const;
      }),
    );
  const body = (vars: Vars, hoisted: Parameters<Parameters<Lowering['nest']>[3]>[1]): LStmt[] => {
    const at = scope.offset(s.tensor, s.lhs.map((b) => ({ terms: [{ atom: { kind: 'var', name: b.name }, coef: new Map([['', 1]]) }], constant: new Map() })), outIndex(vars));
    if (record && rhs.kind === 'reduce') {
      const r = L.reduction(rhs, vars, true);
      return [...r.stmts, store(record, at, r.arg!), store(out, at, r.value)];
    }
    const e = L.expr(rhs, vars, hoisted);
    return [...e.stmts, store(out, at, e.value)];
  };
  return L.nest(lhs, new Map(), rhs, body, { constraints, parallel: true, ...(record ? { exclude: rhs } : {}) });
}
