// pipelineWebgpu: the back end's steps for the WebGPU target, for every kernel of a program:
//
//   statement ─lowerGpuStatement─▶ Kernel ─hoistInvariants─▶ ─legaliseWgsl─▶ launch ─printWgsl─▶ WGSL compute shader
//
// The same loop IR and lowering pieces as the JavaScript target (src/lower/), with GPU strategies
// (src/lower/gpu/: tiled GEMM, workgroup tree reductions, one invocation per element), and of the
// CPU passes only hoistInvariants (index arithmetic over the sizes computed once, not per element
// of a tile; the legaliser keeps such lets between the grid's loops): running offsets would chain
// the parallel iterations together, and unrolling is the shader compiler's business. With DEBUG=deltagrad-verify each kernel is checked by verifyLoops; with
// DEBUG=deltagrad each kernel's WGSL is printed.
//
// Worked example: lowerGpuProgram(check('Y[i] = 2*X[i]'), grads) is the kernels forward_Y and
// backward_dX, each a shader of one invocation per element, what `program` says of them, and
// for each its grid over the size I (⌈I/64⌉ workgroups of 64).
import { findInPlace } from './codegen/findInPlace.js';
import { isAsciiIdentifier } from './codegen/safeText.js';
import type { GradientStatement } from './diff/differentiate.js';
import { debugging, trace } from './ir/debug.js';
import { dataSubscripts } from './ir/dataSubscripts.js';
import { children, tensorsRead } from './ir/exprs.js';
import type { Expr, Program, Statement } from './ir/types.js';
import { assertNever, type LExpr, type Sym } from './loop/types.js';
import { assertVerified } from './loop/verifyLoops.js';
import { lowerGpuStatement } from './lower/gpu/lowerForGpu.js';
import { hoistInvariants } from './opt/hoistInvariants.js';
import type { LowerContext } from './lower/kernelScope.js';
import { argmaxName } from './lower/kernelScope.js';
import { legaliseWgsl, type WgslLaunch } from './target/wgsl/legaliseWgsl.js';
import { printWgsl } from './target/wgsl/printWgsl.js';
import type { ModuleInfo } from './target/module.js';
import { inlineConstants, shapeOfFactory } from './pipeline.js';

/** One compute shader and how to run it: its bindings, its sizes and its grid. */
export interface GpuKernelPlan {
  readonly name: string;
  readonly formula: string;
  /** the tensors it binds, in binding order (after the sizes), and whether it writes each */
  readonly buffers: readonly { readonly key: string; readonly write: boolean; readonly elem: 'f32' | 'i32' }[];
  /** the sizes of its uniform block, in order */
  readonly sizes: readonly string[];
  /** the WGSL text; `alias` reads an input from an output's binding (an update in place) */
  readonly wgsl: (alias?: ReadonlyMap<string, string>) => string;
  /** workgroups to dispatch for given sizes */
  readonly workgroups: (sizes: Readonly<Record<string, number>>) => number;
}

export interface GpuModulePlan {
  readonly forward: readonly GpuKernelPlan[];
  readonly backward: readonly GpuKernelPlan[];
  readonly info: ModuleInfo;
  /** the statements that subscript through integer data: the host checks the data against each
   *  (the interpreter's message) before any kernel runs — a shader cannot throw */
  readonly dataChecks: readonly Statement[];
}

/** One kernel through the GPU steps. */
function plan(lowered: ReturnType<typeof lowerGpuStatement>): GpuKernelPlan {
  if (debugging('deltagrad-verify')) assertVerified(lowered);
  const k = hoistInvariants(lowered);
  if (debugging('deltagrad-verify')) assertVerified(k);
  const launch = legaliseWgsl(k);
  if (debugging('deltagrad-verify')) assertVerified(launch.kernel);
  const base = printWgsl(launch);
  if (debugging('deltagrad')) trace(`printWgsl ${k.name}`, base.split('\n'));
  const keyOf = new Map<Sym, string>(k.sizes.map((z) => [z.v, z.key] as const));
  return {
    name: k.name,
    formula: k.formula,
    buffers: k.buffers.map((b) => ({ key: b.key, write: b.role === 'write', elem: b.buf.elem === 'i32' ? 'i32' : 'f32' })),
    sizes: k.sizes.map((z) => z.key),
    wgsl: (alias) => (alias && alias.size ? printWgsl(launch, { alias }) : base),
    workgroups: (sizes) => workgroups(launch, (s) => sizes[keyOf.get(s)!]!),
  };
}

