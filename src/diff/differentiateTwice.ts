// differentiateTwice: the Hessian blocks of a scalar output, as the Jacobians of its gradients. The
// gradient program (the forward statements and every dX, as derive prints it) is checked as a program
// of its own and differentiated again: block (x, y) is ∂dx[a]/∂y[b], reverse mode seeded by the rows
// of the identity, δ(a', a), so every adjoint on the way carries x's indices a first. Its adjoints are
// named after the block (H_x_y, H_x_y_T for an intermediate T): never d + a name, which the gradient
// program's own tensors already have.
//
// Worked example: f = x'*A*x has the gradient dx[n] = sum(j) A[n,j]*x[j] + sum(i) x[i]*A[i,n];
// differentiated with respect to x with the seed δ(n', n), it gives the block
//   H_x_x[n,i] = A[n,i] + A[i,n]        (matrix form: A + Aᵀ)
import { check } from '../ir/check.js';
import { DeltagradError } from '../ir/errors.js';
import { allIndexNames, renameIndices } from '../ir/exprs.js';
import { DERIVED_LIMITS } from '../ir/limits.js';
import type { Bound, Program, Statement } from '../ir/types.js';
import { differentiate, gradName, NameSupply, type GradientStatement } from './differentiate.js';

export interface HessianBlock {
  /** the two inputs, in `wrt` order */
  readonly of: readonly [string, string];
  /** the tensor the block is assigned to: x's indices, then y's */
  readonly name: string;
  readonly statement: Statement;
  /** += statements into the block after `statement` (a gradient that scatters through integer data) */
  readonly scatters?: readonly Statement[];
  /** with scatters: the block in gather form (for LaTeX), as GradientStatement.gathered */
  readonly gathered?: Statement;
  /** the adjoints of the gradient program's intermediates the block is computed through, in order,
   *  each followed by its += statements */
  readonly intermediates: readonly Statement[];
  readonly steps: readonly string[];
}

export interface SecondOrder {
  /** the gradient program, checked: the tensors the blocks read */
  readonly program: Program;
  readonly blocks: readonly HessianBlock[];
}

/** The one scalar output whose Hessian is asked for, or a located error. */
function scalarOutput(p: Program): string {
  const outs = p.tensors.filter((t) => t.role === 'output');
  const scalar = outs.length === 1 && outs[0]!.shape.length === 0 ? outs[0]! : undefined;
  if (!scalar) {
    const list = outs.map((t) => `${t.name}${t.shape.length ? ` (${t.shape.length} dimension${t.shape.length === 1 ? '' : 's'})` : ''}`).join(', ');
    throw new DeltagradError('bad-option', `second order needs one scalar output (a loss), but the program's outputs are ${list || 'none'}`, outs[0]?.span, 'sum a tensor output into a scalar, e.g. L = sum(i) Y[i]');
  }
  return scalar.name;
}

/** The left side's indices renamed to plain names, in order: its own without a number (n2 → n)
 *  where free, else i, j, k … — none a summed index of the right side. */
function tidyLhs(s: Statement): Statement {
  const own = new Set(s.lhs.map((b) => b.name));
  const summed = new Set(allIndexNames(s.rhs).filter((n) => !own.has(n)));
  const chosen: string[] = [];
  const map = new Map<string, string>();
  for (const b of s.lhs) {
    const stem = b.name.replace(/\d+$/, '') || b.name;
    const name = [stem, ...PLAIN, b.name].find((n) => !summed.has(n) && !chosen.includes(n))!;
    chosen.push(name);
    if (name !== b.name) map.set(b.name, name);
  }
  if (!map.size) return s;
  const lhs: Bound[] = s.lhs.map((b) => ({ ...b, name: map.get(b.name) ?? b.name }));
  return { ...s, lhs, rhs: renameIndices(s.rhs, map) };
}

const PLAIN = ['i', 'j', 'k', 'l', 'm', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w'];

/** Every Hessian block (x, y), x before y in `wrt`, of the program's scalar output. */
export function differentiateTwice(p: Program, grads: readonly GradientStatement[], gradientProgram: string, wrt: readonly string[], maxNodes?: number): SecondOrder {
  const f = scalarOutput(p);
  const p2 = check(gradientProgram, DERIVED_LIMITS);
  const taken = new Set(p2.tensors.map((t) => t.name));
  const indexNames = new NameSupply([...taken, ...p2.sizes.map((s) => s.name), ...p2.statements.flatMap((s) => [...s.lhs.map((b) => b.name), ...allIndexNames(s.rhs)])]);
  const blocks: HessianBlock[] = [];
  const used = new Set<string>();
  for (let a = 0; a < wrt.length; a++)
    for (let b = a; b < wrt.length; b++) {
      const [x, y] = [wrt[a]!, wrt[b]!];
      const first = grads.find((g) => g.of === x)!;
      // H_x_y, unless the program has a tensor of that name, or of one of its adjoints' names
      let name = `H_${x}_${y}`;
      for (let k = 2; [...taken, ...used].some((t) => t === name || t.startsWith(`${name}_`)); k++) name = `H_${x}_${y}${k}`;
      used.add(name);
      const rows = first.statement.lhs.map((r) => ({ name: indexNames.fresh(r.name), extent: r.extent }));
      const block = name;
      const jacobian = differentiate(p2, {
        wrt: [y],
        jacobian: { of: gradName(x), rows },
        adjointName: (t) => (t === y ? block : `${block}_${t}`),
        ...(maxNodes !== undefined ? { maxNodes } : {}),
      });
      const tidy = (g: GradientStatement) => tidyLhs(g.statement);
      const last = jacobian[jacobian.length - 1]!;
      blocks.push({
        of: [x, y],
        name,
        statement: tidy(last),
        ...(last.scatters ? { scatters: last.scatters, gathered: tidyLhs(last.gathered!) } : {}),
        intermediates: jacobian.slice(0, -1).flatMap((g) => [tidy(g), ...(g.scatters ?? [])]),
        steps: jacobian.flatMap((g) => [`── ${g.statement.tensor} (∂d${x}/∂${g.of}${g.of === y ? '' : ', on the way'}) ──`, ...g.steps]),
      });
    }
  void f;
  return { program: p2, blocks };
}
