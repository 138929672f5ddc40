// checkDataLoops: before a kernel's loops, every element of the integer data it subscripts through is
// checked against the dimension it subscripts — the interpreter's check (evaluate.ts), with its message.
//
// Worked example: Y[n,d] = E[tok[n], d] (E: [V, D], tok: int[N]) begins with
//   for j0 in [0, N)
//     let token = load(tok, j0); let value = token + 0
//     if (!(value >= 0 && value < V)) fail('Y: tok[$0] = $1 makes the subscript tok[n] of E $2, outside [0, $3) …')
// N steps, before N·D: the loops after it read E[tok[n], d] unguarded, and a bad token leaves no
// output half-written.
import { dataSubscripts, outOfRange } from '../ir/dataSubscripts.js';
import type { Statement } from '../ir/types.js';
import { add, and, c, for_, ge, if_, let_, load, lt, mul, not, sym, v } from '../loop/build.js';
import { FAIL_SLOT, type LExpr, type LStmt } from '../loop/types.js';
import type { KernelScope } from './kernelScope.js';

export function checkDataLoops(scope: KernelScope, s: Statement): LStmt[] {
  return dataSubscripts(s).map((d) => {
    const rank = scope.ctx.shapeOf(d.data).length;
    const js = Array.from({ length: rank }, (_, k) => sym(`j${k}`, 'i32'));
    const data = scope.dataBuffer(d.data);
    const off = js.reduce<LExpr>((acc, j, k) => add(mul(acc, scope.dim(d.data, k)), v(j)), c(0));
    const token = sym('token', 'i32');
    const value = sym('value', 'i32');
    const hi = scope.dim(d.tensor, d.dim);
    const text = outOfRange(s.tensor, d, { pos: js.map((_, k) => FAIL_SLOT(k)), token: FAIL_SLOT(rank), value: FAIL_SLOT(rank + 1), hi: FAIL_SLOT(rank + 2) });
    const fail: LStmt = { kind: 'fail', text, values: [...js.map(v), v(token), v(value), hi] };
    let body: LStmt[] = [let_(token, load(data, off, { ty: 'i32' })), let_(value, add(v(token), scope.poly(d.offset))), ...if_(not(and(ge(v(value), c(0)), lt(v(value), hi))), [fail])];
    for (let k = rank - 1; k >= 0; k--) body = [for_(js[k]!, c(0), scope.dim(d.data, k), body)];
    return body.length === 1 ? body[0]! : { kind: 'block', body };
  });
}
