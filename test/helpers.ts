// Shared test helpers: run a program's derived gradients through the interpreter and compare them
// with central differences.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { check } from '../src/ir/check.js';
import { DeltagradError } from '../src/ir/errors.js';
import { DERIVED_LIMITS } from '../src/ir/limits.js';
import { resolveSizes, run, shapeOf } from '../src/ir/evaluate.js';
import { numericGradient, randomInputs, relativeError, seededRandom } from '../src/ir/gradcheck.js';
import { deriveProgram } from '../src/diff/derive.js';
import type { Program } from '../src/ir/types.js';
import ts from 'typescript';

export const layer = (name: string): string => readFileSync(fileURLToPath(new URL(`../examples/layers/${name}.dg`, import.meta.url)), 'utf8');

export interface GradientCheck {
  /** relative error of each derived input gradient against central differences */
  readonly errors: Record<string, number>;
  /** largest absolute value in each derived gradient (a check that the gradient is not trivially 0) */
  readonly magnitudes: Record<string, number>;
  readonly program: string;
  /** what the check ran on: the inputs, the upstream seeds, and the derived gradient of each input */
  readonly inputs: Record<string, Float64Array>;
  readonly seeds: Record<string, Float64Array>;
  readonly analytic: Record<string, Float64Array>;
}

export interface CheckOptions {
  seed?: number;
  lo?: number;
  hi?: number;
  wrt?: string[];
  /** values for some inputs in place of random ones (a well-conditioned matrix for inv, det) */
  given?: Record<string, Float64Array>;
}

/** The random inputs `checkGradients` uses for these options (the first draws of its seeded generator). */
export function gradientInputs(p: Program, sizes: Record<string, number> = {}, opts: CheckOptions = {}): Record<string, Float64Array> {
  return randomInputs(p, sizes, seededRandom(opts.seed ?? 1), opts.lo ?? -1, opts.hi ?? 1);
}

export function checkGradients(source: string, sizes: Record<string, number> = {}, opts: CheckOptions = {}): GradientCheck {
  const p = check(source);
  const derived = deriveProgram(p, opts.wrt ? { wrt: opts.wrt } : {});
  const back = check(derived.program);
  const rand = seededRandom(opts.seed ?? 1);
  const inputs = { ...randomInputs(p, sizes, rand, opts.lo ?? -1, opts.hi ?? 1), ...opts.given };
  const resolved = resolveSizes(p, inputs, sizes);
  // records built from entries: a tensor may be named __proto__ or toString (test/property/names.test.ts)
  const seedList: [string, Float64Array][] = [];
  for (const t of p.tensors) {
    if (t.role !== 'output' || t.shape.length === 0) continue;
    const n = shapeOf(p, t.name, resolved).reduce((a, b) => a * b, 1);
    seedList.push([`d${t.name}`, Float64Array.from({ length: n }, () => rand() * 2 - 1)]);
  }
  const seeds = Object.fromEntries(seedList);
  const out = run(back, { ...inputs, ...seeds }, sizes);
  const errors: [string, number][] = [];
  const magnitudes: [string, number][] = [];
  const gradients: [string, Float64Array][] = [];
  for (const name of opts.wrt ?? p.tensors.filter((t) => t.role === 'input').map((t) => t.name)) {
    const analytic = Object.hasOwn(out, `d${name}`) ? out[`d${name}`] : undefined;
    if (!analytic) throw new Error(`the backward program has no d${name}`);
    const numeric = numericGradient(p, inputs, seeds, name, { sizes });
    errors.push([name, relativeError(analytic, numeric)]);
    magnitudes.push([name, analytic.reduce((m, v) => Math.max(m, Math.abs(v)), 0)]);
    gradients.push([name, analytic]);
  }
  return { errors: Object.fromEntries(errors), magnitudes: Object.fromEntries(magnitudes), program: derived.program, inputs, seeds, analytic: Object.fromEntries(gradients) };
}

/** The DeltagradError `f` throws (any other outcome fails the test). */
export function errorOf(f: () => unknown): DeltagradError {
  try {
    f();
  } catch (e) {
    if (e instanceof DeltagradError) return e;
    throw e;
  }
  throw new Error('no error');
}