/** The workgroups a launch needs: one per grid point, or enough of them to hold one invocation per point. */
export function workgroups(launch: WgslLaunch, size: (s: Sym) => number): number {
  const total = launch.grid.reduce((a, e) => a * evalInt(e, size), 1);
  return Math.max(0, launch.perInvocation ? Math.ceil(total / launch.workgroupSize) : total);
}

/** An integer expression over the sizes, as the shader computes it. */
function evalInt(e: LExpr, size: (s: Sym) => number): number {
  switch (e.kind) {
    case 'const':
      return e.value;
    case 'var':
      return size(e.v);
    case 'unary':
      if (e.op === 'neg') return -evalInt(e.a, size);
      throw new Error(`internal: a grid extent with ${e.op}`);
    case 'binary': {
      const a = evalInt(e.a, size);
      const b = evalInt(e.b, size);
      switch (e.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case 'floordiv':
          return Math.floor(a / b);
        case 'ceildiv':
          return Math.ceil(a / b);
        case 'min':
          return Math.min(a, b);
        case 'max':
          return Math.max(a, b);
        default:
          throw new Error(`internal: a grid extent with ${e.op}`);
      }
    }
    case 'load':
    case 'select':
    case 'call':
    case 'length':
    case 'claim':
      throw new Error(`internal: a grid extent with a ${e.kind}`);
    default:
      return assertNever(e);
  }
}

/** det/logdet/inv run an LU on the CPU only: a program with one is refused by name before any lowering. */
function refuseMatrixFunctions(statements: readonly Statement[]): void {
  const find = (e: Expr): Extract<Expr, { kind: 'matfn' }> | undefined => (e.kind === 'matfn' ? e : children(e).map(find).find((x) => x));
  for (const s of statements) {
    const m = find(s.rhs);
    if (m) throw new Error(`the WebGPU target cannot compute ${m.fn}(${m.of ?? '…'}) yet (in ${s.tensor}): compile this program without { target: 'webgpu' }`);
  }
}

export function lowerGpuProgram(source: Program, derived: readonly GradientStatement[]): GpuModulePlan {
  // named constants are numbers in the shaders, as in the CPU kernels
  const { p, grads } = inlineConstants(source, derived);
  refuseMatrixFunctions([...p.statements, ...grads.map((g) => g.statement)]);
  // a gradient with a scatter-add runs in its gather form, dE[v,d] = sum(n) (tok[n] == v)*dY[n,d]:
  // one invocation per element, no atomics, deterministic — at V·N·D steps, not the CPU's N·D
  const gradStatements = grads.map((g) => g.gathered ?? g.statement);
  const recordsArgmax = new Map<string, Statement>();
  for (const s of p.statements) if (s.rhs.kind === 'reduce' && (s.rhs.op === 'max' || s.rhs.op === 'min')) recordsArgmax.set(s.tensor, s);
  const defaults = new Map<string, number>();
  for (const s of p.sizes) if (s.default !== undefined) defaults.set(s.name, s.default);
  const ctx: LowerContext = { shapeOf: shapeOfFactory(p), recordsArgmax, defaults, program: p };
  const name = (prefix: string, tensor: string) => `${prefix}_${isAsciiIdentifier(tensor) ? tensor : [...tensor].map((ch) => (/[A-Za-z0-9_]/.test(ch) ? ch : '_')).join('')}`;
  const forward = p.statements.map((s) => plan(lowerGpuStatement(s, name('forward', s.tensor), ctx)));
  const backward = gradStatements.map((s) => plan(lowerGpuStatement(s, name('backward', s.tensor), ctx)));
  const data = p.tensors.filter((t) => t.elem === 'int').map((t) => t.name);
  const inputs = new Set(p.tensors.filter((t) => t.role === 'input').map((t) => t.name));
  const info: ModuleInfo = {
    inputs: [...inputs],
    outputs: p.tensors.filter((t) => t.role === 'output').map((t) => t.name),
    intermediates: p.tensors.filter((t) => t.role === 'intermediate').map((t) => t.name),
    seeds: p.tensors.filter((t) => t.role === 'output').map((t) => `d${t.name}`),
    gradients: grads.map((g) => g.statement.tensor),
    records: [...recordsArgmax.keys()].map(argmaxName),
    sizes: p.sizes.map((s) => s.name),
    defaults: Object.fromEntries(p.sizes.filter((z) => z.default !== undefined).map((z) => [z.name, z.default!])),
    inPlace: findInPlace(p),
    gradientReads: Object.fromEntries(gradStatements.map((s) => [s.tensor, tensorsRead(s.rhs).filter((t) => inputs.has(t))])),
    ...(data.length ? { data } : {}),
  };
  const dataChecks = [...p.statements, ...gradStatements].filter((s) => dataSubscripts(s).length > 0);
  return { forward, backward, info, dataChecks };
}
