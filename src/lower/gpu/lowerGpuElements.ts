// lowerGpuElements: the general GPU strategy — one invocation per element of the output, every
// left-side index a `parallel` loop (legaliseWgsl turns them into invocation ids); reductions inside
// the right side run in the invocation, as on the CPU.
//
// Worked example, max pooling's forward Y[n,c,u,v] = max(i:2, j:2) X[n,c,2u+i,2v+j], whose arg-max
// the gradient reads:
//   for n, c, u, v parallel:  let $acc = −∞, $arg = 0; for i, j { … keep the first max … }
//                             store(Y_argmax, o, $arg); store(Y, o, $acc)
// and its gradient dX[n,c,h,w] = (argmax(… @ h%2, w%2) …)*dY[n,c,h/2,w/2] is one invocation per
// element of dX comparing the record: no quotient loops here (an invocation has no neighbours to
// share ⌊h/2⌋ with).
import { idxVar } from '../../ir/affine.js';
import type { Statement } from '../../ir/types.js';
import { c, for_, store, sym, v } from '../../loop/build.js';
import type { LExpr, LStmt } from '../../loop/types.js';
import { argmaxName } from '../kernelScope.js';
import type { Lowering } from '../lowering.js';

export function lowerGpuElements(L: Lowering, s: Statement): LStmt[] {
  const { scope } = L;
  const out = scope.tensor(s.tensor, 'write');
  const record = scope.ctx.recordsArgmax.has(s.tensor) ? scope.tensor(argmaxName(s.tensor), 'write', 'i32') : undefined;
  const loops = s.lhs.map((b) => sym(b.name, 'i32'));
  const vars = new Map<string, LExpr>(s.lhs.map((b, d) => [b.name, v(loops[d]!)]));
  const at = scope.offset(s.tensor, s.lhs.map((b) => idxVar(b.name)), vars);
  let body: LStmt[];
  if (record && s.rhs.kind === 'reduce') {
    const r = L.reduction(s.rhs, vars, true);
    body = [...r.stmts, store(record, at, r.arg!), store(out, at, r.value)];
  } else {
    const e = L.expr(s.rhs, vars, new Map());
    body = [...e.stmts, store(out, at, e.value)];
  }
  return loops.reduceRight<LStmt[]>((inner, x, d) => [for_(x, c(0), scope.sizeExpr(s.lhs[d]!.extent), inner, { loop: 'parallel' })], body);
}
