// compile / emit: the library entry points of the code generator.
//
// Worked example:
//   const k = compile('Y[i,j] = A[i,k]*X[k,j] + B[i,j]', { sizes: { I: 2, J: 2, K: 3 } });
//   k.forward({ A, X, B }).Y          — runs the emitted forward kernels
//   k.backward({ A, X, B }, { dY }).dX — forward again, then the gradient kernels: dX = Aᵀ·dY
// The kernels are the loop IR printed as JavaScript and made into functions with `new Function` (no
// TypeScript compiler, no formatter on this path; cached by source and options); `emit` prints the
// same kernels as a TypeScript module. Sizes, array lengths and dtypes are checked before any loop runs.
// With `threads: n` the same module, a parallel loop of each kernel split between n threads (this one
// and n − 1 workers; n workers on a page's main thread)
// (opt/splitParallelLoop.ts), runs on worker threads, behind Promises (threaded.ts, docs/threads.md).
import { differentiate } from '../diff/differentiate.js';
import { check } from '../ir/check.js';
import { resolveSizes, shapeOf, withConstants } from '../ir/evaluate.js';
import { sizeNames } from '../ir/sizes.js';
import type { Program } from '../ir/types.js';
import type { WasmMode } from '../opt/chooseTarget.js';
import { scalarOutputOf, writeHvpProgram, type HvpProgram } from '../diff/writeHvpProgram.js';
import { lowerProgram } from '../pipeline.js';
import { microModuleText } from '../target/micro.js';
import { printModule } from '../target/module.js';
import { SHARED_MEMORY_NAME } from '../target/wasmKernels.js';
import { compileWebgpu, type WebGpuCompileOptions, type WebGpuKernel } from './compileWebgpu.js';
import { emitProgram, type EmitOptions, type EmittedModule } from './emitTs.js';
import { assertSafeCode } from './safeText.js';
import { checkSharing, overlaps } from './sharing.js';
import { fitsSharedMemory, sharedArrays, sharedMemoryAvailable, threadedKernel, type ArraySpec, type KernelParts, type Tensors, type ThreadedKernel } from './threaded.js';
import { CLAIMS_KEY } from '../opt/splitParallelLoop.js';
import { callWorthWorkers, sharingEveryKernel } from '../plan/worthSharing.js';
import { callingThreadTakesPart, Pool, threadsAvailable, type ThreadModule } from '../threads/pool.js';

export type Dtype = 'float32' | 'float64';
export type DataArray = Float32Array | Float64Array;

export interface CompileOptions {
  /** 'js' (the default); `{ target: 'webgpu' }` takes WebGpuCompileOptions */
  readonly target?: 'js';
  readonly sizes?: Record<string, number>;
  readonly dtype?: Dtype;
  /** false: the naive loop nest (for benchmarks) */
  readonly optimize?: boolean;
  /** false: matmul-shaped kernels in plain JavaScript instead of a WebAssembly SIMD micro-kernel, and no kernel in WebAssembly */
  readonly simd?: boolean;
  /** which kernels run as WebAssembly (with simd): 'auto' by the cost rule (the default), 'always' every one that can, 'never' none */
  readonly wasm?: WasmMode;
  /** values for the program's named constants (`const eps = 1e-5`) in place of theirs */
  readonly constants?: Record<string, number>;
  /** the inputs whose gradients backward computes (default: every input): no kernel for the others */
  readonly wrt?: readonly string[];
  /** run the kernels on this many worker threads; forward, backward and hvp then return Promises (docs/threads.md) */
  readonly threads?: number;
}

export interface Kernel {
  readonly inputs: string[];
  readonly outputs: string[];
  readonly shapes: Record<string, number[]>;
  readonly dtype: Dtype;
  readonly sizes: Record<string, number>;
  /** `out`: preallocated arrays for outputs and intermediates (reused across calls, no page faults on fresh memory) */
  /** integer inputs (declared int) take an Int32Array or an array of whole numbers */
  forward(inputs: Record<string, DataArray | Int32Array | number>, out?: Record<string, DataArray>): Record<string, DataArray>;
  /** `out`: preallocated arrays for the gradients (dX …) and the forward's outputs and intermediates */
  backward(inputs: Record<string, DataArray | Int32Array | number>, seeds?: Record<string, DataArray | number>, out?: Record<string, DataArray>): Record<string, DataArray>;
  /** with one scalar output: the Hessian-vector product H·v for directions keyed by input name
   *  ({ x: v }; one left out is 0), keyed dX like backward — without forming the Hessian */
  hvp?(inputs: Record<string, DataArray | Int32Array | number>, directions: Record<string, DataArray | number>): Record<string, DataArray>;
}

