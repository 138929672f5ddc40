// pipeline: the back end's steps, in order, for every kernel of a program:
//
//   program, gradients ─planProgram─▶ statements (with the planner's intermediates)
//   statement ─lowerToLoops─▶ Kernel ─strengthReduce─▶ ─unrollSums─▶ ─hoistInvariants─▶ ─legalise─▶ Kernel ─print─▶ text
//
// With DEBUG=deltagrad each kernel's loop IR is printed (as JavaScript) after each step, and with
// DEBUG=deltagrad-verify each step's output is checked by verifyLoops. `optimize: false` runs only
// the lowering and hoistBounds (the naive loop nest the benchmarks compare against).
//
// Worked example: lowerProgram(check('Y[i] = 2*X[i]'), grads, { dtype: 'float64', optimize: true,
// simd: true }) is a module of the kernels forward_Y and backward_dX, their order in forward() and
// backward(), the shapes of X, Y, dX and dY over the size I, and what `program` says of it.
import { findInPlace } from './codegen/findInPlace.js';
import { isAsciiIdentifier } from './codegen/safeText.js';
import type { GradientStatement } from './diff/differentiate.js';
import { debugging, trace } from './ir/debug.js';
import { tensorsRead } from './ir/exprs.js';
import type { Program, SizeExpr, Statement } from './ir/types.js';
import type { Kernel, MicroModule, Sym } from './loop/types.js';
import { assertVerified } from './loop/verifyLoops.js';
import { argmaxName, KernelScope, type LowerContext, type LowerOptions } from './lower/kernelScope.js';
import { lowerStatement } from './lower/lowerToLoops.js';
import { hoistBounds, hoistInvariants } from './opt/hoistInvariants.js';
import { strengthReduce } from './opt/strengthReduce.js';
import { unrollSums } from './opt/unrollSums.js';
import { printJsStatements } from './target/js.js';
import { legalise } from './target/legalise.js';
import type { LoopModule, ModuleInfo } from './target/module.js';
import { JS_RESERVED, Namer } from './target/names.js';
import { planProgram } from './plan/planProgram.js';

type Pass = { readonly name: string; readonly run: (k: Kernel) => Kernel };
// the last step maps what JavaScript cannot run (parallel, vectorized loops) to what it can; the
// TypeScript printer takes the same kernels
const OPTIMIZE: readonly Pass[] = [
  { name: 'strengthReduce', run: strengthReduce },
  { name: 'unrollSums', run: unrollSums },
  { name: 'hoistInvariants', run: hoistInvariants },
  { name: 'legalise', run: (k) => legalise(k, 'js') },
];
const NAIVE: readonly Pass[] = [
  { name: 'hoistBounds', run: hoistBounds },
  { name: 'legalise', run: (k) => legalise(k, 'js') },
];


function dump(stage: string, k: Kernel): void {
  const namer = new Namer({ reserved: JS_RESERVED, dollar: true });
  const text = printJsStatements(k.body, { namer, typed: false, instance: (m) => `$${m}`, moduleScratch: (n) => n }, '  ').join('\n');
  trace(`${stage} ${k.name}`, text.split('\n'));
}

/** One kernel through the passes. */
export function optimizeKernel(k: Kernel, optimize: boolean): Kernel {
  const trace = debugging('deltagrad');
  const verify = debugging('deltagrad-verify');
  if (trace) dump('lowerToLoops', k);
  if (verify) assertVerified(k);
  let out = k;
  for (const pass of optimize ? OPTIMIZE : NAIVE) {
    out = pass.run(out);
    if (trace) dump(pass.name, out);
    if (verify) assertVerified(out);
  }
  return out;
}

/** The shape of every tensor, and of the gradients dX of its tensors. */
export function shapeOfFactory(p: Program): (t: string) => readonly SizeExpr[] {
  const info = new Map(p.tensors.map((t) => [t.name, t.shape] as const));
  return (t) => {
    const direct = info.get(t);
    if (direct) return direct;
    if (t.startsWith('d') && info.has(t.slice(1))) return info.get(t.slice(1))!;
    throw new Error(`internal: no shape for ${t}`);
  };
}

export interface ModuleOptions extends LowerOptions {
  /** the WebAssembly module text of each micro-kernel module a kernel uses */
  readonly micro: LoopModule['micro'];
  /** size values the planner may count with (compile knows them; emit plans with the defaults) */
  readonly sizes?: ReadonlyMap<string, number>;
}

