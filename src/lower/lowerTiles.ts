// lowerTiles: Out[…a…b…] = E(sum(k) A(a,k)·B(b,k)), where the A reads do not use b, the B reads do
// not use a and no loop bound depends on either → a tile of 4 values of a × 4 of b keeps 16 sums in
// locals, so each value read serves four multiply-adds (4 + 4 reads per 16, instead of 2 per 1).
//
// Worked example, conv forward without SIMD (a = f over K, b = n over X):
//   for f in [0, F − F%4) by 4:  for n in [0, N − N%4) by 4:  for u …: for v …:
//     16 accumulators; per tap:  x0..x3 = K[f+0..3, c, i, j];  y_j = X[n+j, c, …];  acc_ij += x_i·y_j
//     then Y[f+i, n+j, u, v] = acc_ij + b[f+i]
// and sizes that are not multiples of 4 finish in 4×1, 1×4 and 1×1 tiles (the last the plain sum,
// unrolled into partial sums). conv forward: a = f (K), b = n (X); dX: a = c (K), b = n (dY); dK:
// a = f (dY), b = c (X). A read whose innermost loop walks a dimension with a stride that is a
// multiple of 1 KiB at run time (X along c at H = W = 32 in float64: the 4 × C values one tap reads
// share a few L1 cache sets) is read from a copy whose dimension is padded by one cache line.
import { atomArgs, idxVar, idxVars } from '../ir/affine.js';
import { exprKey, freeIndices } from '../ir/exprs.js';
import { polyConstValue, sizeTryEval } from '../ir/sizes.js';
import type { Bound, Expr, Statement } from '../ir/types.js';
import { add, addTo, buffer, c, eq, for_, if_, let_, mul, ne, rem, select, store, sub, sym, v } from '../loop/build.js';
import type { LExpr, LStmt } from '../loop/types.js';
import { boundsFrom, loopOrder, type Constraint, type Residue } from './boundsFromPadding.js';
import { reductionsIn, type Access } from './kernelScope.js';
import type { Lowering } from './lowering.js';

/** Register tile widths: 4×4 measured best on the conv benchmarks (4×2, 2×4, 3×4, 4×3 and 2×2 were 10–60 % slower). */
const TILE = 4;

interface TilePair {
  readonly a: string;
  readonly b: string;
  readonly aReads: readonly Access[];
  readonly bReads: readonly Access[];
}

/** Σ_d stride_d · coef_d(x): how far a read moves when x grows by one; undefined when x sits in a quotient or remainder. */
function coefficient(L: Lowering, f: Access, x: string): LExpr | undefined {
  let out = c(0);
  for (let d = 0; d < f.subs.length; d++)
    for (const t of f.subs[d]!.terms) {
      if (t.atom.kind !== 'var') {
        if (atomArgs(t.atom).some((y) => idxVars(y).includes(x))) return undefined;
        continue;
      }
      if (t.atom.name === x) out = add(out, mul(L.scope.poly(t.coef), L.scope.stride(f.tensor, d)));
    }
  return out;
}

/** The two left-side indices to tile over, with the reads that vary along each. */
function tilePair(L: Lowering, s: Statement, body: Expr, nest: readonly Bound[], constraints: readonly Constraint[], residues: readonly Residue[]): TilePair | undefined {
  const factors = body.kind === 'mul' ? body.factors : [body];
  if (nest.length === 0 || factors.some((f) => reductionsIn(f).length > 0)) return undefined;
  // indices a loop bound depends on would give each lane its own bounds
  const pinned = new Set([...constraints.flatMap((k) => idxVars(k.rest)), ...residues.flatMap((r) => idxVars(r.target))]);
  const along = (x: string) => factors.filter((f) => freeIndices(f).includes(x));
  const movable = (f: Expr) => f.kind === 'access' && f.subs.length > 0 && nest.every((b) => coefficient(L, f, b.name) !== undefined);
  const laneable = (x: string) => {
    const reads = along(x);
    if (pinned.has(x) || reads.length === 0) return false;
    return reads.every((f) => movable(f) && L.scope.inRange(f as Access) && coefficient(L, f as Access, x) !== undefined);
  };
  const names = s.lhs.map((b) => b.name).filter(laneable);
  for (let i = 0; i < names.length; i++)
    for (let j = i + 1; j < names.length; j++) {
      const ra = along(names[i]!);
      const rb = along(names[j]!);
      if (ra.some((f) => rb.includes(f))) continue;
      return { a: names[i]!, b: names[j]!, aReads: ra as Access[], bReads: rb as Access[] };
    }
  return undefined;
}

