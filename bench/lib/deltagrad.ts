// deltagrad: emitted kernel modules, loaded from the text `emit` returns, so single kernels
// (forward_Y, backward_dX, …) can be timed on their own.
//
// Worked example:
//   const m = kernels(CONV_SOURCE, 'float32', true);
//   m.backward_dK({ dK, X, dY }, sizes)   — only the weight gradient, no forward pass
import { emit } from '../../src/codegen/compile.js';
import { loadModule } from '../../test/helpers.js';
import { baseline, usingBaseline } from './baseline.js';

export type Arr = Float32Array | Float64Array;
export type Kernel = (t: Record<string, Arr | Int32Array>, s: Record<string, number>) => void;
export type Dt = 'f32' | 'f64';
export interface KernelModule {
  readonly [name: string]: Kernel;
}

const cache = new Map<string, { text: string; module: KernelModule }>();

/** which kernels run as WebAssembly: the cost rule's choice, or all of them one way (compile's `wasm`) */
export type WasmChoice = 'auto' | 'always' | 'never';

function load(source: string, dt: Dt, optimize: boolean, simd: boolean, wasm: WasmChoice = 'auto') {
  const old = usingBaseline();
  const key = `${old}|${dt}|${optimize}|${simd}|${wasm}|${source}`;
  let hit = cache.get(key);
  if (!hit) {
    // a baseline checkout may predate the `wasm` option: it gets it only when it is not the default
    const opts = { dtype: dt === 'f32' ? ('float32' as const) : ('float64' as const), optimize, simd, ...(wasm === 'auto' ? {} : { wasm }) };
    const text = (old ? baseline.emit() : emit)(source, opts);
    hit = { text, module: loadModule(text) as unknown as KernelModule };
    cache.set(key, hit);
  }
  return hit;
}

/** The emitted module's functions for a program, dtype and optimisation switch (`simd: false`: GEMMs
 * with the JavaScript micro-kernel instead of WebAssembly). */
export const kernels = (source: string, dt: Dt, optimize: boolean, simd = true, wasm: WasmChoice = 'auto'): KernelModule => load(source, dt, optimize, simd, wasm).module;

/** The emitted module's TypeScript text (to read what a kernel does). */
export const kernelText = (source: string, dt: Dt, optimize: boolean, simd = true): string => load(source, dt, optimize, simd).text;

/** A kernel by name, with a clear error when the module has no such function. */
export function kernel(m: KernelModule, name: string): Kernel {
  const k = m[name];
  if (typeof k !== 'function') throw new Error(`emitted module has no ${name} (has ${Object.keys(m).join(', ')})`);
  return k;
}

export const alloc = (dt: Dt, n: number): Arr => (dt === 'f32' ? new Float32Array(n) : new Float64Array(n));