type KernelFn = (t: Record<string, DataArray | Int32Array>, s: Record<string, number>) => void;
interface LoadedModule {
  /** each kernel's name and whether its work is split between worker threads, in order */
  readonly schedule: Pick<ThreadModule, 'forward' | 'backward'>;
  readonly forward: KernelFn;
  readonly backward: KernelFn;
  /** the forward without arg-max records (a program with a max or min statement), for forward() alone */
  readonly infer?: KernelFn;
  /** every tensor's shape, the planner's intermediates' too */
  readonly shapes: (s: Record<string, number>) => Record<string, number[]>;
  readonly emitted: EmittedModule;
  readonly program: Program;
  /** does a kernel run as WebAssembly? (then one thread runs in place: partsOf) */
  readonly runsWasm: boolean;
}

const moduleCache = new Map<string, LoadedModule>();

const wrtOf = (opts: { wrt?: readonly string[] }) => (opts.wrt ? { wrt: opts.wrt } : {});

function build(source: string, opts: EmitOptions & { constants?: Record<string, number>; wrt?: readonly string[] }): { program: Program; emitted: EmittedModule } {
  const program = withConstants(check(source), opts.constants);
  const grads = differentiate(program, { unitScalarSeeds: false, steps: false, ...wrtOf(opts) });
  return { program, emitted: emitProgram(program, grads, opts) };
}

const OPTION_CHECKS: Record<string, (v: unknown) => string | undefined> = {
  dtype: (v) => (v === 'float32' || v === 'float64' ? undefined : `dtype must be 'float32' or 'float64', got ${describe(v)}`),
  optimize: (v) => (typeof v === 'boolean' ? undefined : `optimize must be true or false, got ${describe(v)}`),
  simd: (v) => (typeof v === 'boolean' ? undefined : `simd must be true or false, got ${describe(v)}`),
  wasm: (v) => (v === 'auto' || v === 'always' || v === 'never' ? undefined : `wasm must be 'auto', 'always' or 'never', got ${describe(v)}`),
  constants: (v) => {
    if (v === null || typeof v !== 'object') return `constants must be an object of numbers, e.g. { eps: 1e-5 }, got ${describe(v)}`;
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'number' || Number.isNaN(x)) return `constant ${k} must be a number, got ${describe(x)}`;
    return undefined;
  },
  threads: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 256 ? undefined : `threads must be a whole number from 1 to 256, got ${describe(v)}`),
  wrt: (v) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : `wrt must be an array of input names, e.g. ['W', 'b'], got ${describe(v)}`),
  target: (v) => (v === 'ts' || v === 'js' ? undefined : `target must be 'ts' (a TypeScript module) or 'js' (a JavaScript ES module), got ${describe(v)}`),
  sizes: (v) => {
    if (v === null || typeof v !== 'object') return `sizes must be an object of whole numbers, e.g. { N: 32 }, got ${describe(v)}`;
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) return `size ${k} must be a whole number ≥ 0, got ${describe(x)}`;
    return undefined;
  },
};
const describe = (v: unknown) => (typeof v === 'string' ? `'${v}'` : typeof v === 'object' && v !== null ? (Array.isArray(v) ? 'an array' : 'an object') : String(v));