/**
 * Reads the innermost loop walks along one dimension whose stride is known only at run time: when
 * that stride is a multiple of 1 KiB they are read from a copy of the tensor with that dimension
 * padded by a cache line (measured 30–45 % slower otherwise at H = W = 32 than at 30 or 33).
 */
function restride(L: Lowering, s: Statement, nest: readonly Bound[], reads: readonly Access[]): LStmt[] {
  const { scope } = L;
  const inner = nest[nest.length - 1]?.name;
  if (inner === undefined) return [];
  const out: LStmt[] = [];
  const bytes = scope.F === 'f32' ? 4 : 8;
  for (const f of reads) {
    if (f.tensor === s.tensor || scope.restrided.has(f.tensor)) continue;
    const dims = f.subs.flatMap((sub, d) => (idxVars(sub).includes(inner) ? [d] : []));
    if (dims.length !== 1 || dims[0] === f.subs.length - 1) continue;
    const d = dims[0]!;
    const coef = f.subs[d]!.terms.find((t) => t.atom.kind === 'var' && t.atom.name === inner)?.coef;
    if (!coef || polyConstValue(coef) !== 1) continue;
    // a stride fixed by the program (K[f,c,3,3] along c: 9) is decided here, not at run time
    const fixed = scope.ctx.shapeOf(f.tensor).slice(d + 1).map((x) => sizeTryEval(x, new Map()));
    if (fixed.every((x) => x !== undefined) && (fixed.reduce((a, b) => a! * b!, 1)! * bytes) % 1024 !== 0) continue;
    const dense = scope.denseStride(f.tensor, d);
    const pad = sym(`$${f.tensor}_pad`, 'i32');
    out.push(let_(pad, select(eq(rem(mul(dense, c(bytes)), c(1024)), c(0)), c(64 / bytes), c(0))));
    const blocks = scope.ctx.shapeOf(f.tensor).slice(0, d + 1).reduce((m, _, q) => mul(m, scope.dim(f.tensor, q)), c(1));
    const padded = add(dense, v(pad));
    // one module scratch array per copy of this kernel (two copies must not share one)
    const copy = buffer(`$copy${scope.restrided.size}_`, scope.F);
    const q = sym('$q', 'i32');
    const source = scope.tensor(f.tensor, 'read');
    const picked = buffer(`$${f.tensor}_r`, scope.F);
    out.push(
      { kind: 'comment', text: `${f.tensor} read from a copy whose dimension ${d} is padded by a cache line when its stride is a multiple of 1 KiB (cache sets)` },
      { kind: 'alloc', buf: copy, size: select(ne(v(pad), c(0)), mul(blocks, padded), c(0)), scope: 'module', zero: false },
      ...if_(ne(v(pad), c(0)), [for_(q, c(0), blocks, [{ kind: 'copy', dst: copy, dstAt: mul(v(q), padded), src: source, srcAt: mul(v(q), dense), count: dense }])]),
      { kind: 'choose', buf: picked, cond: ne(v(pad), c(0)), then: copy, else: source },
    );
    scope.restrided.set(f.tensor, { buf: picked, dim: d, pad: v(pad) });
  }
  return out;
}

