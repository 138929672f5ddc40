// evaluationCost: what the interpreter refuses before it runs — more elements than it holds, more
// operations than it runs — so an untrusted program is an error, not a hang or an out-of-memory.
//
// Worked example: `Y[i,j] = sum(k) A[i,k]*B[k,j]` at I = J = K = 10⁴ costs about 10⁸ elements'
// worth of 10⁴ steps each, 10¹² operations: more than limits.maxOperations, refused with the count.
import { count } from './errors.js';
import { children, freeIndices } from './exprs.js';
import { InputError } from './inputError.js';
import { sizeEval } from './sizes.js';
import type { Expr, Program, SizeExpr } from './types.js';

export const elementsOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Refuse, before anything is allocated, tensors that together have more than `max` elements
 *  (`derive --at I=30000,J=30000` on a [I, J] output asked for 13 GB), naming the largest. */
export function checkElements(p: Program, shapes: ReadonlyMap<string, readonly number[]>, max: number): void {
  const sizes = p.tensors.map((t) => ({ name: t.name, shape: shapes.get(t.name)!, n: elementsOf(shapes.get(t.name)!) }));
  const total = sizes.reduce((a, t) => a + t.n, 0);
  if (total <= max) return;
  const largest = sizes.reduce((a, t) => (t.n > a.n ? t : a));
  const together = total > largest.n ? `; the program's tensors have ${count(total)} together` : '';
  throw new InputError(
    `${largest.name} has shape [${largest.shape.join(', ')}], ${count(largest.n)} element${largest.n === 1 ? '' : 's'}${together}: more than the ${count(max)} elements the interpreter holds (limits.maxElements)`,
  );
}

/** Expression nodes evaluated for one element of a statement: a reduction's body once per step. A
 *  matrix function costs its n² elements and its n³ factorisation once per statement (`once`), or
 *  once per element when it depends on the element's indices. */
function operationsOf(e: Expr, sizes: ReadonlyMap<string, number>, once: { n: number } = { n: 0 }): number {
  const steps = (indices: readonly { extent: SizeExpr }[]) => indices.reduce((a, b) => a * Math.max(0, sizeEval(b.extent, sizes)), 1);
  let n: number;
  switch (e.kind) {
    case 'matfn': {
      const side = Math.max(0, sizeEval(e.indices[0]!.extent, sizes));
      const cost = Math.min(side * side * operationsOf(e.body, sizes, once) + side ** 3, Number.MAX_SAFE_INTEGER);
      if (freeIndices({ ...e, at: [] }).length === 0) {
        once.n = Math.min(once.n + cost, Number.MAX_SAFE_INTEGER);
        n = 1 + e.at.length;
      } else n = 1 + e.at.length + cost;
      break;
    }
    case 'reduce':
      // logsumexp walks its body twice
      n = 1 + steps(e.indices) * operationsOf(e.body, sizes, once) * (e.op === 'logsumexp' ? 2 : 1);
      break;
    case 'argmax':
      n = 1 + e.at.length + steps(e.indices) * operationsOf(e.body, sizes, once);
      break;
    default:
      n = children(e).reduce((a, c) => a + operationsOf(c, sizes, once), 1);
  }
  return Math.min(n, Number.MAX_SAFE_INTEGER);
}

/** Refuse a program whose evaluation would take more than `max` operations: a reduction over
 *  10¹² steps is a hang, not an answer. */
export function checkOperations(p: Program, shapes: ReadonlyMap<string, readonly number[]>, sizes: ReadonlyMap<string, number>, max: number): void {
  let total = 0;
  for (const s of p.statements) {
    const elements = s.scatter ? s.lhs.reduce((a, b) => a * Math.max(0, sizeEval(b.extent, sizes)), 1) : elementsOf(shapes.get(s.tensor)!);
    const once = { n: 0 };
    const each = operationsOf(s.rhs, sizes, once);
    total += elements * each + once.n;
    if (total > max)
      throw new InputError(`evaluating ${s.tensor} would take about ${count(elements * each)} operations (${count(elements)} element${elements === 1 ? '' : 's'}, ${count(each)} each): more than the ${count(max)} the interpreter runs (limits.maxOperations)`);
  }
}

