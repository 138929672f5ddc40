// unflatten: a flat position over a list of indices → each index (row-major: the last runs fastest),
// the index arithmetic every GPU strategy uses to turn one invocation (or one row of a tile) back
// into the indices of the statement.
//
// Worked example: over n: N, u: U, v: V, the position q gives
//   n = ⌊q/(U·V)⌋,  u = ⌊q/V⌋ rem U,  v = q rem V
// (q ≥ 0, so the truncating remainder is the floor modulo). One index is the position itself.
import type { Bound } from '../../ir/types.js';
import { c, floordiv, mul, rem } from '../../loop/build.js';
import type { LExpr } from '../../loop/types.js';
import type { KernelScope } from '../kernelScope.js';

export function unflatten(scope: KernelScope, bounds: readonly Bound[], flat: LExpr): Map<string, LExpr> {
  const out = new Map<string, LExpr>();
  let stride = c(1);
  for (let d = bounds.length - 1; d >= 0; d--) {
    const b = bounds[d]!;
    const q = floordiv(flat, stride);
    out.set(b.name, d === 0 ? q : rem(q, scope.sizeExpr(b.extent)));
    stride = mul(stride, scope.sizeExpr(b.extent));
  }
  return out;
}

/** The number of positions: the product of the extents. */
export const extentOf = (scope: KernelScope, bounds: readonly Bound[]): LExpr => bounds.reduce((m, b) => mul(m, scope.sizeExpr(b.extent)), c(1));
