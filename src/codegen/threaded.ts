// threaded: the kernel compile(src, { threads: n }) returns — forward, backward and hvp as Promises,
// run by this thread and n − 1 worker threads (n workers on a page's main thread, which may not
// block; src/threads/pool.ts) over shared copies of every array.
//
// Worked example: k = compile('Y[i,j] = A[i,k]*B[k,j]', { sizes, threads: 2 }); await k.forward({ A, B }):
//   the inputs are checked as compile() checks them; A and B are copied into their twins in one
//   shared WebAssembly memory (which the WebAssembly kernels import: they run over it in place);
//   this thread and the worker run forward_Y, each its half of the GEMM's row blocks
//   (opt/splitParallelLoop.ts); then Y is copied out into a fresh array (or `out`), as one thread
//   would have returned it — bitwise the same numbers.
// Without shared memory (a browser page that is not cross-origin isolated) or with threads: 1 the
// kernels run on this thread, still behind Promises, and `threads` says 1.
import { SLACK } from '../target/wasm/printWasm.js';
import { CLAIMS_KEY } from '../opt/splitParallelLoop.js';
import type { Pool, ThreadModule } from '../threads/pool.js';

type DataArray = Float32Array | Float64Array;
export type Tensors = Record<string, DataArray | Int32Array>;
type Inputs = Record<string, DataArray | Int32Array | number>;
type Seeds = Record<string, DataArray | number>;

/** An array the kernels read or write: integer (arg-max records, integer data) or of the dtype. */
export interface ArraySpec {
  readonly int: boolean;
  readonly length: number;
}

/** What compile.ts hands over: its one-thread kernel, and the checking and copying steps around a run. */
export interface KernelParts {
  readonly kernel: {
    readonly inputs: string[];
    readonly outputs: string[];
    readonly shapes: Record<string, number[]>;
    readonly dtype: 'float32' | 'float64';
    readonly sizes: Record<string, number>;
    forward(inputs: Inputs, out?: Record<string, DataArray>): Record<string, DataArray>;
    backward(inputs: Inputs, seeds?: Seeds, out?: Record<string, DataArray>): Record<string, DataArray>;
  };
  /** the checked arrays of a call, outputs allocated (or the caller's), nothing run */
  prepareForward(inputs: Inputs, out?: Record<string, DataArray>): Tensors;
  /** `lazy`: only the arrays the call returns or was given (the rest stay in the workers' memory) */
  prepareBackward(inputs: Inputs, seeds?: Seeds, out?: Record<string, DataArray>, lazy?: boolean): Tensors;
  forwardResult(t: Tensors): Record<string, DataArray>;
  backwardResult(t: Tensors): Record<string, DataArray>;
  readonly module: Omit<ThreadModule, 'tensors' | 'memory'> & {
    readonly arrays: Readonly<Record<string, ArraySpec>>;
    /** copied in before a forward (inputs), and also before a backward (seeds) */
    readonly copyIn: readonly string[];
    readonly seeds: readonly string[];
    /** copied out after a forward (intermediates and outputs), and also after a backward (gradients) */
    readonly copyOut: readonly string[];
    readonly gradients: readonly string[];
    /** the work units of the forward's kernels and of the backward's (plan/worthSharing.ts) */
    readonly work?: { readonly forward: number; readonly backward: number };
  };
}

export interface ThreadedKernel {
  readonly inputs: string[];
  readonly outputs: string[];
  readonly shapes: Record<string, number[]>;
  readonly dtype: 'float32' | 'float64';
  readonly sizes: Record<string, number>;
  /** the worker threads that run the kernels: the number asked for, or 1 where the runtime has no
   *  shared memory (then the kernels run on the calling thread) */
  readonly threads: number;
  forward(inputs: Inputs, out?: Record<string, DataArray>): Promise<Record<string, DataArray>>;
  backward(inputs: Inputs, seeds?: Seeds, out?: Record<string, DataArray>): Promise<Record<string, DataArray>>;
  hvp?(inputs: Record<string, DataArray | number>, directions: Record<string, DataArray | number>): Promise<Record<string, DataArray>>;
  /** lets the workers go (the pool ends when no kernel uses it); later calls reject */
  dispose(): void;
}

let nextKey = 1;

interface WebAssemblyRuntime {
  WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: true }) => { buffer: ArrayBuffer } };
}

/** Where each array starts in the shared memory, and its end: 16-byte aligned, after SLACK bytes
 * (printWasm.ts folds small offsets into its accesses). */
function layout(arrays: Readonly<Record<string, ArraySpec>>, bytesPerElement: number): { at: Record<string, number>; end: number } {
  // no prototype: a tensor may be called __proto__
  const at: Record<string, number> = Object.create(null) as Record<string, number>;
  let end = SLACK;
  for (const [name, spec] of Object.entries(arrays)) {
    at[name] = end;
    end += Math.ceil((spec.length * (spec.int ? 4 : bytesPerElement) + SLACK) / 16) * 16;
  }
  return { at, end };
}

/** A WebAssembly memory holds at most 65 536 pages of 64 KiB: 4 GiB. */
const MAX_PAGES = 65536;

