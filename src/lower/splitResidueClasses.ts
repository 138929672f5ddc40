// splitResidueClasses: a sum whose read runs backwards over a strided tap (a conv input gradient) →
// one stride-1 correlation per residue class of the output index, each a matmul over an implicit
// im2col (lowerIm2col) whose contraction runs over the taps only.
//
// Worked example, conv input gradient (stride T, padding P):
//   dX[n,c,h,w] = sum(f,u,v) K[f,c,h+P-u*T,w+P-v*T]*dY[n,f,u,v]
// K's tap i = h+P-u*T is nonzero only for 0 ≤ i < R, so summing over u (all of U) would be mostly
// zeros. Write h + P = T·m + ρ with 0 ≤ ρ < T: the taps are i = T·i′ + ρ and u = m − i′. For each
// class ρ the outputs h = T·m + ρ − P, m = m₀ + a, form a grid of their own, and
//   dX[n, c, T·(m₀+a)+ρ−P, …] = sum(f,i′,j′) K[f, c, T·i′+ρ, T·j′+σ] · dY[n, f, m₀+a−i′, n₀+b−j′]
// is a stride-1 correlation of dY with the sub-kernel of class (ρ,σ): rows c, columns (n,a,b),
// contraction (f,i′,j′) over ⌈(R−ρ)/T⌉·⌈(S−σ)/T⌉ taps. The class's numbers are runtime constants
// ($rho0, $first0 = m₀, $count0 = how many a, $taps0 = how many i′); the new statement names them as
// sizes, reuses h for a and u for i′, and lowerIm2col lowers it once inside loops over the classes
// (their constants bound to the classes' loop variables by `residueClasses`).
// dY is read from one zero-padded copy whose pads cover every class.
import { idxAsVar, idxVar } from '../ir/affine.js';
import { polyAdd, polyConst, polyConstValue, polyIsPositive, polyMul, polyScale, polySub, polyVar, sizeEquals } from '../ir/sizes.js';
import type { Bound, Expr, IndexExpr, Poly, SizeExpr, Statement } from '../ir/types.js';
import { add, c, ceildiv, for_, let_, max, sub, sym, v } from '../loop/build.js';
import type { LExpr, LStmt } from '../loop/types.js';
import { sameNumber, type KernelScope, type LowerContext } from './kernelScope.js';

type Access = Extract<Expr, { kind: 'access' }>;

/** One split left-side index h, read as A[…, h + offset − stride·u, …] and B[…, u, …]. */
interface SplitIndex {
  readonly h: string;
  readonly u: string;
  readonly stride: Poly;
  readonly offset: Poly;
  /** h's extent, and the extent of A's tap dimension */
  readonly extent: SizeExpr;
  readonly taps: SizeExpr;
  /** the class constants' names */
  readonly rho: string;
  readonly first: string;
  readonly count: string;
  readonly tapCount: string;
  /** B's read and dimension that take the split index */
  readonly reach: string;
}

export interface ResidueSplit {
  /** the statement of one class, over the class's indices (sizes named `$…` are class constants) */
  readonly statement: Statement;
  /** the output's subscripts in the class's left-side indices: h → T·(first + h) + ρ − offset */
  readonly out: readonly IndexExpr[];
  /** reads ("tensor:dim") in range by construction: the sub-kernel's taps T·i′ + ρ < R */
  readonly inRange: ReadonlySet<string>;
  readonly splits: readonly SplitIndex[];
  /** the most a class's index can run over: h's extent for a, the tap dimension for i′ */
  readonly upper: ReadonlyMap<string, SizeExpr>;
}

/** The reads of a sum-of-products body, or undefined when a factor is neither a read nor a number. */
function factorsOf(body: Expr): Access[] | undefined {
  const fs = body.kind === 'mul' ? body.factors : [body];
  if (!fs.every((f) => f.kind === 'access' || f.kind === 'num')) return undefined;
  return fs.filter((f): f is Access => f.kind === 'access');
}

