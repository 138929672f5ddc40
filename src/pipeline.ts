// pipeline: the back end's steps, in order, for every kernel of a program:
//
//   program, gradients ─inlineConstants─▶ ─planProgram─▶ ─splitLongSums─▶ statements (with the planner's
//     intermediates; splitLongSums only where the sizes are known: compile)
//   statement ─lowerToLoops─▶ Kernel ─splitParallelLoop─▶ ─chooseTarget─▶ ─peelBorders─▶ ─unrollSmallLoops─▶
//     ─strengthReduce─▶ ─ifToSelect─▶ ─vectorizeLoops─▶ ─unrollSums─▶
//     ─hoistInvariants─▶ ─legalise─▶ Kernel ─print─▶ text (JavaScript, or WebAssembly for a kernel chooseTarget marked)
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
import { mapChildren, num, tensorsRead } from './ir/exprs.js';
import type { Expr, Program, SizeExpr, Statement } from './ir/types.js';
import type { Kernel, MicroModule, Sym } from './loop/types.js';
import { walkStmts } from './loop/mapLoop.js';
import { assertVerified } from './loop/verifyLoops.js';
import { argmaxName, KernelScope, type LowerContext, type LowerOptions } from './lower/kernelScope.js';
import { splitLongSums } from './lower/splitLongSums.js';
import { lowerStatement } from './lower/lowerToLoops.js';
import { chooseTarget, type WasmMode } from './opt/chooseTarget.js';
import { hoistBounds, hoistInvariants } from './opt/hoistInvariants.js';
import { ifToSelect } from './opt/ifToSelect.js';
import { peelBorders } from './opt/peelBorders.js';
import { unrollSmallLoops } from './opt/unrollSmallLoops.js';
import { serialiseParallel, splitParallelLoop } from './opt/splitParallelLoop.js';
import { strengthReduce } from './opt/strengthReduce.js';
import { unrollSums } from './opt/unrollSums.js';
import { vectorizeLoops } from './opt/vectorizeLoops.js';
import { printJsStatements } from './target/js.js';
import { legalise } from './target/legalise.js';
import type { LoopModule, ModuleInfo } from './target/module.js';
import { JS_RESERVED, Namer } from './target/names.js';
import { costModel } from './plan/costs.js';
import { planProgram } from './plan/planProgram.js';
import { chooseShared, workOfStatement } from './plan/worthSharing.js';

type Pass = { readonly name: string; readonly run: (k: Kernel, wasm: WasmMode) => Kernel };
// chooseTarget decides where the kernel runs (the cost rule); the last step maps what that target
// cannot run (parallel loops; vectorized ones in JavaScript) to what it can
const OPTIMIZE: readonly Pass[] = [
  { name: 'chooseTarget', run: chooseTarget },
  { name: 'peelBorders', run: peelBorders },
  { name: 'unrollSmallLoops', run: unrollSmallLoops },
  { name: 'strengthReduce', run: strengthReduce },
  { name: 'ifToSelect', run: ifToSelect },
  { name: 'vectorizeLoops', run: vectorizeLoops },
  { name: 'unrollSums', run: unrollSums },
  { name: 'hoistInvariants', run: hoistInvariants },
  { name: 'legalise', run: (k) => legalise(k, k.runs === 'wasm' ? 'wasm' : 'js') },
];
const NAIVE: readonly Pass[] = [
  { name: 'hoistBounds', run: hoistBounds },
  { name: 'legalise', run: (k) => legalise(k, 'js') },
];


function dump(stage: string, k: Kernel): void {
  const namer = new Namer({ reserved: JS_RESERVED, dollar: true });
  const text = printJsStatements(k.body, { namer, typed: false, instance: (m) => `$${m}`, moduleScratch: (n) => n }, '  ').join('\n');
  trace(`${stage} ${k.name}${k.runs === "wasm" ? " (WebAssembly)" : ""}`, text.split('\n'));
}

/** One kernel through the passes (`wasm`: which kernels may run as WebAssembly, chooseTarget.ts;
 * `threads`: the sizes compile knows, to split a parallel loop between worker threads by). */
