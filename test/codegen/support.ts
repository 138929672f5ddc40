// Shared pieces of the codegen tests: the reference interpreter's forward and backward programs,
// seeded random data in either dtype, and an error measure that is strict about single elements.
//
// The reference is the interpreter (src/ir/evaluate.ts) running the forward program and the
// backward program that deltagrad derives (`differentiate(p, { unitScalarSeeds: false })`, so a
// scalar output L has an upstream seed dL like every other output). The compiled kernels must give
// the same numbers; the interpreter itself is checked against central differences in test/diff.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { check } from '../../src/ir/check.js';
import { run } from '../../src/ir/evaluate.js';
import { relativeError, seededRandom } from '../../src/ir/gradcheck.js';
import { differentiate } from '../../src/diff/differentiate.js';
import { backwardProgram } from '../../src/diff/derive.js';
import type { Program } from '../../src/ir/types.js';
import type { DataArray, Dtype, Kernel } from '../../src/codegen/compile.js';
import ts from 'typescript';

export const layerSource = (name: string): string =>
  readFileSync(fileURLToPath(new URL(`../../examples/layers/${name}.dg`, import.meta.url)), 'utf8');

export const TOLERANCE: Record<Dtype, number> = { float64: 1e-9, float32: 1e-4 };

interface Reference {
  readonly forward: Program;
  readonly backward: Program;
}
const references = new Map<string, Reference>();

/** The checked forward program and the interpreter's backward program (forward + seeds + gradients). */
export function reference(source: string): Reference {
  let r = references.get(source);
  if (!r) {
    const forward = check(source);
    const backward = check(backwardProgram(forward, differentiate(forward, { unitScalarSeeds: false })));
    r = { forward, backward };
    references.set(source, r);
  }
  return r;
}

/** The interpreter's values: every assigned tensor of the forward program, and every dX of the backward one. */
export function interpret(
  source: string,
  sizes: Record<string, number>,
  inputs: Record<string, ArrayLike<number>>,
  seeds: Record<string, ArrayLike<number>>,
): { forward: Record<string, Float64Array>; backward: Record<string, Float64Array> } {
  const { forward, backward } = reference(source);
  const as64 = (r: Record<string, ArrayLike<number>>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float64Array.from(v)]));
  return { forward: run(forward, as64(inputs), sizes), backward: run(backward, { ...as64(inputs), ...as64(seeds) }, sizes) };
}

/** An array of the dtype: `makeArray('float32', 3, (i) => i)` or `makeArray('float64', [1, 2, 3])`. */
export function makeArray(dtype: Dtype, n: number | ArrayLike<number>, f: (i: number) => number = () => 0): DataArray {
  if (typeof n !== 'number') return dtype === 'float32' ? Float32Array.from(n) : Float64Array.from(n);
  return dtype === 'float32' ? Float32Array.from({ length: n }, (_, i) => f(i)) : Float64Array.from({ length: n }, (_, i) => f(i));
}
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export interface RandomData {
  readonly inputs: Record<string, DataArray>;
  /** `dY` for every output; a scalar output's seed is a random number too (not 1), so dL scaling is tested */
  readonly seeds: Record<string, DataArray>;
}

/** Seeded inputs (uniform in [lo, hi)) and seeds (uniform in [-1, 1)) in the kernel's dtype. */
export function randomData(k: Kernel, seed: number, lo = -1, hi = 1, overrides: Record<string, [number, number]> = {}): RandomData {
  const rand = seededRandom(seed);
  const fill = (n: number, a: number, b: number) => makeArray(k.dtype, n, () => a + (b - a) * rand());
  const inputs: Record<string, DataArray> = {};
  for (const name of k.inputs) {
    const [a, b] = (Object.hasOwn(overrides, name) ? overrides[name] : undefined) ?? [lo, hi];
    inputs[name] = fill(count(k.shapes[name]!), a, b);
  }
  const seeds: Record<string, DataArray> = {};
  for (const name of k.outputs) seeds[`d${name}`] = fill(count(k.shapes[name]!), -1, 1);
  return { inputs, seeds };
}

export interface Mismatch {
  /** max_i |a_i − e_i| / max_i |e_i| */
  readonly elementwise: number;
  /** ‖a − e‖₂ / max(‖a‖₂, ‖e‖₂) */
  readonly normwise: number;
  readonly worst: { index: number; actual: number; expected: number } | undefined;
  readonly problem?: string;
}

