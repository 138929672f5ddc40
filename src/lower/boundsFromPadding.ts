// boundsFromPadding: where a sum's terms can be nonzero, from its zero-padded reads and range guards —
// so that its loops visit only there, instead of testing every element.
//
// Worked example, the conv input gradient's sum over u of K[f,c,h+P-u*T,…]*dY[n,f,u,…]: K is 0
// outside 0 ≤ h+P-u*T < R, so u needs only ceil((h+P-(R-1))/T) ≤ u ≤ floor((h+P)/T): the constraint
//   { v: u, coef: -T, rest: h+P, dim: R }
// and K's read is then in range (its key is proven). A guard (e % T == 0) becomes a residue: u steps
// through the class of e modulo T. A guard (q >= 0) or (q < E) bounds one side of q's index.
import { atomArgs, idxAsVar, idxVars } from '../ir/affine.js';
import { polyConstValue, sizeEquals, sizeTryEval } from '../ir/sizes.js';
import type { Bound, Expr, IndexExpr, Poly, SizeExpr } from '../ir/types.js';
import { accessKey, sameNumber, type KernelScope } from './kernelScope.js';

/** 0 ≤ coef·v + rest < dim, from a zero-padded read or a range guard. */
export interface Constraint {
  readonly v: string;
  /** numeric, or a size polynomial of one sign */
  readonly coef: number | Poly;
  readonly rest: IndexExpr;
  /** the dimension (upper bound); undefined for a guard q ≥ 0 with no upper bound */
  readonly dim?: SizeExpr;
  /** which sides hold: a read is 0 outside [0, dim); a guard q ≥ 0 or q < E holds one side only */
  readonly sides?: 'both' | 'lower' | 'upper';
  /** the read it came from, proven in range once applied */
  readonly source?: string;
}

/** v runs through the residue class of `target` modulo `modulus`. */
export interface Residue {
  readonly v: string;
  readonly modulus: Poly;
  readonly target: IndexExpr;
}

export interface Bounds {
  /** the body without the guards that became bounds */
  readonly body: Expr;
  readonly constraints: readonly Constraint[];
  readonly residues: readonly Residue[];
  /** reads in range once the constraints bound the loops */
  readonly proven: readonly string[];
}

export const negateIndex = (ix: IndexExpr): IndexExpr => ({
  terms: ix.terms.map((t) => ({ atom: t.atom, coef: new Map([...t.coef].map(([k, x]) => [k, -x])) })),
  constant: new Map([...ix.constant].map(([k, x]) => [k, -x])),
});

/**
 * Every read that multiplies the whole body is 0 outside its tensor, and every range guard is 0
 * outside its range, so the loops over `nest` need only visit where they hold.
 */
