// emitTs: a program's kernels → one module of text, printed from the loop IR (src/target/module.ts):
// TypeScript for `emit` and generated/, or, with `target: 'js'`, an ES module of plain JavaScript
// that a bundler can take ahead of time (for pages whose Content-Security-Policy forbids `new Function`).
//
// Worked example: for `Y[i,j] = A[i,k]*X[k,j] + B[i,j]` the module exports
//   forward_Y(t: { A: Float64Array; X: Float64Array; B: Float64Array; Y: Float64Array }, s: { I: number; J: number; K: number }): void
//   backward_dA(…), backward_dX(…), backward_dB(…)
//   forward(t, s), backward(t, s)   — every statement kernel in order
//   shapes(s)                        — the shape of every tensor for given sizes
//   program                          — names of inputs, outputs, seeds, gradients and sizes
// Kernels are size-generic: sizes are arguments, so one module serves every size. The printer lays
// the text out itself (no formatter: emit is synchronous, needs no dependency, and runs in a browser).
import type { GradientStatement } from '../diff/differentiate.js';
import type { Program } from '../ir/types.js';
import { lowerProgram } from '../pipeline.js';
import { microModuleText } from '../target/micro.js';
import { printModule, type ModuleInfo } from '../target/module.js';
import { assertSafeCode } from './safeText.js';

export interface EmitOptions {
  readonly dtype?: 'float32' | 'float64';
  /** false: the naive loop nest (no bounds from padding, no running offsets, no GEMM), for comparison */
  readonly optimize?: boolean;
  /** false: matmul-shaped kernels in plain JavaScript instead of a WebAssembly SIMD micro-kernel */
  readonly simd?: boolean;
  /** 'ts' (the default): a TypeScript module; 'js': the same as a JavaScript ES module */
  readonly target?: 'ts' | 'js';
}

export type { ModuleInfo };

export interface EmittedModule {
  readonly text: string;
  readonly info: ModuleInfo;
}

/** A program's kernels as one module. */
export function emitProgram(p: Program, grads: readonly GradientStatement[], opts: EmitOptions = {}): EmittedModule {
  const mod = lowerProgram(p, grads, { dtype: opts.dtype ?? 'float64', optimize: opts.optimize ?? true, simd: opts.simd ?? true, micro: microModuleText });
  return { text: assertSafeCode(printModule(mod, opts.target === 'js' ? 'js-module' : 'ts')), info: mod.info };
}