/** How far `actual` is from `expected`: both an element-wise and a norm-wise relative error. */
export function mismatch(actual: ArrayLike<number> | undefined, expected: ArrayLike<number>): Mismatch {
  if (actual === undefined) return { elementwise: Infinity, normwise: Infinity, worst: undefined, problem: 'missing' };
  if (actual.length !== expected.length)
    return { elementwise: Infinity, normwise: Infinity, worst: undefined, problem: `length ${actual.length}, expected ${expected.length}` };
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  let worst: Mismatch['worst'];
  let elementwise = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Number.isNaN(a) !== Number.isNaN(e) ? Infinity : Number.isNaN(a) ? 0 : a === e ? 0 : Math.abs(a - e) / (scale || 1e-300);
    if (err > elementwise || (worst === undefined && err > 0)) {
      elementwise = err;
      worst = { index: i, actual: a, expected: e };
    }
  }
  return { elementwise, normwise: relativeError(actual, expected), worst };
}

/** Throws a readable message unless `actual` matches `expected` within `tol` (both measures). */
export function expectClose(actual: ArrayLike<number> | undefined, expected: ArrayLike<number>, tol: number, what: string): void {
  const m = mismatch(actual, expected);
  if (m.problem) throw new Error(`${what}: ${m.problem}`);
  if (!(m.elementwise < tol && m.normwise < tol)) {
    const w = m.worst;
    throw new Error(
      `${what}: relative error ${m.elementwise.toExponential(2)} (element-wise), ${m.normwise.toExponential(2)} (norm-wise) ≥ ${tol}` +
        (w ? `; worst at [${w.index}]: got ${w.actual}, expected ${w.expected}` : ''),
    );
  }
}

export const describeSizes = (sizes: Record<string, number>): string =>
  Object.entries(sizes)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ') || '(no sizes)';

const interpreted = new Map<string, ReturnType<typeof interpret>>();

/**
 * Compiled kernel vs interpreter on one set of random data: every forward tensor and every input
 * gradient. Returns how many values were compared and the largest magnitude seen in each gradient,
 * so callers can assert that the comparison was not trivially 0 = 0.
 */
export function compareWithInterpreter(
  source: string,
  k: Kernel,
  data: RandomData,
  /** runs with the same key share the interpreter's result (the same data for optimized and naive kernels) */
  cacheKey?: string,
): { compared: number; gradientScale: Record<string, number> } {
  const tol = TOLERANCE[k.dtype];
  let ref = cacheKey === undefined ? undefined : interpreted.get(cacheKey);
  if (!ref) {
    ref = interpret(source, k.sizes, data.inputs, data.seeds);
    if (cacheKey !== undefined) interpreted.set(cacheKey, ref);
  }
  const label = `${k.dtype}, ${describeSizes(k.sizes)}`;
  const before = Object.fromEntries(Object.entries(data.inputs).map(([n, v]) => [n, v.slice()]));
  const fwd = k.forward(data.inputs);
  let compared = 0;
  const expectedForward = Object.keys(ref.forward);
  if (Object.keys(fwd).sort().join() !== [...expectedForward].sort().join())
    throw new Error(`${label}: forward returned ${Object.keys(fwd).join(', ')}, the program assigns ${expectedForward.join(', ')}`);
  for (const name of expectedForward) {
    expectClose(fwd[name], ref.forward[name]!, tol, `${label}: forward ${name}`);
    compared += ref.forward[name]!.length;
  }
  const bwd = k.backward(data.inputs, data.seeds);
  const gradientScale: Record<string, number> = {};
  for (const name of k.inputs) {
    const expected = ref.backward[`d${name}`];
    if (!expected) throw new Error(`the interpreter's backward program has no d${name}`);
    expectClose(bwd[`d${name}`], expected, tol, `${label}: backward d${name}`);
    compared += expected.length;
    gradientScale[name] = expected.reduce((a, b) => Math.max(a, Math.abs(b)), 0);
  }
  // neither pass may write into the caller's inputs
  for (const [n, v] of Object.entries(before))
    if (Array.from(v).some((x, i) => !Object.is(x, data.inputs[n]![i]))) throw new Error(`${label}: the kernels changed the input ${n}`);
  return { compared, gradientScale };
}

export function hasNaN(x: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) if (Number.isNaN(x[i]!)) return true;
  return false;
}

/** The strictest options the emitted modules must pass. */
const STRICT: ts.CompilerOptions = {
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitReturns: true,
  noImplicitOverride: true,
  noFallthroughCasesInSwitch: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  lib: ['lib.es2023.d.ts'],
  types: [],
  noEmit: true,
};

/** Type-checks in-memory modules (name → text) under STRICT; one line per error, `file:line: message`. */
export function typeErrors(files: Record<string, string>): string[] {
  const host = ts.createCompilerHost(STRICT);
  const sources = new Map(Object.entries(files).map(([name, text]) => [name, ts.createSourceFile(name, text, ts.ScriptTarget.ES2022, true)]));
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, ...rest) => sources.get(name) ?? getSourceFile(name, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => sources.has(name) || fileExists(name);
  const program = ts.createProgram([...sources.keys()], STRICT, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : '?';
    return `${d.file?.fileName ?? '?'}:${line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}