/** For each gradient, the temporaries it reads, directly or through others, in the order they run. */
function temporariesOf(grads: readonly GradientStatement[]): Record<string, string[]> {
  const needs = new Map<string, string[]>();
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  // positions found once: 10 000 gradients must not each search the list
  const order = new Map(grads.map((x, k) => [x.statement.tensor, k] as const));
  for (const g of grads) {
    const direct = tensorsRead(g.statement.rhs).filter((t) => needs.has(t));
    const all = [...new Set(direct.flatMap((t) => [...needs.get(t)!, t]))];
    all.sort((a, b) => order.get(a)! - order.get(b)!);
    if (g.temporary) needs.set(g.statement.tensor, all);
    else if (all.length) out[g.statement.tensor] = all;
  }
  return out;
}

export function lowerProgram(original: Program, derived: readonly GradientStatement[], opts: ModuleOptions): LoopModule {
  const plan = planProgram(original, derived, opts.sizes ? { sizes: opts.sizes } : {});
  const p = plan.program;
  const grads = plan.gradients;
  const recordsArgmax = new Map<string, Statement>();
  if (opts.optimize) for (const s of p.statements) if (s.rhs.kind === 'reduce' && (s.rhs.op === 'max' || s.rhs.op === 'min')) recordsArgmax.set(s.tensor, s);
  const defaults = new Map<string, number>();
  for (const s of p.sizes) if (s.default !== undefined) defaults.set(s.name, s.default);
  const ctx: LowerContext = { shapeOf: shapeOfFactory(p), recordsArgmax, defaults, program: p };
  // kernel names are module-level functions: ASCII, unique, none a helper's or a reserved word
  const names = new Namer({ reserved: new Set([...JS_RESERVED, 'forward', 'backward', 'shapes', 'program']), dollar: false });
  const kernelName = (prefix: string, tensor: string) => names.fresh(`${prefix}_${isAsciiIdentifier(tensor) ? tensor : [...tensor].map((ch) => (/[A-Za-z0-9_]/.test(ch) ? ch : '_')).join('')}`);
  const lower = (s: Statement, prefix: string) => optimizeKernel(lowerStatement(s, kernelName(prefix, s.tensor), ctx, opts), opts.optimize);
  const forward = p.statements.map((s) => lower(s, 'forward'));
  const backward = grads.map((g) => lower(g.statement, 'backward'));
  const inputs = new Set(p.tensors.filter((t) => t.role === 'input').map((t) => t.name));
  const scratch = plan.made.filter((m) => m.phase === 'forward').map((m) => m.info.name);
  const temporaries = temporariesOf(grads);
  const readsOf = (g: GradientStatement) => tensorsRead(g.statement.rhs);
  const reads = new Map(grads.map((g) => [g.statement.tensor, readsOf(g)] as const));
  const real = grads.filter((g) => !g.temporary);
  const info: ModuleInfo = {
    inputs: [...inputs],
    outputs: p.tensors.filter((t) => t.role === 'output').map((t) => t.name),
    intermediates: original.tensors.filter((t) => t.role === 'intermediate').map((t) => t.name),
    seeds: p.tensors.filter((t) => t.role === 'output').map((t) => `d${t.name}`),
    gradients: real.map((g) => g.statement.tensor),
    records: [...recordsArgmax.keys()].map(argmaxName),
    sizes: p.sizes.map((s) => s.name),
    defaults: Object.fromEntries(p.sizes.filter((z) => z.default !== undefined).map((z) => [z.name, z.default!])),
    inPlace: findInPlace(p),
    // a gradient reads what its temporaries read too (after an in-place forward, they would read the new values)
    gradientReads: Object.fromEntries(
      real.map((g) => [g.statement.tensor, [...new Set([g.statement.tensor, ...(temporaries[g.statement.tensor] ?? [])].flatMap((t) => reads.get(t)!))].filter((t) => inputs.has(t))]),
    ),
    ...(scratch.length ? { scratch } : {}),
    ...(Object.keys(temporaries).length ? { temporaries } : {}),
  };
  // shapes over the size parameters, in one scope so that each size is one symbol
  const scope = new KernelScope(ctx, opts);
  const shapes = p.tensors.map((t) => ({ tensor: t.name, dims: t.shape.map((d) => scope.sizeExpr(d)) }));
  const sizeParams = new Map<string, Sym>(scope.kernel('shapes', '', []).sizes.map((z) => [z.key, z.v] as const));
  return { source: p.source, dtype: opts.dtype, forward, backward, info, shapes, sizeParams, micro: opts.micro };
}

export type { LoopModule, MicroModule };