/** Options are checked, never ignored: a misspelt or mistyped one (`{ dtype: 'int8' }`) is an error. */
function checkOptions(fn: string, opts: unknown, allowed: readonly string[]): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object') throw new Error(`${fn}: options must be an object (${allowed.join(', ')}), got ${describe(opts)}`);
  for (const [k, v] of Object.entries(opts)) {
    if (!allowed.includes(k)) throw new Error(`${fn}: unknown option ${k} (options: ${allowed.join(', ')})`);
    if (v === undefined) continue;
    const problem = OPTION_CHECKS[k]!(v);
    if (problem) throw new Error(`${fn}: ${problem}`);
  }
}
const EMIT_OPTIONS = ['dtype', 'optimize', 'simd', 'wasm', 'sizes', 'constants', 'target', 'wrt'] as const;
const COMPILE_OPTIONS = ['dtype', 'optimize', 'simd', 'wasm', 'sizes', 'constants', 'wrt', 'threads'] as const;

/** The TypeScript module of forward/backward kernels for a program; `wrt`: only those inputs' gradients. */
export function emit(source: string, opts: EmitOptions & { sizes?: Record<string, number>; constants?: Record<string, number>; wrt?: readonly string[] } = {}): string {
  checkOptions('emit', opts, EMIT_OPTIONS);
  return build(source, opts).emitted.text;
}

/** emit, as a Promise (the text is the same: emit needs no formatter and does not block on one). */
export async function emitAsync(
  source: string,
  opts: EmitOptions & { sizes?: Record<string, number>; constants?: Record<string, number>; wrt?: readonly string[] } = {},
): Promise<string> {
  checkOptions('emitAsync', opts, EMIT_OPTIONS);
  return emit(source, opts);
}

/** The kernels for a program, cached; the planner counts with the sizes given (src/plan/costs.ts). */
function load(
  source: string,
  dtype: Dtype,
  optimize: boolean,
  simd: boolean,
  wasm: WasmMode,
  constants: Record<string, number> | undefined,
  wrt: readonly string[] | undefined,
  sizes: Record<string, number>,
  threaded = false,
): LoadedModule {
  const key = `${threaded}${threaded && sharingEveryKernel() ? ' every' : ''}\u0000${dtype}\u0000${optimize}\u0000${simd}\u0000${wasm}\u0000${JSON.stringify(constants ?? {})}\u0000${wrt?.join(',') ?? ''}\u0000${JSON.stringify(sizes)}\u0000${source}`;
  const hit = moduleCache.get(key);
  if (hit) return hit;
  const program = withConstants(check(source), constants);
  const grads = differentiate(program, { unitScalarSeeds: false, steps: false, ...(wrt ? { wrt } : {}) });
  const known = new Map<string, number>(program.sizes.flatMap((z) => (z.default !== undefined ? [[z.name, z.default] as const] : [])));
  for (const [k, v] of Object.entries(sizes)) known.set(k, v);
  const mod = lowerProgram(program, grads, { dtype, optimize, simd, wasm, micro: microModuleText, sizes: known, threads: threaded });
  const text = assertSafeCode(printModule(mod, 'js-body', { sharedMemory: threaded }));
  const exports = instantiate(text);
  const order = (ks: typeof mod.forward) => ks.map((k) => [k.name, k.threads === 'split'] as const);
  const m: LoadedModule = {
    schedule: { forward: order(mod.forward), backward: order(mod.backward) },
    forward: exports.forward as KernelFn,
    backward: exports.backward as KernelFn,
    ...(exports.infer ? { infer: exports.infer as KernelFn } : {}),
    shapes: exports.shapes as LoadedModule['shapes'],
    emitted: { text, info: mod.info },
    program,
    runsWasm: [...mod.forward, ...mod.backward].some((k) => k.runs === 'wasm'),
  };
  moduleCache.set(key, m);
  return m;
}

/** The kernels' functions from their JavaScript body; a page whose Content-Security-Policy forbids
 * `new Function` gets an error that says what to use instead. */
function instantiate(body: string, memory?: object): Record<string, unknown> {
  let make: (memory?: object) => unknown;
  try {
    // a threaded (or in-place) body's WebAssembly kernels import the memory the tensors live in
    // ($memory): the module's cached copy (shapes, checks) never runs them; the pool and an in-place
    // kernel make their own over their memory
    make = new Function(SHARED_MEMORY_NAME, body) as (memory?: object) => unknown;
  } catch (e) {
    if (!(e instanceof EvalError)) throw e;
    throw new EvalError(
      "compile: this page's Content-Security-Policy forbids `new Function`, which compile() needs; use the precompiled kernels of 'deltagrad/generated', or emit(source, { target: 'js' }) ahead of time and bundle the module it gives (docs/package.md)",
      { cause: e },
    );
  }
  return make(memory) as Record<string, unknown>;
}

