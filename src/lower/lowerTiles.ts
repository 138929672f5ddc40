import type { Statement } from '../ir/types.js';
import type { LStmt } from '../loop/types.js';
import type { Lowering } from './lowering.js';
export function lowerTiles(L: Lowering, s: Statement): LStmt[] | undefined {
  void L;
  void s;
  return undefined;
}