export function optimizeKernel(lowered: Kernel, optimize: boolean, wasm: WasmMode = 'never', threads?: ReadonlyMap<string, number>, claimSlot?: () => number): Kernel {
  const trace = debugging('deltagrad');
  const verify = debugging('deltagrad-verify');
  if (trace) dump('lowerToLoops', lowered);
  let k = serialiseParallel(lowered);
  // split, a kernel runs where it runs on one thread (the cost rule weighs the whole kernel): the
  // same code over a share of the iterations, bitwise the same numbers. A WebAssembly kernel runs
  // over the threads' shared memory in place; one whose split the printer cannot take stays whole.
  if (threads) {
    const runsWasm = optimize && chooseTarget(k, wasm).runs === 'wasm';
    // a GEMM (JavaScript around WebAssembly calls) claims its blocks as the threads run
    const gemm = !runsWasm && claimSlot !== undefined && hasMicrokernel(lowered);
    const split = splitParallelLoop(lowered, threads, gemm ? claimSlot() : undefined);
    if (split.threads === 'split' && (!runsWasm || chooseTarget(split, 'always').runs === 'wasm')) {
      k = split;
      wasm = runsWasm ? 'always' : 'never';
    }
  }
  if (verify) assertVerified(k);
  let out = k;
  for (const pass of optimize ? OPTIMIZE : NAIVE) {
    out = pass.run(out, wasm);
    if (trace) dump(pass.name, out);
    if (verify) assertVerified(out);
  }
  return out;
}

function hasMicrokernel(k: Kernel): boolean {
  let hit = false;
  walkStmts(k.body, (s) => void (s.kind === 'microkernel' && (hit = true)));
  return hit;
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
  /** which kernels run as WebAssembly: by the cost rule (the default), every one it can, or none
   * (`simd: false` and `optimize: false` mean none) */
  readonly wasm?: WasmMode;
  /** size values the planner may count with (compile knows them; emit plans with the defaults) */
  readonly sizes?: ReadonlyMap<string, number>;
}