const ArrayOf = (dtype: Dtype) => (dtype === 'float32' ? Float32Array : Float64Array);

/** Compile a program for given sizes and dtype: JavaScript kernels, or with `target: 'webgpu'` WGSL
 * compute shaders (compileWebgpu.ts) whose forward and backward return Promises. */
export function compile(source: string, opts: WebGpuCompileOptions): WebGpuKernel;
export function compile(source: string, opts: CompileOptions & { readonly threads: number }): ThreadedKernel;
export function compile(source: string, opts?: CompileOptions): Kernel;
export function compile(source: string, options: CompileOptions | WebGpuCompileOptions = {}): Kernel | WebGpuKernel | ThreadedKernel {
  const target = (options as { target?: unknown } | null)?.target;
  if (target === 'webgpu') return compileWebgpu(source, options as WebGpuCompileOptions);
  if (target !== undefined && target !== 'js') throw new Error(`compile: target must be 'js' (the default) or 'webgpu', got ${describe(target)}`);
  const { target: _js, ...opts } = (options ?? {}) as CompileOptions;
  checkOptions('compile', opts, COMPILE_OPTIONS);
  if (opts.threads !== undefined) return compileThreaded(source, opts, opts.threads);
  return compileWith(source, opts);
}

/** compile with threads: the kernels on `threads` threads (this one among them where it may block), behind Promises. */
function compileThreaded(source: string, opts: CompileOptions, threads: number, wrt?: readonly string[]): ThreadedKernel {
  const { threads: _n, ...plain } = opts;
  let parts = threads > 1 && threadsAvailable() ? threads : 1;
  let made = parts > 1 ? partsOf(source, plain, wrt, true) : onThisThread(source, plain, wrt);
  // past 4 GiB of tensors no shared WebAssembly memory holds them: one thread, as without shared memory
  if (parts > 1 && !fitsSharedMemory(made.module.arrays, made.kernel.dtype)) {
    parts = 1;
    made = onThisThread(source, plain, wrt);
  }
  // the H·v kernel, compiled on the first hvp call, shares the workers and is disposed with this one
  let inner: ThreadedKernel | undefined;
  const make = (h: HvpProgram) => (inner = compileThreaded(h.source, opts, threads, h.wrt));
  const hvp = made.hvpProgram ? hvpOf(made.hvpProgram, make, made.hvpInputs!, made.count, made.dataInputs) : undefined;
  const release = () => inner?.dispose();
  if (parts === 1) return threadedKernel(made, undefined, hvp, release);
  // kernels too small to share run whole (plan/worthSharing.ts); a call whose kernels all run whole
  // runs on this thread alone, as compile() without threads would: no worker to wake, no copies.
  // So does a call on a page with too little work to pay for handing it to the workers.
  const shares = (phase: 'forward' | 'backward') => made.module[phase].some(([, split]) => split);
  const work = made.module.work ?? { forward: Infinity, backward: Infinity };
  const onPage = !callingThreadTakesPart();
  const worth = (units: number) => callWorthWorkers(units, onPage);
  const sharedForward = shares('forward') && worth(work.forward);
  const sharedBackward = (shares('forward') || shares('backward')) && worth(work.forward + work.backward);
  if (!sharedBackward) return threadedKernel(onThisThread(source, plain, wrt), undefined, hvp, release, parts);
  let alone: Kernel | undefined;
  const forwardAlone = sharedForward ? undefined : () => (alone ??= onThisThread(source, plain, wrt).kernel);
  return threadedKernel(made, { pool: Pool.of(parts), parts, ...(forwardAlone ? { forwardAlone } : {}) }, hvp, release);
}

