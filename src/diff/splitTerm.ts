// splitTerm: one additive term of a gradient as its parts — sign, index-free scalars, summed indices and
// indexed factors — the shape every matrix pattern matches on.
//
// Worked example: -2 * sum(j) A[i,j]*x[j] / N  splits into { neg: true, scalars: [2, 1/N], sums: [j],
// factors: [A[i,j], x[j]] }, which renderMatrix reads as the product A·x scaled by −2/N.
import { idxAsVar } from '../ir/affine.js';
import { freeIndices } from '../ir/exprs.js';
import type { Expr, IndexExpr } from '../ir/types.js';

export const plainSubs = (subs: readonly IndexExpr[]): (string | undefined)[] => subs.map(idxAsVar);
export const sameList = (a: readonly (string | undefined)[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export interface TermParts {
  readonly neg: boolean;
  readonly scalars: Expr[];
  readonly sums: string[];
  readonly factors: Expr[];
}

/** c · Σ_s f1·f2·…  (a division by an index-free value counts as a scalar factor). */
export function splitTerm(e: Expr, splitQuotients = false): TermParts | null {
  let neg = false;
  let x = e;
  const scalars: Expr[] = [];
  for (;;) {
    if (x.kind === 'neg') {
      neg = !neg;
      x = x.arg;
    } else if (x.kind === 'div' && freeIndices(x.den).length === 0) {
      scalars.push({ kind: 'div', num: { kind: 'num', value: 1 }, den: x.den });
      x = x.num;
    } else break;
  }
  const sums: string[] = [];
  while (x.kind === 'reduce' && x.op === 'sum') {
    sums.push(...x.indices.map((b) => b.name));
    x = x.body;
  }
  const factors: Expr[] = [];
  const push = (f: Expr) => {
    if (f.kind === 'mul') f.factors.forEach(push);
    else if (f.kind === 'neg') {
      neg = !neg;
      push(f.arg);
    } else if (f.kind === 'div' && freeIndices(f.den).length === 0) {
      scalars.push({ kind: 'div', num: { kind: 'num', value: 1 }, den: f.den });
      push(f.num);
    } else if (freeIndices(f).length === 0) scalars.push(f);
    else if (splitQuotients && f.kind === 'div') {
      // a/(b·c) as a·(1/b)·(1/c), so a row's norm in a denominator is a factor of its own (cosine similarity)
      push(f.num);
      for (const d of f.den.kind === 'mul' ? f.den.factors : [f.den])
        if (freeIndices(d).length === 0) scalars.push({ kind: 'div', num: { kind: 'num', value: 1 }, den: d });
        else factors.push({ kind: 'div', num: { kind: 'num', value: 1 }, den: d });
    } else factors.push(f);
  };
  push(x);
  return { neg, scalars, sums, factors };
}

