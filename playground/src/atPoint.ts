// atPoint: "evaluate at a point" for programs whose inputs are scalars — the outputs, the
// intermediates and every gradient as numbers, from the reference interpreter (derive --at in the page).
//
// Worked example: for seed 002's f = (x+y)*z (written as q = x + y, f = q*z) at x = −2, y = 5, z = −4
// the values are q = 3, f = −12, dq = −4, dx = −4, dy = −4, dz = 3: the numbers of the seed.
// A tensor output is seeded with ones (its gradients are those of the sum of its elements).
import { evaluate, type DeriveResult, type Program } from '../../src/index.js';
import { DERIVED_LIMITS } from '../../src/ir/limits.js';

export interface PointValue {
  readonly name: string;
  /** the value (a scalar) or the values (a tensor, flattened) */
  readonly values: readonly number[];
  readonly gradient: boolean;
}

/** Whether the page offers a point: every input is a scalar. */
export const takesAPoint = (program: Program): boolean => program.tensors.some((t) => t.role === 'input') && program.tensors.every((t) => t.role !== 'input' || t.shape.length === 0);

/** The value given for each input, or 1 where none is given. */
export function pointFor(program: Program, given: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(program.tensors.filter((t) => t.role === 'input').map((t) => [t.name, Object.hasOwn(given, t.name) ? given[t.name]! : 1]));
}

/** Every tensor of the derived program at the point, forward values first (the program's order). */
export function valuesAt(program: Program, result: DeriveResult, point: Readonly<Record<string, number>>, sizes: Readonly<Record<string, number>>): { values: PointValue[]; seeded: string[] } {
  const tensorOutputs = program.tensors.filter((t) => t.role === 'output' && t.shape.length > 0).map((t) => t.name);
  const seeds: Record<string, Float64Array> = {};
  if (tensorOutputs.length) {
    // the seeds' lengths are the outputs': the forward program gives them
    const forward = evaluate(program.source, { ...point }, { sizes: { ...sizes } });
    for (const y of tensorOutputs) seeds[`d${y}`] = new Float64Array(forward[y]!.length).fill(1);
  }
  // derive wrote this program from one the limits already bounded (the CLI's --at does the same)
  const all = evaluate(result.program, { ...point, ...seeds }, { sizes: { ...sizes }, limits: DERIVED_LIMITS });
  const assigned = new Set(program.statements.map((s) => s.tensor));
  return {
    values: Object.entries(all).map(([name, v]) => ({ name, values: [...v], gradient: !assigned.has(name) })),
    seeded: tensorOutputs,
  };
}

/** A number as the page prints it: 12 significant digits, no float noise (0.1+0.2 → 0.3). */
export const formatNumber = (v: number): string => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(12))));
