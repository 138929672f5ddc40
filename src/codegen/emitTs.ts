// emitTs: a program's kernels → one TypeScript module (printed from the loop IR, formatted by prettier).
//
// Worked example: for `Y[i,j] = A[i,k]*X[k,j] + B[i,j]` the module exports
//   forward_Y(t: { A: Float64Array; X: Float64Array; B: Float64Array; Y: Float64Array }, s: { I: number; J: number; K: number }): void
//   backward_dA(…), backward_dX(…), backward_dB(…)
//   forward(t, s), backward(t, s)   — every statement kernel in order
//   shapes(s)                        — the shape of every tensor for given sizes
//   program                          — names of inputs, outputs, seeds, gradients and sizes
// Kernels are size-generic: sizes are arguments, so one module serves every size.
// emitProgram formats through @prettier/sync (blocking); emitProgramAsync through a worker of our
// own (formatWorker.mjs), which loads prettier while this thread derives and lowers.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
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
}

/** Prettier options, pinned so the emitted bytes never change with a user's configuration. */
// babel-ts is prettier's other TypeScript parser: it formats these modules in about half the time of
// `typescript`, to the same bytes (compared on every layer at both dtypes, optimized and naive, and
// on 800 random programs of the property tests).
// quoteProps 'preserve': a key stays quoted as the emitter wrote it (non-ASCII names stay strings, never identifiers)
export const PRETTIER_OPTIONS = { parser: 'babel-ts', printWidth: 120, singleQuote: true, trailingComma: 'all', semi: true, tabWidth: 2, quoteProps: 'preserve' } as const;

// prettier is loaded on first use, so importing the emitter — as `derive` and `import 'deltagrad'`
// do — costs nothing. require, not import(): a CommonJS package imported from ESM is lexed for its
// export names first.
const requireCjs = createRequire(import.meta.url);

let prettierSync: { format(text: string, options: object): string } | undefined;

/** Prettier-format TypeScript with the pinned options. Blocks on @prettier/sync's worker (prettier 3
 * is async-only); that worker starts, and loads prettier, on the first call. */
export function formatTs(text: string): string {
  prettierSync ??= requireCjs('@prettier/sync') as { format(text: string, options: object): string };
  return prettierSync.format(text, PRETTIER_OPTIONS);
}

// The async path formats in a worker of our own (formatWorker.mjs), started with an empty execArgv
// so that prettier loads without the parent's TypeScript loader, and running while this thread
// builds the next module. The worker is unref'd whenever nothing is pending: it never keeps the
// process alive.
let worker: Worker | undefined;
const pending = new Map<number, { resolve: (text: string) => void; reject: (e: Error) => void }>();
let nextId = 0;

function formatWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL('./formatWorker.mjs', import.meta.url), { execArgv: [], workerData: { options: PRETTIER_OPTIONS } });
  w.on('message', (m: { id: number; text?: string; error?: string }) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (!pending.size) w.unref();
    if (m.error !== undefined) p?.reject(new Error(`prettier: ${m.error}`));
    else p?.resolve(m.text!);
  });
  const fail = (e: Error) => {
    for (const p of pending.values()) p.reject(e);
    pending.clear();
    if (worker === w) worker = undefined;
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`the prettier worker exited (code ${code})`)));
  w.unref();
  return (worker = w);
}

/** Start the formatting worker now, so that it loads and warms prettier while this thread works;
 * formatTsAsync would start it anyway, but only once the first module is built. */
export function startFormatter(): void {
  formatWorker();
}

/** The same bytes as formatTs, formatted in the worker. */
export function formatTsAsync(text: string): Promise<string> {
  const w = formatWorker();
  return new Promise((resolve, reject) => {
    const id = nextId++;
    if (!pending.size) w.ref();
    pending.set(id, { resolve, reject });
    w.postMessage({ id, text });
  });
}

export type { ModuleInfo };

export interface EmittedModule {
  readonly text: string;
  readonly info: ModuleInfo;
}

/** The module before formatting: printed from the loop IR (src/target/module.ts). */
export function buildModule(p: Program, grads: readonly GradientStatement[], opts: EmitOptions = {}): { raw: string; info: ModuleInfo } {
  const mod = lowerProgram(p, grads, { dtype: opts.dtype ?? 'float64', optimize: opts.optimize ?? true, simd: opts.simd ?? true, micro: microModuleText });
  return { raw: printModule(mod, 'ts'), info: mod.info };
}

/** A program's kernels as one prettier-formatted TypeScript module. */
export function emitProgram(p: Program, grads: readonly GradientStatement[], opts: EmitOptions = {}): EmittedModule {
  const { raw, ...rest } = buildModule(p, grads, opts);
  return { text: assertSafeCode(formatTs(raw)), ...rest };
}

/** emitProgram without blocking: the same bytes, formatted in the worker while this thread goes on. */
export async function emitProgramAsync(p: Program, grads: readonly GradientStatement[], opts: EmitOptions = {}): Promise<EmittedModule> {
  startFormatter();
  const { raw, ...rest } = buildModule(p, grads, opts);
  return { text: assertSafeCode(await formatTsAsync(raw)), ...rest };
}
