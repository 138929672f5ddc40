// lowerForGpu: one statement of the math IR → a kernel of the loop IR for a GPU, by the first GPU
// strategy that takes it: a tiled GEMM (matmul-shaped sums and the convolutions' implicit im2col,
// lowerGpuMatmul.ts), a workgroup tree reduction (a long reduction per output element,
// lowerGpuReduction.ts), or one invocation per output element (lowerGpuElements.ts). The kernels'
// `parallel` and `workgroup` loops are what target/wgsl/legaliseWgsl.ts maps to invocation ids.
//
// Worked example: Y[n,f] = X[n,d]*W[f,d] + b[f] is a GEMM; L = sum(n) (logsumexp(c) S[n,c] − …)/N
// is a tree reduction (one workgroup, the logsumexp of each row inside the invocation that reads
// it); Y[i] = relu(X[i]) is one invocation per element.
import type { Statement } from '../../ir/types.js';
import type { Kernel, LStmt } from '../../loop/types.js';
import { KernelScope, type LowerContext } from '../kernelScope.js';
import type { Lowering } from '../lowering.js';
import { formulaOf, lowering } from '../lowerToLoops.js';
import { lowerGpuElements } from './lowerGpuElements.js';
import { lowerGpuMatmul } from './lowerGpuMatmul.js';
import { lowerGpuReduction } from './lowerGpuReduction.js';

type Strategy = (L: Lowering, s: Statement) => readonly LStmt[] | undefined;
const STRATEGIES: readonly Strategy[] = [lowerGpuMatmul, lowerGpuReduction, lowerGpuElements];

/** GPU kernels compute in float32 (WGSL has no f64); sums are bounded by their padding as on the CPU. */
export const GPU_LOWER_OPTIONS = { optimize: true, dtype: 'float32', simd: false } as const;

export function lowerGpuStatement(s: Statement, name: string, ctx: LowerContext): Kernel {
  // each attempt in a scope of its own: a strategy that declines leaves no parameter behind
  for (const strategy of STRATEGIES) {
    const scope = new KernelScope(ctx, GPU_LOWER_OPTIONS);
    s.lhs.forEach((b) => scope.extentOf.set(b.name, b.extent));
    const body = strategy(lowering(scope), s);
    if (body) return scope.kernel(name, formulaOf(s), body);
  }
  throw new Error('internal: no GPU lowering strategy took the statement');
}
