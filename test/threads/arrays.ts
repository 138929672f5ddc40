// Arrays for the thread tests: deterministic inputs for a kernel, and the bits where two results differ.
import { expect } from 'vitest';
import type { Kernel } from '../../src/index.js';

export type Arr = Float32Array | Float64Array;
export type Dtype = 'float32' | 'float64';

export const arrayOf = (dtype: Dtype, n: number, f: (i: number) => number): Arr =>
  dtype === 'float32' ? Float32Array.from({ length: n }, (_, i) => f(i)) : Float64Array.from({ length: n }, (_, i) => f(i));
export const elements = (k: Kernel, name: string) => k.shapes[name]!.reduce((a, b) => a * b, 1);

/** a deterministic pseudo-random array for every input of the kernel */
export function inputsOf(k: Kernel, seed: number): Record<string, Arr> {
  let x = seed;
  const next = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  return Object.fromEntries(k.inputs.map((n) => [n, arrayOf(k.dtype, elements(k, n), next)]));
}

/** the first indices (up to 5) where two arrays differ in any bit (NaN equal to NaN) */
export function differing(a: Arr | undefined, b: Arr | undefined): number[] {
  expect(a).toBeDefined();
  expect(b?.length).toBe(a!.length);
  const out: number[] = [];
  for (let i = 0; i < a!.length && out.length < 5; i++) if (!Object.is(a![i], b![i])) out.push(i);
  return out;
}