/** Named constants as numbers in every statement: the kernels read no array for them. */
export function inlineConstants(p: Program, grads: readonly GradientStatement[]): { p: Program; grads: readonly GradientStatement[] } {
  const values = new Map(p.tensors.filter((t) => t.role === 'constant').map((t) => [t.name, t.value!] as const));
  if (values.size === 0) return { p, grads };
  const go = (e: Expr): Expr => (e.kind === 'access' && values.has(e.tensor) ? num(values.get(e.tensor)!) : mapChildren(e, go));
  const st = (s: Statement): Statement => ({ ...s, rhs: go(s.rhs) });
  return {
    p: { ...p, tensors: p.tensors.filter((t) => t.role !== 'constant'), statements: p.statements.map(st) },
    grads: grads.map((g) => ({ ...g, statement: st(g.statement), ...(g.scatters ? { scatters: g.scatters.map(st) } : {}) })),
  };
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

export function lowerProgram(source: Program, derived: readonly GradientStatement[], opts: ModuleOptions): LoopModule {
  // constants first, so the planner sees numbers
  const { p: original, grads: inlined } = inlineConstants(source, derived);
  const plan = planProgram(original, inlined, opts.sizes ? { sizes: opts.sizes } : {});
  // with the sizes known (compile), long, narrow products are summed in slices threads can share
  const sliced = opts.sizes ? splitLongSums(plan.program, plan.gradients, opts.sizes) : undefined;
  const p = sliced?.program ?? plan.program;
  const grads = sliced?.gradients ?? plan.gradients;
  const recordsArgmax = new Map<string, Statement>();
  if (opts.optimize) for (const s of p.statements) if (s.rhs.kind === 'reduce' && (s.rhs.op === 'max' || s.rhs.op === 'min')) recordsArgmax.set(s.tensor, s);
  const defaults = new Map<string, number>();
  for (const s of p.sizes) if (s.default !== undefined) defaults.set(s.name, s.default);
  const ctx: LowerContext = { shapeOf: shapeOfFactory(p), recordsArgmax, defaults, program: p };
  // kernel names are module-level functions: ASCII, unique, none a helper's or a reserved word
  const names = new Namer({ reserved: new Set([...JS_RESERVED, 'forward', 'backward', 'infer', 'shapes', 'program']), dollar: false });
  const kernelName = (prefix: string, tensor: string) => names.fresh(`${prefix}_${isAsciiIdentifier(tensor) ? tensor : [...tensor].map((ch) => (/[A-Za-z0-9_]/.test(ch) ? ch : '_')).join('')}`);
  const wasm: WasmMode = opts.simd && opts.optimize ? (opts.wasm ?? 'auto') : 'never';
  // with threads, only kernels worth sharing are lowered and split for them (plan/worthSharing.ts)
  let claims = 0;
  const model = costModel(opts.sizes ?? new Map());
  const backwardStatements = grads.flatMap((g) => [g.statement, ...(g.scatters ?? [])]);
  const sharedOnes = opts.threads ? chooseShared([...p.statements, ...backwardStatements], ctx.shapeOf, model) : new Set();
  const workOf = (ss: readonly Statement[]) => ss.reduce((n, s) => n + workOfStatement(s, model), 0);
  const work = opts.threads ? { forward: workOf(p.statements), backward: workOf(backwardStatements) } : undefined;
  const lower = (s: Statement, prefix: string, c = ctx) => {
    const shared = sharedOnes.has(s);
    const lowered = lowerStatement(s, kernelName(prefix, s.tensor), c, shared ? opts : { ...opts, threads: false });
    return optimizeKernel(lowered, opts.optimize, wasm, shared ? (opts.sizes ?? new Map()) : undefined, () => claims++);
  };
  const forward = p.statements.map((s) => lower(s, 'forward'));
  // a gradient's scatter-adds (reads through integer data) run after its statement, into its array
  const backward = grads.flatMap((g) => [g.statement, ...(g.scatters ?? [])].map((s) => lower(s, 'backward')));
  // a forward no backward follows (compile's forward, the module's infer) writes no arg-max record:
  // a max or min statement lowered again without one, the other statements' kernels shared
  const unrecorded: LowerContext = { ...ctx, recordsArgmax: new Map() };
  const infer = recordsArgmax.size ? p.statements.map((s, i) => (recordsArgmax.has(s.tensor) ? lower(s, 'infer', unrecorded) : forward[i]!)) : undefined;
  const inputs = new Set(p.tensors.filter((t) => t.role === 'input').map((t) => t.name));
  const scratch = [...plan.made.filter((m) => m.phase === 'forward').map((m) => m.info.name), ...(sliced?.scratch ?? [])];
  const temporaries = temporariesOf(grads);
  const readsOf = (g: GradientStatement) => [g.statement, ...(g.scatters ?? [])].flatMap((s) => tensorsRead(s.rhs));
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
    ...(p.tensors.some((t) => t.elem === 'int') ? { data: p.tensors.filter((t) => t.elem === 'int').map((t) => t.name) } : {}),
    // a gradient reads what its temporaries and its scatter-adds read too (after an in-place forward, they would read the new values)
    gradientReads: Object.fromEntries(
      real.map((g) => [g.statement.tensor, [...new Set([g.statement.tensor, ...(temporaries[g.statement.tensor] ?? [])].flatMap((t) => reads.get(t)!))].filter((t) => inputs.has(t))]),
    ),
    ...(scratch.length ? { scratch } : {}),
    ...(Object.keys(temporaries).length ? { temporaries } : {}),
    ...(claims ? { claims } : {}),
    ...(work ? { work } : {}),
  };
  // shapes over the size parameters, in one scope so that each size is one symbol
  const scope = new KernelScope(ctx, opts);
  const shapes = p.tensors.map((t) => ({ tensor: t.name, dims: t.shape.map((d) => scope.sizeExpr(d)) }));
  const sizeParams = new Map<string, Sym>(scope.kernel('shapes', '', []).sizes.map((z) => [z.key, z.v] as const));
  return { source: p.source, dtype: opts.dtype, forward, backward, ...(infer ? { infer } : {}), info, shapes, sizeParams, micro: opts.micro };
}

export type { LoopModule, MicroModule };