export function splitResidueClasses(s: Statement, ctx: LowerContext): ResidueSplit | undefined {
  const r = s.rhs;
  if (r.kind !== 'reduce' || r.op !== 'sum') return undefined;
  const reads = factorsOf(r.body);
  // each tensor read once (the classes' facts are keyed by tensor and dimension), and plain affine
  // subscripts: an index inside a quotient (X[h/2]) would escape the count of its uses below
  if (!reads || new Set(reads.map((x) => x.tensor)).size !== reads.length) return undefined;
  if (reads.some((x) => x.subs.some((sub) => sub.terms.some((t) => t.atom.kind !== 'var')))) return undefined;
  const lhs = new Set(s.lhs.map((b) => b.name));
  const summed = new Map(r.indices.map((b) => [b.name, b.extent]));
  // every use of an index: which read, which dimension
  const uses = new Map<string, { read: Access; d: number }[]>();
  for (const x of reads)
    x.subs.forEach((sub, d) => {
      for (const t of sub.terms) {
        if (t.atom.kind !== 'var') continue;
        const list = uses.get(t.atom.name) ?? [];
        list.push({ read: x, d });
        uses.set(t.atom.name, list);
      }
    });
  const sameSize = (a: SizeExpr, b: SizeExpr) => sizeEquals(a, b) || sameNumber(a, b, ctx.defaults);
  const splits: SplitIndex[] = [];
  for (const x of reads)
    x.subs.forEach((sub, d) => {
      if (sub.terms.length !== 2 || !sub.terms.every((t) => t.atom.kind === 'var')) return;
      const named = sub.terms.map((t) => ({ name: (t.atom as { name: string }).name, coef: t.coef }));
      const h = named.find((t) => lhs.has(t.name) && polyConstValue(t.coef) === 1);
      const u = named.find((t) => summed.has(t.name) && polyIsPositive(polyScale(t.coef, -1)));
      if (!h || !u) return;
      // h nowhere else; u once more, alone, over the whole of that dimension (dY[n,f,u,v])
      if (uses.get(h.name)!.length !== 1) return;
      const others = uses.get(u.name)!.filter((e) => e.read !== x || e.d !== d);
      if (others.length !== 1) return;
      const other = others[0]!;
      if (other.read === x || idxAsVar(other.read.subs[other.d]!) !== u.name) return;
      if (!sameSize(summed.get(u.name)!, ctx.shapeOf(other.read.tensor)[other.d]!)) return;
      const k = splits.length;
      splits.push({
        h: h.name,
        u: u.name,
        stride: polyScale(u.coef, -1),
        offset: sub.constant,
        extent: s.lhs.find((b) => b.name === h.name)!.extent,
        taps: ctx.shapeOf(x.tensor)[d]!,
        rho: `$rho${k}`,
        first: `$first${k}`,
        count: `$count${k}`,
        tapCount: `$taps${k}`,
        reach: `${other.read.tensor}:${other.d}`,
      });
    });
  if (splits.length === 0) return undefined;
  // a read must not be split twice over the same dimension's data by two splits of one tensor
  if (new Set(splits.map((p) => p.reach)).size !== splits.length) return undefined;

  const of = (name: string) => splits.find((p) => p.h === name || p.u === name);
  const inRange = new Set<string>();
  const rewrite = (x: Access): Access => ({
    ...x,
    subs: x.subs.map((sub, d) => {
      const split = sub.terms.length === 2 ? splits.find((p) => sub.terms.some((t) => t.atom.kind === 'var' && t.atom.name === p.h)) : undefined;
      if (split) {
        // the sub-kernel's tap T·i′ + ρ
        inRange.add(`${x.tensor}:${d}`);
        return { terms: [{ atom: { kind: 'var', name: split.u }, coef: split.stride }], constant: polyVar(split.rho) };
      }
      const v = idxAsVar(sub);
      const p = v !== undefined ? of(v) : undefined;
      // B's u becomes first + a − i′
      if (p && v === p.u)
        return {
          terms: [
            { atom: { kind: 'var', name: p.h }, coef: polyConst(1) },
            { atom: { kind: 'var', name: p.u }, coef: polyConst(-1) },
          ],
          constant: polyVar(p.first),
        };
      return sub;
    }),
  });
  const body: Expr = r.body.kind === 'mul' ? { kind: 'mul', factors: r.body.factors.map((f) => (f.kind === 'access' ? rewrite(f) : f)) } : rewrite(r.body as Access);
  const sized = (b: Bound, pick: (p: SplitIndex) => string): Bound => {
    const p = of(b.name);
    return p ? { name: b.name, extent: { kind: 'poly', poly: polyVar(pick(p)) } } : b;
  };
  const statement: Statement = {
    ...s,
    lhs: s.lhs.map((b) => sized(b, (p) => p.count)),
    rhs: { ...r, indices: r.indices.map((b) => sized(b, (p) => p.tapCount)), body },
  };
  const out = s.lhs.map((b): IndexExpr => {
    const p = splits.find((q) => q.h === b.name);
    if (!p) return idxVar(b.name);
    // T·(first + a) + ρ − offset
    const constant = polySub(polyAdd(polyMul(p.stride, polyVar(p.first)), polyVar(p.rho)), p.offset);
    return { terms: [{ atom: { kind: 'var', name: b.name }, coef: p.stride }], constant };
  });
  const upper = new Map(splits.flatMap((p) => [[p.h, p.extent] as const, [p.u, p.taps] as const]));
  return { statement, out, inRange, splits, upper };
}

