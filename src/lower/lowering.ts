// lowering: the three mutually recursive pieces every strategy lowers expressions with — an
// expression (lowerExpr.ts) may hold a reduction (lowerReduction.ts), whose loops (lowerNest.ts) hold
// expressions again. Each piece is a function of this record, which `lowering()` ties together, so
// that no two of their files import each other.
//
// Worked example: lowering(scope).expr(sum(k) A[i,k]*X[k,j], {i, j}) returns the statements
//   let $acc = 0; for k … { $acc += A[…]*X[…] }
// and the value `$acc`, for the caller to store or use.
import type { Bound, Expr } from '../ir/types.js';
import type { LExpr, LStmt } from '../loop/types.js';
import type { Constraint, Residue } from './boundsFromPadding.js';
import type { KernelScope } from './kernelScope.js';

export type Vars = ReadonlyMap<string, LExpr>;
/** reductions already computed outside the current loops: exprKey → their value */
export type Hoisted = ReadonlyMap<string, LExpr>;
export type Reduce = Extract<Expr, { kind: 'reduce' }>;

export interface Lowered {
  readonly stmts: readonly LStmt[];
  readonly value: LExpr;
}

export interface NestOptions {
  /** reads and guards that bound the loops */
  readonly constraints?: readonly Constraint[];
  readonly residues?: readonly Residue[];
  /** a reduction computed by the body itself, not hoisted out of the loops (a recorded max) */
  readonly exclude?: Expr;
  /** mark the innermost loop as a sum the unrolling pass may split into partial sums */
  readonly unrollSum?: boolean;
  /** mark the outermost loop `parallel`: its iterations write disjoint elements (the output's loops) */
  readonly parallel?: boolean;
}

export interface Lowering {
  readonly scope: KernelScope;
  expr(e: Expr, vars: Vars, hoisted: Hoisted): Lowered;
  /** a reduction's loops and its value (and, with recordArg, the flat position of its arg-max) */
  reduction(r: Reduce, outer: Vars, recordArg: boolean): Lowered & { readonly arg?: LExpr };
  /** loops over `bounds` around `body`; reductions in `scopeExpr` that depend only on outer indices
   * are computed before the loops that would otherwise repeat them */
  nest(bounds: readonly Bound[], outer: Vars, scopeExpr: Expr, body: (vars: Vars, hoisted: Hoisted) => readonly LStmt[], opts: NestOptions): LStmt[];
}
