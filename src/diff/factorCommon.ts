// factorCommon: a factor every term of a sum shares moves out of the sum, the way a textbook writes
// a gradient — and the kernel multiplies (or divides) once instead of once per term.
//
// Worked examples (after hoistFactors, on a gradient's right side):
//   softmax cross-entropy   exp(S[n,c] - lse)/N - Yt[n,c]/N   →  (exp(S[n,c] - lse) - Yt[n,c])/N
//   GRU update gate         -Cd[n,k]*dHn[n,k] + Hs[n,k]*dHn[n,k]  →  dHn[n,k]*(Hs[n,k] - Cd[n,k])
//   signs                   -a/N - b/N                          →  -(a + b)/N
//   integer coefficients    2*a - 2*b                          →  2*(a - b)
// Only a factor shared by every term moves (a partial factoring is a choice a reader did not ask for),
// and only when what stays inside is a plain sum of products (no quotients left in it); numbers other
// than a common integer divisor stay with their terms. Terms are sums' siblings, so a
// factor outside a term's own sums is outside them all: moving it is exact algebra.
import { add, div, exprKey, mapChildren, mul, num } from '../ir/exprs.js';
import { printExpr } from '../ir/print.js';
import type { Expr } from '../ir/types.js';

/** A term as (coef · Π top) / (den · Π bottom): numbers folded into coef and den, a sign into coef
 *  — a /2 stays a /2 rather than becoming 0.5·. */
interface Split {
  coef: number;
  den: number;
  top: Expr[];
  bottom: Expr[];
}

function splitTerm(e: Expr): Split {
  if (e.kind === 'neg') {
    const inner = splitTerm(e.arg);
    return { ...inner, coef: -inner.coef };
  }
  if (e.kind === 'div') {
    const top = splitTerm(e.num);
    const bottom = splitTerm(e.den);
    return { coef: top.coef * bottom.den, den: top.den * bottom.coef, top: [...top.top, ...bottom.bottom], bottom: [...top.bottom, ...bottom.top] };
  }
  const factors = e.kind === 'mul' ? e.factors : [e];
  let coef = 1;
  const top: Expr[] = [];
  for (const f of factors) {
    if (f.kind === 'num') coef *= f.value;
    else top.push(f);
  }
  return { coef, den: 1, top, bottom: [] };
}

/** The factors (by key) every list holds, with multiplicity: the first list's, in its order, each
 *  key as many times as the list that has it least. The candidates shrink list by list and the
 *  search stops when none is left (a sum of 10 000 unlike terms: at the second, not a map a term). */
function shared(lists: readonly Expr[][]): Expr[] {
  const first = lists[0];
  if (!first) return [];
  const left = new Map<string, number>();
  for (const f of first) left.set(exprKey(f), (left.get(exprKey(f)) ?? 0) + 1);
  for (let i = 1; i < lists.length && left.size > 0; i++) {
    const here = new Map<string, number>();
    for (const f of lists[i]!) {
      const k = exprKey(f);
      if (left.has(k)) here.set(k, (here.get(k) ?? 0) + 1);
    }
    for (const [k, n] of [...left]) {
      const m = Math.min(n, here.get(k) ?? 0);
      if (m === 0) left.delete(k);
      else left.set(k, m);
    }
  }
  const out: Expr[] = [];
  if (left.size === 0) return out;
  for (const f of first) {
    const k = exprKey(f);
    const n = left.get(k) ?? 0;
    if (n > 0) {
      left.set(k, n - 1);
      out.push(f);
    }
  }
  return out;
}

/** Remove one copy of each of `drop` (by key) from `from`. */
function without(from: readonly Expr[], drop: readonly Expr[]): Expr[] {
  const left = new Map<string, number>();
  for (const f of drop) left.set(exprKey(f), (left.get(exprKey(f)) ?? 0) + 1);
  return from.filter((f) => {
    const n = left.get(exprKey(f)) ?? 0;
    if (n === 0) return true;
    left.set(exprKey(f), n - 1);
    return false;
  });
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

function factorSum(e: Extract<Expr, { kind: 'add' }>): Expr | undefined {
  const terms = e.terms.map(splitTerm);
  const top = shared(terms.map((t) => t.top));
  const bottom = shared(terms.map((t) => t.bottom));
  const integers = terms.every((t) => Number.isInteger(t.coef) && t.coef !== 0);
  // every term negative: the sign moves out too, −(a + b) rather than (−a − b)
  const sign = terms.every((t) => t.coef / t.den < 0) ? -1 : 1;
  const divisor = sign * (integers ? terms.reduce((g, t) => gcd(g, Math.abs(t.coef)), 0) : 1);
  if (top.length === 0 && bottom.length === 0 && Math.abs(divisor) <= 1) return undefined;
  const rest = terms.map((t) => ({ ...t, coef: t.coef / divisor, top: without(t.top, top), bottom: without(t.bottom, bottom) }));
  // what stays inside must be a plain sum of products: cosine similarity's y/(‖x‖·‖y‖) − (xᵀy)·x/(‖x‖³·‖y‖)
  // reads best as it stands, not as (y/‖y‖ − (xᵀy)·x/(‖x‖²·‖y‖))/‖x‖
  if (rest.some((t) => t.den !== 1 || t.bottom.length > 0)) return undefined;
  // positive terms first reads better: (Hs − Cd)·dHn rather than (−Cd + Hs)·dHn
  const ordered = [...rest.filter((t) => t.coef / t.den > 0), ...rest.filter((t) => t.coef / t.den <= 0)];
  const inner = add(ordered.map((t) => div(mul([num(t.coef), ...t.top]), mul([num(t.den), ...t.bottom]))));
  // the shared factor first, as a textbook writes softmax's backward: P ⊙ (dP − rowsum(P ⊙ dP))
  return div(mul([num(divisor), ...top, inner]), mul(bottom));
}

export function factorCommon(e: Expr, log?: (line: string) => void): Expr {
  const inner = mapChildren(e, (c) => factorCommon(c, log));
  if (inner.kind !== 'add') return inner;
  const out = factorSum(inner);
  if (out === undefined) return inner;
  log?.(`factor common: ${printExpr(inner)} = ${printExpr(out)}`);
  return out;
}
