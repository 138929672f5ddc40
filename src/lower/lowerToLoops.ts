// lowerToLoops: one statement of the math IR → a kernel of the loop IR, by the first strategy that
// takes it: a matrix product (the packed GEMM, lowerMatmul.ts; a convolution's implicit im2col,
// lowerIm2col.ts), a register-tiled sum (lowerTiles.ts), or loops over the output's elements
// (lowerPerElement.ts). `optimize: false` always takes the last, with plain bounds and checked reads:
// the baseline the benchmarks compare against.
//
// Worked example: Y[i,j] = sum(k) A[i,k]*X[k,j] (optimized) is a matmul; Y[i] = relu(X[i]) is per
// element; dX[n,c,h,w] = sum(f,u,v) K[f,c,h+P-u*T,w+P-v*T]*dY[n,f,u,v] is an im2col GEMM per residue
// class with SIMD, and register-tiled loops without.
import { idxReads } from '../ir/affine.js';
import { printExpr, printStatement } from '../ir/print.js';
import { children, mapIndices } from '../ir/exprs.js';
import type { Expr, Statement } from '../ir/types.js';
import type { Kernel, LStmt } from '../loop/types.js';
import { KernelScope, type LowerContext, type LowerOptions } from './kernelScope.js';
import { lowerExpr } from './lowerExpr.js';
import type { Lowering } from './lowering.js';
import { lowerColumnSum } from './lowerColumnSum.js';
import { lowerMatmul } from './lowerMatmul.js';
import { nest } from './lowerNest.js';
import { checkDataLoops } from './checkDataLoops.js';
import { lowerPerElement } from './lowerPerElement.js';
import { lowerScatter } from './lowerScatter.js';
import { lowerReduction } from './lowerReduction.js';
import { lowerTiles } from './lowerTiles.js';

/** The three mutually recursive pieces, tied together for one kernel. */
export function lowering(scope: KernelScope): Lowering {
  const L: Lowering = {
    scope,
    expr: (e, vars, hoisted) => lowerExpr(L, e, vars, hoisted),
    reduction: (r, outer, recordArg) => lowerReduction(L, r, outer, recordArg),
    nest: (bounds, outer, scopeExpr, body, opts) => nest(L, bounds, outer, scopeExpr, body, opts),
  };
  return L;
}

const hasMatrixFunction = (e: Expr): boolean => e.kind === 'matfn' || children(e).some(hasMatrixFunction);

/** The statement as the user wrote it, for the kernel's doc comment. */
export const formulaOf = (s: Statement): string => s.scatter ? printStatement(s) : `${s.lhs.length ? `${s.tensor}[${s.lhs.map((b) => b.name).join(',')}]` : s.tensor} = ${printExpr(s.rhs)}`;

type Strategy = (L: Lowering, s: Statement) => readonly LStmt[] | undefined;

/** Does the statement read integer data (a data subscript, an index value, a scatter's left side)? */
function readsData(s: Statement): boolean {
  let found = s.scatter?.at.some((x) => idxReads(x).length > 0) ?? false;
  mapIndices(s.rhs, (x) => ((found ||= idxReads(x).length > 0), x));
  return found;
}

export function lowerStatement(s: Statement, name: string, ctx: LowerContext, opts: LowerOptions): Kernel {
  const recorded = ctx.recordsArgmax.has(s.tensor);
  const data = readsData(s);
  // a matrix function (inv, det) is computed in the kernel's prologue, which only the general strategy
  // lowers; reads through integer data are gathers, which no GEMM or tile pattern describes
  const strategies: Strategy[] = s.scatter ? [lowerScatter] : opts.optimize && !hasMatrixFunction(s.rhs) && !data ? [lowerMatmul, ...(recorded ? [] : [lowerTiles, lowerColumnSum])] : [];
  // each attempt in a scope of its own: a strategy that declines leaves no parameter behind
  for (const strategy of [...strategies, lowerPerElement]) {
    const scope = new KernelScope(ctx, opts);
    s.lhs.forEach((b) => scope.extentOf.set(b.name, b.extent));
    const body = strategy(lowering(scope), s);
    if (body) return scope.kernel(name, formulaOf(s), [...checkDataLoops(scope, s), ...scope.prologue, ...body]);
  }
  throw new Error('internal: no lowering strategy took the statement');
}
