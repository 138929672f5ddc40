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

function load(source: string, dt: Dt, optimize: boolean, simd: boolean) {
  const old = usingBaseline();
  const key = `${old}|${dt}|${optimize}|${simd}|${source}`;
  let hit = cache.get(key);
  if (!hit) {
    const text = (old ? baseline.emit() : emit)(source, { dtype: dt === 'f32' ? 'float32' : 'float64', optimize, simd });
    hit = { text, module: loadModule(text) as unknown as KernelModule };
    cache.set(key, hit);
  }
  return hit;
}

/** The emitted module's functions for a program, dtype and optimisation switch (`simd: false`: GEMMs
 * with the JavaScript micro-kernel instead of WebAssembly). */
export const kernels = (source: string, dt: Dt, optimize: boolean, simd = true): KernelModule => load(source, dt, optimize, simd).module;

/** The emitted module's TypeScript text (to read what a kernel does). */
export const kernelText = (source: string, dt: Dt, optimize: boolean, simd = true): string => load(source, dt, optimize, simd).text;

/** A kernel by name, with a clear error when the module has no such function. */
export function kernel(m: KernelModule, name: string): Kernel {
  const k = m[name];
  if (typeof k !== 'function') throw new Error(`emitted module has no ${name} (has ${Object.keys(m).join(', ')})`);
  return k;
}

export const alloc = (dt: Dt, n: number): Arr => (dt === 'f32' ? new Float32Array(n) : new Float64Array(n));