export function lowerTiles(L: Lowering, s: Statement): LStmt[] | undefined {
  const { scope } = L;
  const sums = reductionsIn(s.rhs);
  const sum = sums[0];
  if (sums.length !== 1 || !sum || sum.op !== 'sum' || s.lhs.length < 2) return undefined;
  if (reductionsIn(sum.body).length) return undefined;
  sum.indices.forEach((b) => scope.extentOf.set(b.name, b.extent));
  const nest = loopOrder(scope, sum);
  const bounds = boundsFrom(scope, sum.body, nest);
  bounds.proven.forEach((k) => scope.proven.add(k));
  const pair = tilePair(L, s, bounds.body, nest, bounds.constraints, bounds.residues);
  if (!pair) return undefined;
  const copies = restride(L, s, nest, [...pair.aReads, ...pair.bReads]);
  const factors = bounds.body.kind === 'mul' ? bounds.body.factors : [bounds.body];
  const out = scope.tensor(s.tensor, 'write');
  const loopVars = s.lhs.map((b) => sym(b.name, 'i32'));
  const vars = new Map<string, LExpr>();
  const sumKey = exprKey(sum);

  /** One tile, wa × wb wide: sums in locals over the reduction nest, then the stores. */
  const tile = (wa: number, wb: number): LStmt[] => {
    const stmts: LStmt[] = [];
    const accs = Array.from({ length: wa }, () => Array.from({ length: wb }, () => sym('$acc', scope.F)));
    for (const a of accs.flat()) stmts.push(let_(a, c(0, scope.F), true));
    const nestOpts = { constraints: bounds.constraints, residues: bounds.residues };
    if (wa === 1 && wb === 1) {
      // a single sum: the plain loop, unrolled into partial sums
      const acc = accs[0]![0]!;
      stmts.push(...L.nest(nest, vars, bounds.body, (vs, hoisted) => {
        const e = L.expr(bounds.body, vs, hoisted);
        return [...e.stmts, addTo(acc, e.value)];
      }, { ...nestOpts, unrollSum: true }));
    } else {
      const rest = factors.filter((f) => !pair.aReads.includes(f as Access) && !pair.bReads.includes(f as Access));
      stmts.push(...L.nest(nest, vars, bounds.body, (vs, hoisted) => {
        const body: LStmt[] = [];
        const common = rest.length ? L.expr(rest.length === 1 ? rest[0]! : { kind: 'mul', factors: rest }, vs, hoisted) : undefined;
        if (common) body.push(...common.stmts);
        /** lane k of the reads along x: each read at its lane-0 offset plus k steps of x */
        const lanes = (reads: readonly Access[], x: string, w: number): LExpr[] => {
          const bases = reads.map((f) => {
            const base = sym('$base', 'i32');
            body.push(let_(base, scope.offset(f.tensor, f.subs, vs)));
            return { buf: scope.source(f.tensor), base, step: coefficient(L, f, x)! };
          });
          return Array.from({ length: w }, (_, k) => bases.map((r) => ({ kind: 'load', ty: scope.F, buf: r.buf, index: add(v(r.base), mul(c(k), r.step)), inBounds: true }) as LExpr).reduce((p, q) => mul(p, q)));
        };
        const av = lanes(pair.aReads, pair.a, wa).map((x) => (common ? mul(x, common.value) : x));
        const bv = lanes(pair.bReads, pair.b, wb);
        const an = av.map((x) => {
          const t = sym('$x', scope.F);
          body.push(let_(t, x));
          return t;
        });
        bv.forEach((x, j) => {
          const t = sym('$y', scope.F);
          body.push(let_(t, x));
          accs.forEach((row, i) => body.push(addTo(row[j]!, mul(v(an[i]!), v(t)))));
        });
        return body;
      }, nestOpts));
    }
    // stores: the rest of the right side per lane, at the tile's offset plus lane steps
    const base = sym('$o', 'i32');
    stmts.push(let_(base, scope.offset(s.tensor, s.lhs.map((b) => idxVar(b.name)), vars)));
    const strideOf = (x: string) => scope.stride(s.tensor, s.lhs.findIndex((b) => b.name === x));
    accs.forEach((row, i) =>
      row.forEach((acc, j) => {
        const lane = new Map(vars);
        if (i) lane.set(pair.a, add(vars.get(pair.a)!, c(i)));
        if (j) lane.set(pair.b, add(vars.get(pair.b)!, c(j)));
        const e = L.expr(s.rhs, lane, new Map([[sumKey, v(acc)]]));
        stmts.push(...e.stmts, store(out, add(add(v(base), mul(c(i), strideOf(pair.a))), mul(c(j), strideOf(pair.b))), e.value));
      }),
    );
    return stmts;
  };
  const build = (level: number, width: ReadonlyMap<string, number>): LStmt[] => {
    if (level === s.lhs.length) return tile(width.get(pair.a)!, width.get(pair.b)!);
    const bound = s.lhs[level]!;
    const x = loopVars[level]!;
    vars.set(bound.name, v(x));
    const hi = scope.sizeExpr(bound.extent);
    if (bound.name !== pair.a && bound.name !== pair.b) return [for_(x, c(0), hi, build(level + 1, width))];
    // whole tiles up to the last multiple of 4, then one at a time
    const whole = sub(hi, rem(hi, c(TILE)));
    const tiles = build(level + 1, new Map(width).set(bound.name, TILE));
    vars.set(bound.name, v(x));
    const one = sym(bound.name, 'i32');
    vars.set(bound.name, v(one));
    const singles = build(level + 1, new Map(width).set(bound.name, 1));
    vars.set(bound.name, v(x));
    return [for_(x, c(0), whole, tiles, { step: c(TILE) }), for_(one, whole, hi, singles)];
  };
  return [...copies, ...build(0, new Map())];
}

