// costs: how many times a loop nest runs its body, for the planner's choices.
//
// Worked example: with sizes { I: 512 } and no value for J, the extent of an index over I+1 is 513,
// over J 256 (a size with no value counts as 256: large enough that N⁴ loses to 2·N³, as it does
// for any size worth planning), over 3 (a kernel's width) 3. A loop nest over i, j, k costs the
// product of their extents. `derive` and `emit` plan with the sizes' defaults only; `compile` knows
// the sizes and plans with them.
import { sizeNames, sizeTryEval } from '../ir/sizes.js';
import type { SizeExpr } from '../ir/types.js';

/** The value a size with no known value counts as. */
export const UNKNOWN_SIZE = 256;

export interface CostModel {
  /** the number of values an index over this extent takes */
  readonly extent: (e: SizeExpr) => number;
}

export function costModel(sizes: ReadonlyMap<string, number>): CostModel {
  const memo = new Map<SizeExpr, number>();
  return {
    extent: (e) => {
      const had = memo.get(e);
      if (had !== undefined) return had;
      // every size named, those with no value at UNKNOWN_SIZE: H+2*P-R+1 with only P and R known
      const all = new Map(sizes);
      for (const n of sizeNames(e)) if (!all.has(n)) all.set(n, UNKNOWN_SIZE);
      const v = sizeTryEval(e, all);
      const n = v === undefined || !Number.isFinite(v) ? UNKNOWN_SIZE : Math.max(v, 1);
      memo.set(e, n);
      return n;
    },
  };
}

/** The iterations of a loop nest over these indices. */
export function nestCost(indices: Iterable<string>, extentOf: (v: string) => SizeExpr, m: CostModel): number {
  let n = 1;
  for (const v of indices) n *= m.extent(extentOf(v));
  return n;
}
