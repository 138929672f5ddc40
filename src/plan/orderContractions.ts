// orderContractions: a sum of a product of three or more tensors, contracted two at a time through
// new intermediates, in the cheapest order for the sizes (the idea of opt_einsum's greedy path).
//
// Worked example: Y[i,l] = sum(j,k) A[i,j]*B[j,k]*C[k,l] runs a loop nest over i, j, k, l: N⁴. The
// pairs that sum an index away are (A, B) over j, giving AB[i,k] for I·J·K, and (B, C) over k, giving
// BC[j,l] for J·K·L; the cheaper (on a tie the first) is made an intermediate, and what is left is a
// product of two: AB[i,k] = sum(j) A[i,j]*B[j,k];  Y[i,l] = sum(k) AB[i,k]*C[k,l] — 2·N³.
// Factors over the same indices (a mask and a gradient, (Y > 0)*dY) or over fewer of one operand's
// indices (a gain g[d] beside X[n,d]) stay one operand: they are multiplied while it is read, never
// stored. A pair whose value was made already (by the forward, or another gradient) costs nothing;
// among equal costs, a pair that reads a gradient is taken first — the gradients of one statement all
// read its seed, so what one makes the next can read. The split is made only when it is at least
// twice as cheap as the loop nest it replaces.
import { freeIndices, mul, reduce } from '../ir/exprs.js';
import type { Bound, Expr, SizeExpr } from '../ir/types.js';
import { nestCost, type CostModel } from './costs.js';
import type { Phase, Registry } from './intermediates.js';

export interface OrderContext {
  readonly registry: Registry;
  readonly model: CostModel;
  readonly phase: Phase;
  /** tensors whose reads make a pair preferred on a tie: seeds and gradients */
  readonly prefer: ReadonlySet<string>;
  readonly log?: (line: string) => void;
}

interface Operand {
  readonly expr: Expr;
  readonly vars: ReadonlySet<string>;
  /** position among the factors, to keep the written order */
  readonly at: number;
}

/** The factors of a product, a sign and index-free factors apart. */
function factorsOf(e: Expr): Expr[] {
  if (e.kind === 'mul') return e.factors.flatMap(factorsOf);
  if (e.kind === 'neg') return [{ kind: 'num', value: -1 }, ...factorsOf(e.arg)];
  return [e];
}

const reads = (e: Expr, names: ReadonlySet<string>): boolean => {
  if (e.kind === 'access') return names.has(e.tensor);
  if (e.kind === 'mul') return e.factors.some((f) => reads(f, names));
  return false;
};

const stemOf = (a: Expr, b: Expr): string => {
  const name = (e: Expr) => (e.kind === 'access' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(e.tensor) ? e.tensor : undefined);
  const [x, y] = [name(a), name(b)];
  return x && y && (x + y).length <= 8 ? x + y : 'T';
};