export function boundsFrom(scope: KernelScope, body: Expr, nest: readonly Bound[]): Bounds {
  const factors = body.kind === 'mul' ? [...body.factors] : [body];
  const names = nest.map((b) => b.name);
  const constraints: Constraint[] = [];
  const residues: Residue[] = [];
  const kept: Expr[] = [];
  const innermost = (ix: IndexExpr): string | undefined => {
    const vs = idxVars(ix).filter((x) => names.includes(x));
    return vs.sort((a, b) => names.indexOf(b) - names.indexOf(a))[0];
  };
  const linear = (ix: IndexExpr, x: string): { coef: number | Poly; rest: IndexExpr } | undefined => {
    const term = ix.terms.find((t) => t.atom.kind === 'var' && t.atom.name === x);
    if (!term) return undefined;
    // x must appear only as that one plain term
    if (ix.terms.some((t) => t !== term && t.atom.kind !== 'var' && atomArgs(t.atom).some((y) => idxVars(y).includes(x)))) return undefined;
    const k = polyConstValue(term.coef);
    const vals = [...term.coef.values()];
    const coef = k !== undefined ? k : vals.every((y) => y > 0) || vals.every((y) => y < 0) ? term.coef : undefined;
    if (coef === undefined || coef === 0) return undefined;
    return { coef, rest: { terms: ix.terms.filter((t) => t !== term), constant: ix.constant } };
  };
  for (const f of factors) {
    if (f.kind === 'access') {
      const shape = scope.ctx.shapeOf(f.tensor);
      f.subs.forEach((s, d) => {
        const x = innermost(s);
        if (!x) return;
        const lin = linear(s, x);
        if (lin) constraints.push({ v: x, ...lin, dim: shape[d]!, source: accessKey(f) });
      });
      kept.push(f);
      continue;
    }
    if (f.kind === 'compare' && f.a.kind === 'index') {
      const ix = f.a.expr;
      const x = innermost(ix);
      const lin = x ? linear(ix, x) : undefined;
      // (q >= 0) and (q < E): a range guard on one loop index
      if (x && lin && f.op === '>=' && f.b.kind === 'num' && f.b.value === 0) {
        constraints.push({ v: x, ...lin, sides: 'lower' });
        continue;
      }
      if (x && lin && f.op === '<' && f.b.kind === 'sizeval') {
        constraints.push({ v: x, ...lin, dim: f.b.size, sides: 'upper' });
        continue;
      }
      // (e % s == 0): step through the residue class
      const t = ix.terms[0];
      if (f.op === '==' && f.b.kind === 'num' && f.b.value === 0 && ix.terms.length === 1 && t?.atom.kind === 'mod' && polyConstValue(t.coef) === 1 && polyConstValue(ix.constant) === 0) {
        const inner = t.atom.of;
        const w = innermost(inner);
        const l = w ? linear(inner, w) : undefined;
        if (w && l && (l.coef === 1 || l.coef === -1) && !residues.some((r) => r.v === w)) {
          residues.push({ v: w, modulus: t.atom.by, target: l.coef === 1 ? negateIndex(l.rest) : l.rest });
          continue;
        }
      }
    }
    kept.push(f);
  }
  // a read is proven only when every subscript is: bounded by its own constraint over the whole
  // dimension, or a plain index whose extent is the dimension
  const proven: string[] = [];
  for (const f of factors) {
    if (f.kind !== 'access') continue;
    const key = accessKey(f);
    if (!constraints.some((x) => x.source === key) || proven.includes(key)) continue;
    const shape = scope.ctx.shapeOf(f.tensor);
    const ok = f.subs.every((s, d) => {
      const x = innermost(s);
      if (x) return constraints.some((k) => k.source === key && k.v === x && (k.sides ?? 'both') === 'both' && !!k.dim && sizeEquals(k.dim, shape[d]!));
      const pv = idxAsVar(s);
      const ext = pv ? scope.extentOf.get(pv) : undefined;
      return !!ext && (sizeEquals(ext, shape[d]!) || sameNumber(ext, shape[d]!, scope.ctx.defaults));
    });
    if (ok) proven.push(key);
  }
  const rest = kept.length === factors.length ? body : kept.length === 1 ? kept[0]! : ({ kind: 'mul', factors: kept } as Expr);
  return { body: rest, constraints, residues, proven };
}

/**
 * Loop order of a sum: indices that run over a short window (a small extent like a 3×3 kernel, or
 * bounded by a small dimension through a zero-padded read) go outside, so the innermost loop is
 * long (channels, positions) rather than 3 iterations of overhead.
 */
export function loopOrder(scope: KernelScope, r: Extract<Expr, { kind: 'reduce' }>): Bound[] {
  const small = (e: SizeExpr | undefined) => {
    const x = e && sizeTryEval(e, scope.ctx.defaults);
    return x !== undefined && x !== 0 && x <= 4;
  };
  const { constraints } = boundsFrom(scope, r.body, r.indices);
  const short = (b: Bound) => small(b.extent) || constraints.some((k) => k.v === b.name && small(k.dim));
  return [...r.indices.filter(short), ...r.indices.filter((b) => !short(b))];
}