/** An emitted TypeScript module's exports: transpiled by TypeScript (a dev dependency) and evaluated. */
export function loadModule(text: string): Record<string, unknown> {
  const js = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  const exports: Record<string, unknown> = {};
  new Function('exports', js)(exports);
  return exports;
}

export interface HessianCheck {
  /** relative error of each block ("x,y") against central differences of the gradient dx in y */
  readonly errors: Record<string, number>;
  /** the largest absolute value in each block */
  readonly magnitudes: Record<string, number>;
  readonly program: string;
}

/** Every Hessian block of a scalar output against central differences of its derived gradients:
 *  column b of block (x, y) is (dx(y + h·e_b) − dx(y − h·e_b)) / 2h, the gradient run through the
 *  interpreter. */
export function checkHessians(source: string, sizes: Record<string, number> = {}, opts: CheckOptions = {}): HessianCheck {
  const p = check(source);
  const derived = deriveProgram(p, { order: 2, ...(opts.wrt ? { wrt: opts.wrt } : {}) });
  // the gradient program: what `program` holds before its Hessian blocks
  const first = check(derived.program.split('\n# Hessian blocks (deltagrad)\n')[0]!, DERIVED_LIMITS);
  const back = check(derived.program, DERIVED_LIMITS);
  const inputs = { ...randomInputs(p, sizes, seededRandom(opts.seed ?? 1), opts.lo ?? -1, opts.hi ?? 1), ...opts.given };
  const out = run(back, inputs, sizes);
  const errors: [string, number][] = [];
  const magnitudes: [string, number][] = [];
  // every gradient with y[b] moved by ±h, run once for all the blocks that need it
  const moved = new Map<string, { up: Record<string, Float64Array>; down: Record<string, Float64Array>; step: number }>();
  const movedBy = (y: string, b: number) => {
    const key = `${y}:${b}`;
    if (!moved.has(key)) {
      const step = 1e-5 * Math.max(1, Math.abs(inputs[y]![b]!));
      const at = (d: number) => {
        const v = Float64Array.from(inputs[y]!);
        v[b] = v[b]! + d;
        return run(first, { ...inputs, [y]: v }, sizes);
      };
      moved.set(key, { up: at(step), down: at(-step), step });
    }
    return moved.get(key)!;
  };
  for (const [key, h] of Object.entries(derived.hessians ?? {})) {
    const [x, y] = key.split(',') as [string, string];
    const analytic = out[h.name]!;
    const ny = inputs[y]!.length;
    const nx = analytic.length / ny;
    const numeric = new Float64Array(analytic.length);
    for (let b = 0; b < ny; b++) {
      const { up, down, step } = movedBy(y, b);
      for (let a = 0; a < nx; a++) numeric[a * ny + b] = (up[`d${x}`]![a]! - down[`d${x}`]![a]!) / (2 * step);
    }
    errors.push([key, relativeError(analytic, numeric)]);
    magnitudes.push([key, analytic.reduce((m, v) => Math.max(m, Math.abs(v)), 0)]);
  }
  return { errors: Object.fromEntries(errors), magnitudes: Object.fromEntries(magnitudes), program: derived.program };
}

/** The `# matrix notation: dX = …` lines of a derived program, re-parsed as statements of it (assigning
 *  dX_matrix) and evaluated at `inputs`: the relative error of each against the index form dX. */
export function checkMatrixSources(program: string, inputs: Record<string, Float64Array>, sizes: Record<string, number> = {}): Record<string, number> {
  const forms = [...program.matchAll(/^# matrix notation: (\w+) = (.*)$/gm)].map((m) => [m[1]!, m[2]!] as const);
  const text = program + forms.map(([name, rhs]) => `${name}_matrix = ${rhs}\n`).join('');
  const p = check(text, DERIVED_LIMITS);
  const out = run(p, inputs, sizes);
  return Object.fromEntries(forms.map(([name]) => [name, relativeError(out[`${name}_matrix`]!, out[name]!)]));
}