/** `r` with its product contracted pairwise where that pays; `extentOf` covers every index in r. */
export function orderContractions(r: Extract<Expr, { kind: 'reduce' }>, extentOf: (v: string) => SizeExpr, ctx: OrderContext): Expr {
  if (r.op !== 'sum' || r.body.kind !== 'mul') return r;
  const summed = new Set(r.indices.map((b) => b.name));
  const out = new Set(freeIndices(r));
  const constants: Operand[] = [];
  let operands: Operand[] = [];
  factorsOf(r.body).forEach((f, at) => {
    const vars = new Set(freeIndices(f));
    if (vars.size === 0) constants.push({ expr: f, vars, at });
    else operands.push({ expr: f, vars, at });
  });
  // a factor over a subset of another's indices is read with it (smallest such operand first)
  const merged: Operand[] = [];
  for (const o of [...operands].sort((a, b) => b.vars.size - a.vars.size || a.at - b.at)) {
    const host = merged.filter((m) => [...o.vars].every((v) => m.vars.has(v))).sort((a, b) => a.vars.size - b.vars.size)[0];
    if (host) merged[merged.indexOf(host)] = { expr: mul([host.expr, o.expr]), vars: host.vars, at: Math.min(host.at, o.at) };
    else merged.push(o);
  }
  operands = merged.sort((a, b) => a.at - b.at);
  if (operands.length < 3) return r;

  const all = new Set([...out, ...summed]);
  // a summed index no factor reads (sum(r:A) of what does not depend on r) multiplies by its extent:
  // it stays summed around what is left, whatever the pairs take
  const read = new Set(operands.flatMap((o) => [...o.vars]));
  const unread = r.indices.filter((b) => !read.has(b.name));
  const naive = nestCost(all, extentOf, ctx.model);
  // the greedy path: which two of the operands left to join at each step (opt_einsum's contraction list)
  const path = (onStep?: (a: Operand, b: Operand, lost: readonly string[], keep: readonly string[]) => Expr) => {
    let left = operands;
    let planned = 0;
    const pairs: [number, number][] = [];
    while (left.length > 2) {
      let best: { i: number; j: number; cost: number; size: number; prefer: boolean; keep: string[]; lost: string[] } | undefined;
      for (let i = 0; i < left.length; i++)
        for (let j = i + 1; j < left.length; j++) {
          const [a, b] = [left[i]!, left[j]!];
          const union = [...new Set([...a.vars, ...b.vars])];
          const others = new Set(left.filter((_, k) => k !== i && k !== j).flatMap((o) => [...o.vars]));
          const lost = union.filter((v) => summed.has(v) && !out.has(v) && !others.has(v));
          if (lost.length === 0) continue;
          const keep = union.filter((v) => !lost.includes(v));
          const value = reduce('sum', lost.map((v) => ({ name: v, extent: extentOf(v) })), mul([a.expr, b.expr]));
          const cost = ctx.registry.has(value, extentOf) ? 0 : nestCost(union, extentOf, ctx.model);
          const size = nestCost(keep, extentOf, ctx.model);
          const prefer = reads(a.expr, ctx.prefer) || reads(b.expr, ctx.prefer);
          const better = !best || cost < best.cost || (cost === best.cost && (size < best.size || (size === best.size && prefer && !best.prefer)));
          if (better) best = { i, j, cost, size, prefer, keep, lost };
        }
      if (!best) break;
      const [a, b] = [left[best.i]!, left[best.j]!];
      pairs.push([best.i, best.j]);
      planned += best.cost;
      const expr = onStep ? onStep(a, b, best.lost, best.keep) : mul([a.expr, b.expr]);
      const joined: Operand = { expr, vars: new Set(best.keep), at: Math.min(a.at, b.at) };
      left = [...left.filter((_, k) => k !== best!.i && k !== best!.j), joined].sort((x, y) => x.at - y.at);
    }
    const rest = new Set(left.flatMap((o) => [...o.vars]));
    planned += nestCost(new Set([...out, ...[...rest].filter((v) => summed.has(v)), ...unread.map((b) => b.name)]), extentOf, ctx.model);
    return { pairs, planned, left };
  };
  const trial = path();
  if (trial.pairs.length === 0 || trial.planned * 2 > naive) return r;
  // make the intermediates, in order: each step reads the ones before it
  const { left } = path((a, b, lost, keep) => {
    const bounds: Bound[] = lost.map((v) => ({ name: v, extent: extentOf(v) }));
    const value = reduce('sum', bounds, mul([a.expr, b.expr]));
    const why = `order contractions: sum over ${lost.join(',')} of two factors (${nestCost([...a.vars, ...b.vars].filter((v, k, xs) => xs.indexOf(v) === k), extentOf, ctx.model)} steps) into [${keep.join(',')}]`;
    return ctx.registry.read(value, extentOf, stemOf(a.expr, b.expr), ctx.phase, why, ctx.log);
  });
  const stillSummed = r.indices.filter((b) => left.some((o) => o.vars.has(b.name)) || unread.includes(b));
  ctx.log?.(`order contractions: a loop nest over ${[...all].join(',')} (${naive} steps) becomes ${trial.planned} steps`);
  return reduce('sum', stillSummed, mul([...constants.map((c) => c.expr), ...left.map((o) => o.expr)]));
}