/**
 * The loops over the classes, with each class's constants, and the reach of B's split subscripts
 * over every class, so that one padded copy serves them all:
 *   first = ⌈(offset − ρ)/T⌉, count = ⌈(H + offset − ρ)/T⌉ − first, taps = ⌈(R − ρ)/T⌉;
 * B reads first + a − i′, from at least ⌈(offset − T + 1)/T⌉ − ⌈R/T⌉ + 1 (ρ = T − 1, all taps)
 * up to ⌈(H + offset)/T⌉ − 1 (ρ = 0). The class constants are bound in `scope` as sizes of the
 * class's statement before its body is lowered; `wrap` puts the loops around that body.
 */
export function residueClasses(split: ResidueSplit, scope: KernelScope): { wrap: (body: readonly LStmt[]) => LStmt[]; reach: Map<string, { lo: LExpr; hi: LExpr }> } {
  const reach = new Map<string, { lo: LExpr; hi: LExpr }>();
  const levels = split.splits.map((p) => {
    const T = scope.poly(p.stride);
    const offset = scope.poly(p.offset);
    const H = scope.sizeExpr(p.extent);
    const R = scope.sizeExpr(p.taps);
    const [rho, first, count, taps] = [p.rho, p.first, p.count, p.tapCount].map((n) => sym(n, 'i32'));
    scope.bindSize(p.rho, v(rho!));
    scope.bindSize(p.first, v(first!));
    scope.bindSize(p.count, v(count!));
    scope.bindSize(p.tapCount, v(taps!));
    reach.set(p.reach, { lo: add(sub(ceildiv(sub(offset, sub(T, c(1))), T), ceildiv(R, T)), c(1)), hi: sub(ceildiv(add(H, offset), T), c(1)) });
    const constants = [
      let_(first!, ceildiv(sub(offset, v(rho!)), T)),
      let_(count!, max(c(0), sub(ceildiv(sub(add(H, offset), v(rho!)), T), v(first!)))),
      let_(taps!, max(c(0), ceildiv(sub(R, v(rho!)), T))),
    ];
    // a stride of 1 has one class
    return (inner: readonly LStmt[]): LStmt[] => (T.kind === 'const' && T.value === 1 ? [{ kind: 'block', body: [let_(rho!, c(0)), ...constants, ...inner] }] : [for_(rho!, c(0), T, [...constants, ...inner])]);
  });
  return { wrap: (body) => levels.reduceRight<LStmt[]>((inner, level) => level(inner), [...body]), reach };
}