/** compile, differentiating with respect to `wrt` only (the Hessian-vector product's program). */
function compileWith(source: string, opts: CompileOptions, wrt?: readonly string[]): Kernel {
  const parts = onThisThread(source, opts, wrt);
  return parts.hvpProgram ? { ...parts.kernel, hvp: hvpOf(parts.hvpProgram, (h) => compileWith(h.source, opts, h.wrt), parts.hvpInputs!, parts.count, parts.dataInputs) } : parts.kernel;
}

/** The kernel for one thread: in place where it runs WebAssembly kernels and memories can be shared.
 * (WebAssembly kernels copy their tensors into their module's memory and back at every call; in
 * place, every tensor lives in one memory they all run over, as the threads' do, and a call copies
 * only its inputs in and its results out.) */
function onThisThread(source: string, opts: CompileOptions, wrt: readonly string[] | undefined): ReturnType<typeof partsOf> {
  const parts = partsOf(source, opts, wrt, false);
  return parts.runsWasm && sharedMemoryAvailable() && fitsSharedMemory(parts.module.arrays, parts.kernel.dtype) ? partsOf(source, opts, wrt, false, true) : parts;
}

/** A compiled program's kernel and the pieces a threaded one is made of (threaded.ts). */
function partsOf(
  source: string,
  opts: CompileOptions,
  wrt: readonly string[] | undefined,
  threaded: boolean,
  inPlace = false,
): KernelParts & { count: (name: string) => number; runsWasm: boolean; hvpProgram?: Program; hvpInputs?: readonly string[]; dataInputs?: readonly string[] } {
  const dtype = opts.dtype ?? 'float64';
  // in place, one thread runs the threads' code (every tensor in one memory) as part 0 of 1
  const inMemory = threaded || inPlace;
  const m = load(source, dtype, opts.optimize ?? true, opts.simd ?? true, opts.wasm ?? 'auto', opts.constants, wrt ?? opts.wrt, opts.sizes ?? {}, inMemory);
  const p = m.program;
  const info = m.emitted.info;
  const sizes = resolveSizes(p, {}, opts.sizes ?? {});
  const missing = [...new Set(p.tensors.flatMap((t) => t.shape.flatMap(sizeNames)))].filter((n) => !sizes.has(n));
  if (missing.length) throw new Error(`compile needs values for the sizes ${missing.join(', ')}: compile(source, { sizes: { ${missing.map((n) => `${n}: …`).join(', ')} } })`);
  const sizeRecord = Object.fromEntries(p.sizes.map((s) => [s.name, sizes.get(s.name) ?? 0]));
  const shapes: Record<string, number[]> = {};
  for (const t of p.tensors) {
    if (t.role === 'constant') continue;
    // shapeOf rejects a negative dimension (conv2d at H = 1, P = 0) with the message this used to give
    shapes[t.name] = shapeOf(p, t.name, sizes);
  }
  const count = (name: string) => (shapes[name] ?? []).reduce((a, b) => a * b, 1);
  const Arr = ArrayOf(dtype);
  // the planner's intermediates (forward) and temporaries (backward), which the caller never sees:
  // allocated once and reused by every call (a fresh array costs its page faults on every call)
  const inner = info.scratch?.length || info.temporaries ? m.shapes(sizeRecord) : {};
  const elements = (name: string) => (shapes[name] ?? inner[name] ?? []).reduce((a, b) => a * b, 1);
  const temporaries = [...new Set(Object.values(info.temporaries ?? {}).flat())];
  const kept = new Map<string, DataArray>();
  const innerArray = (name: string) => kept.get(name) ?? (kept.set(name, new Arr(elements(name))), kept.get(name)!);
  // the arg-max records too: the forward writes every element before the backward reads one, and a
  // fresh Int32Array per call cost its zeroing and page faults (70 µs of a 50 µs max-pool forward)
  const records = new Map<string, Int32Array>();
  const record = (r: string) => records.get(r) ?? (records.set(r, new Int32Array(elements(r.replace(/_argmax$/, '')))), records.get(r)!);

  const data = new Set(info.data ?? []);
  /** Integer data: an Int32Array, or an array of whole numbers (copied into one), or one for a scalar. */
  const takeData = (name: string, v: unknown): Int32Array => {
    const n = count(name);
    const shape = `shape [${shapes[name]!.join(', ')}]`;
    if (typeof v === 'number' && shapes[name]!.length === 0) v = [v];
    if (v instanceof Int32Array || Array.isArray(v)) {
      if (v.length !== n) throw new Error(`input ${name} has ${v.length} elements but its ${shape} needs ${n}`);
      if (v instanceof Int32Array) return v;
      const bad = v.findIndex((x) => !Number.isInteger(x) || x !== (x | 0));
      if (bad >= 0) throw new Error(`input ${name} is integer data (declared int): its element ${bad} is ${String(v[bad])}`);
      return Int32Array.from(v as number[]);
    }
    throw new Error(`input ${name} is integer data (declared int): pass an Int32Array (or an array of whole numbers) of ${n} elements (${shape}), got ${(v as object)?.constructor?.name ?? typeof v}`);
  };
  const take = (kind: 'input' | 'seed' | 'output', name: string, v: DataArray | number | undefined, shapeName: string): DataArray => {
    const n = count(shapeName);
    if (v === undefined) throw new Error(`missing ${kind} ${name}: expected ${dtype === 'float32' ? 'a Float32Array' : 'a Float64Array'} of ${n} elements (shape [${shapes[shapeName]!.join(', ')}])`);
    if (typeof v === 'number') {
      if (n !== 1) throw new Error(`${kind} ${name} must be an array of ${n} elements (shape [${shapes[shapeName]!.join(', ')}]), got a number`);
      return Arr.of(v);
    }
    if (!(v instanceof Arr)) throw new Error(`${kind} ${name} must be a ${Arr.name} (dtype ${dtype}), got ${(v as object)?.constructor?.name ?? typeof v}`);
    if (v.length !== n) throw new Error(`${kind} ${name} has ${v.length} elements but its shape [${shapes[shapeName]!.join(', ')}] needs ${n}`);
    return v;
  };

  const forwardNames = [...info.intermediates, ...info.outputs];
  // sets, not lists: a program of 10 000 inputs checks each name in constant time
  const inputSet = new Set(info.inputs);
  const seedSet = new Set(info.seeds);
  /** The caller's output arrays, checked: known names, the right type and length, no memory shared
   * with an input (unless the program may update it in place) or with another array. */
  const given = (out: Record<string, DataArray> | undefined, allowed: readonly string[], t: Record<string, DataArray | Int32Array>): string[] => {
    if (out === undefined) return [];
    if (out === null || typeof out !== 'object') throw new Error('out must be an object of output arrays, e.g. { Y }');
    const names = Object.keys(out).filter((k) => out[k] !== undefined);
    const allowedSet = new Set(allowed);
    for (const k of names) if (!allowedSet.has(k)) throw new Error(`${k} is not an output here (out may hold ${allowed.join(', ')})`);
    for (const k of names) t[k] = take('output', k, out[k], k.startsWith('d') && !shapes[k] ? k.slice(1) : k);
    return names;
  };
  /** `lazy` (threads): the intermediates and gradients the call returns or was given, and no others —
   *  the workers keep the rest in their shared memory, and nothing need be copied out of it */
  const prepareForward = (inputs: Record<string, DataArray | Int32Array | number>, out: Record<string, DataArray> | undefined, extra: readonly string[] = [], records = true, lazy = false) => {
    if (inputs === null || typeof inputs !== 'object') throw new Error('forward takes an object of input arrays, e.g. { X, W }');
    for (const k of Object.keys(inputs)) if (!inputSet.has(k)) throw new Error(`${k} is not an input of the program (inputs: ${info.inputs.join(', ')})`);
    const t: Record<string, DataArray | Int32Array> = Object.create(null) as Record<string, DataArray | Int32Array>;
    for (const name of info.inputs) t[name] = data.has(name) ? takeData(name, inputs[name]) : take('input', name, inputs[name] as DataArray | number | undefined, name);
    const mine = given(out, [...forwardNames, ...extra], t);
    checkSharing('', info, t, mine);
    if (!lazy) for (const name of forwardNames) t[name] ??= new Arr(count(name));
    // the planner's scratch and the arg-max records of kernels that run over one memory live there
    if (!inMemory) for (const name of info.scratch ?? []) t[name] = innerArray(name);
    if (records && !inMemory) for (const r of info.records) t[r] = record(r);
    return t;
  };
  const forwardResult = (t: Tensors) => Object.fromEntries(forwardNames.map((n) => [n, t[n] as DataArray]));
  /** the gradients backward() returns */
  const returned = (wrt ?? opts.wrt ?? info.inputs).filter((n) => !data.has(n)).map((n) => `d${n}`);
  const backwardResult = (t: Tensors) => Object.fromEntries(returned.map((g) => [g, t[g] as DataArray]));
  const prepareBackward = (inputs: Record<string, DataArray | Int32Array | number>, seeds: Record<string, DataArray | number>, out: Record<string, DataArray> | undefined, lazy = false) => {
    for (const k of Object.keys(seeds)) if (!seedSet.has(k)) throw new Error(`${k} is not a seed of the program (seeds: ${info.seeds.join(', ')}; a seed is d + an output's name)`);
    const seedArrays: Record<string, DataArray> = {};
    for (const s of info.seeds) {
      const of = s.slice(1);
      const scalar = count(of) === 1 && shapes[of]!.length === 0;
      seedArrays[s] = take('seed', s, seeds[s] ?? (scalar ? 1 : undefined), of);
    }
    // the gradients' arrays are checked with the forward's (they must not share memory with any)
    const t = prepareForward(inputs, out, info.gradients, true, lazy);
    // a seed is read after the forward has written its outputs: it may share memory with no output
    for (const [k, v] of Object.entries(seedArrays)) {
      for (const q of [...forwardNames, ...info.gradients]) if (t[q] && overlaps(v, t[q])) throw new Error(`seed ${k} shares memory with ${q}, which the kernels write: pass a separate array`);
      t[k] = v;
    }
    for (const g of lazy ? returned : info.gradients) t[g] ??= new Arr(count(g.slice(1)));
    if (!inMemory) for (const name of temporaries) t[name] = innerArray(name);
    return t;
  };
  // every array the kernels touch, for the workers' shared copies (threaded.ts) and in place
  const arrays: Record<string, ArraySpec> = Object.create(null) as Record<string, ArraySpec>;
  for (const n of [...info.inputs, ...forwardNames]) arrays[n] = { int: data.has(n), length: count(n) };
  for (const n of [...info.seeds, ...info.gradients]) arrays[n] = { int: false, length: count(n.slice(1)) };
  for (const n of [...(info.scratch ?? []), ...temporaries]) arrays[n] = { int: false, length: elements(n) };
  for (const r of info.records) arrays[r] = { int: true, length: elements(r.replace(/_argmax$/, '')) };
  // the words threads claim loop iterations by, zeroed before every call (no tensor name has a #)
  if (info.claims) arrays[CLAIMS_KEY] = { int: true, length: info.claims };
  // in place: the memory and the module's own instance over it, made on the first call (compile()
  // allocates nothing for the tensors)
  let arena: { views: Tensors; fns: Record<string, KernelFn> } | undefined;
  const partSizes = { ...sizeRecord, '#part': 0, '#parts': 1 };
  const written = [...forwardNames, ...info.gradients];
  const runInPlace = (fns: readonly ('forward' | 'backward' | 'infer')[], t: Tensors, given: readonly string[]) => {
    if (!arena) {
      const { memory, shared } = sharedArrays(arrays, Arr);
      arena = { views: shared, fns: instantiate(m.emitted.text, memory) as Record<string, KernelFn> };
    }
    const { views, fns: run } = arena;
    views[CLAIMS_KEY]?.fill(0);
    for (const n of given) views[n]!.set(t[n]!);
    for (const f of fns) run[f]!(views, partSizes);
    for (const n of written) if (t[n]) t[n]!.set(views[n]!);
  };
  const kernel: Kernel = {
    inputs: [...info.inputs],
    outputs: [...info.outputs],
    shapes,
    dtype,
    sizes: sizeRecord,
    // no backward follows this forward: it writes no arg-max record (nor allocates one)
    forward(inputs, out) {
      if (inPlace) {
        const t = prepareForward(inputs, out, [], false);
        runInPlace([m.infer ? 'infer' : 'forward'], t, info.inputs);
        return forwardResult(t);
      }
      const t = prepareForward(inputs, out, [], !m.infer);
      (m.infer ?? m.forward)(t, sizeRecord);
      return forwardResult(t);
    },
    backward(inputs, seeds = {}, out) {
      if (inPlace) {
        // only what backward returns, and the arrays given in out, come back out of the memory
        const t = prepareBackward(inputs, seeds, out, true);
        runInPlace(['forward', 'backward'], t, [...info.inputs, ...info.seeds]);
        return backwardResult(t);
      }
      const t = prepareBackward(inputs, seeds, out);
      m.forward(t, sizeRecord);
      m.backward(t, sizeRecord);
      return backwardResult(t);
    },
  };
  return {
    kernel,
    prepareForward: (inputs, out) => prepareForward(inputs, out),
    prepareBackward: (inputs, seeds = {}, out, lazy) => prepareBackward(inputs, seeds, out, lazy),
    forwardResult,
    backwardResult,
    count,
    runsWasm: m.runsWasm,
    module: { body: m.emitted.text, arrays, sizes: sizeRecord, ...m.schedule, copyIn: info.inputs, seeds: info.seeds, copyOut: forwardNames, gradients: info.gradients, ...(info.work ? { work: info.work } : {}) },
    // one scalar output: H·v by reverse over reverse, compiled on the first call (src/diff/writeHvpProgram.ts)
    // (through integer data too: the += of its gradient is differentiated like any statement; data
    // takes no direction)
    ...(!wrt && scalarOutputOf(p) !== undefined ? { hvpProgram: p, hvpInputs: info.inputs.filter((n) => !data.has(n)), dataInputs: [...data] } : {}),
  };
}