/** Does this runtime make shared WebAssembly memories? (Node; a browser page only when cross-origin isolated) */
export function sharedMemoryAvailable(): boolean {
  try {
    new (globalThis as unknown as WebAssemblyRuntime).WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

/** Do the arrays fit in one shared WebAssembly memory? (compile() runs on one thread when not) */
export function fitsSharedMemory(arrays: Readonly<Record<string, ArraySpec>>, dtype: 'float32' | 'float64'): boolean {
  return Math.ceil(layout(arrays, dtype === 'float32' ? 4 : 8).end / 65536) <= MAX_PAGES;
}

/** Every array the kernels touch, in one shared WebAssembly memory — the one the WebAssembly kernels
 * import, so that they run over the tensors in place (target/wasmKernels.ts). */
export function sharedArrays(arrays: Readonly<Record<string, ArraySpec>>, Arr: typeof Float32Array | typeof Float64Array): { memory: object; shared: Tensors } {
  const { at, end } = layout(arrays, Arr.BYTES_PER_ELEMENT);
  const pages = Math.max(1, Math.ceil(end / 65536));
  // compile() checked fitsSharedMemory
  if (pages > MAX_PAGES) throw new RangeError(`deltagrad: internal: the threads' tensors need ${Math.ceil(end / 2 ** 20)} MiB, more than one WebAssembly memory holds`);
  const memory = new (globalThis as unknown as WebAssemblyRuntime).WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const shared: Tensors = Object.create(null) as Tensors;
  for (const [name, spec] of Object.entries(arrays)) shared[name] = new (spec.int ? Int32Array : Arr)(memory.buffer, at[name]!, spec.length);
  return { memory, shared };
}

type Hvp = (inputs: Record<string, DataArray | number>, directions: Record<string, DataArray | number>) => Promise<Record<string, DataArray>>;

/** `release`: what dispose() lets go of besides (the H·v kernel hvp compiled); `threads`: the count
 * to report when it runs on this thread though threads were given (every kernel too small to share);
 * `forwardAlone`: the one-thread kernel forward calls run on when none of their kernels is shared. */
export function threadedKernel(
  parts: KernelParts,
  threaded: { pool: Pool; parts: number; forwardAlone?: () => KernelParts['kernel'] } | undefined,
  hvp: Hvp | undefined,
  release: () => void = () => {},
  threads = 1,
): ThreadedKernel {
  const k = parts.kernel;
  let disposed = false;
  const live = () => {
    if (disposed) throw new Error('deltagrad: this kernel was disposed (kernel.dispose()); compile it again to use it');
  };
  const base = { inputs: k.inputs, outputs: k.outputs, shapes: k.shapes, dtype: k.dtype, sizes: k.sizes, threads: threaded?.parts ?? threads };
  const hvpOf = hvp ? { hvp: async (inputs: Record<string, DataArray | number>, directions: Record<string, DataArray | number>) => (live(), hvp(inputs, directions)) } : {};
  if (!threaded) {
    return {
      ...base,
      forward: async (inputs, out) => (live(), k.forward(inputs, out)),
      backward: async (inputs, seeds, out) => (live(), k.backward(inputs, seeds, out)),
      ...hvpOf,
      dispose() {
        disposed = true;
        release();
      },
    };
  }
  const { pool } = threaded;
  const m = parts.module;
  const Arr = k.dtype === 'float32' ? Float32Array : Float64Array;
  const { memory, shared } = sharedArrays(m.arrays, Arr);
  const key = nextKey++;
  pool.load(key, { body: m.body, memory, tensors: shared, sizes: m.sizes, forward: m.forward, backward: m.backward });
  // before the workers start: the claim words zeroed (opt/splitParallelLoop.ts), the inputs copied in
  const claims = shared[CLAIMS_KEY];
  const copyIn = (t: Tensors, names: readonly string[]) => () => {
    claims?.fill(0);
    for (const n of names) shared[n]!.set(t[n]!);
  };
  const copyOut = (t: Tensors, names: readonly string[]) => () => {
    for (const n of names) t[n]!.set(shared[n]!);
  };
  return {
    ...base,
    async forward(inputs, out) {
      live();
      if (threaded.forwardAlone) return threaded.forwardAlone().forward(inputs, out);
      pool.nudge();
      const t = parts.prepareForward(inputs, out);
      await pool.run(key, ['forward'], copyIn(t, m.copyIn), copyOut(t, m.copyOut));
      return parts.forwardResult(t);
    },
    async backward(inputs, seeds, out) {
      live();
      pool.nudge();
      const t = parts.prepareBackward(inputs, seeds, out, true);
      // out of the shared memory: what backward returns and what the caller passed in `out`, no more
      const wanted = [...m.copyOut, ...m.gradients].filter((n) => t[n] !== undefined);
      await pool.run(key, ['forward', 'backward'], copyIn(t, [...m.copyIn, ...m.seeds]), copyOut(t, wanted));
      return parts.backwardResult(t);
    },
    ...hvpOf,
    dispose() {
      disposed = true;
      pool.unload(key);
      release();
    },
  };
}