/** The `hvp` of a compiled program: the gradient of Σ⟨∇f, v⟩, keyed dX like backward's (`make`
 * compiles the H·v program: a Kernel, or a ThreadedKernel whose hvp returns a Promise). */
function hvpOf<K extends Kernel | ThreadedKernel>(p: Program, make: (h: HvpProgram) => K, inputs: readonly string[], count: (name: string) => number, data: readonly string[] = []): (given: Record<string, DataArray | number>, directions: Record<string, DataArray | number>) => ReturnType<K['backward']> {
  let compiled: { h: HvpProgram; k: K } | undefined;
  return (given, directions) => {
    if (directions === null || typeof directions !== 'object') throw new Error('hvp takes the inputs and the directions, an object keyed by input name, e.g. hvp({ x, A }, { x: v })');
    for (const k of Object.keys(directions)) if (data.includes(k)) throw new Error(`${k} is integer data (declared int): it takes no direction — the Hessian-vector product moves the real inputs only (${inputs.join(', ')})`);
    for (const k of Object.keys(directions)) if (!inputs.includes(k)) throw new Error(`${k} is not an input of the program (inputs: ${inputs.join(', ')}): a direction is keyed by the input it moves`);
    if (!compiled) {
      const h = writeHvpProgram(p);
      compiled = { h, k: make(h) };
    }
    const { h, k } = compiled;
    const Arr = ArrayOf(k.dtype);
    const all: Record<string, DataArray | Int32Array | number> = { ...given };
    // a direction left out is 0
    for (const x of inputs) all[h.directions[x]!] = directions[x] ?? (k.shapes[x]!.length ? new Arr(count(x)) : 0);
    const seeds: Record<string, number | DataArray> = {};
    for (const o of k.outputs) seeds[`d${o}`] = o === h.output ? 1 : k.shapes[o]!.length ? new Arr(k.shapes[o]!.reduce((a, b) => a * b, 1)) : 0;
    const pick = (r: Record<string, DataArray>) => Object.fromEntries(inputs.map((x) => [`d${x}`, r[`d${x}`]!]));
    const r = k.backward(all, seeds);
    return (r instanceof Promise ? r.then(pick) : pick(r)) as ReturnType<K['backward']>;
  };
}
