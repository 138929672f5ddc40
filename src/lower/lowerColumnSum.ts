// lowerColumnSum: Out[…o…, f] = E(sum(n…) body), where f — the output's last index — is the last,
// stride-1 subscript of the reads that walk the summed indices (a column sum, db[f] = Σ_n dY[n,f]) →
// the loops interchanged: the output row zeroed, the summed rows added into it element by element,
// then E applied in place. One output at a time would read down a column with stride F; row by row,
// every read and write is contiguous, and the WebAssembly vectorizer runs it 4 (f32) or 2 (f64)
// lanes at a time.
//
// Worked example, layer norm's dg[d] = sum(n) (X[n,d] − mu[n])·dY[n,d] / sqrt(var[n] + eps):
//   for d0 in [0, D) by 512 parallel
//     let $end = min(D, d0 + 512)
//     for d in [d0, $end):  dg[d] = 0
//     for n in [0, N − N%4) by 4:
//       let $row = sqrt(var[n] + eps) … $row4 = sqrt(var[n+3] + eps)          (once a row, not a column)
//       for d in [d0, $end):  dg[d] = dg[d] + ((t(n) + t(n+1)) + (t(n+2) + t(n+3)))
//     for n in [N − N%4, N):  for d in [d0, $end):  dg[d] = dg[d] + t(n)
// with t(n) = (X[n·D + d] − mu[n])·dY[n·D + d] / $row (a mean divides in one more loop over the
// block: m[d] = m[d] / N). Every element adds its terms in one fixed order, whatever the target, block
// or thread: the results are deterministic and bitwise those of one thread. A block of columns is the
// unit the thread splitter shares out (never the summed rows, whose adds into one element would race).
// Declines — the per-element strategy takes the statement — when a read is not provably in range (zero
// padding bounds those loops: boundsFromPadding.ts), when f strides a read in any other way, when the
// right side holds several reductions that are not sums over the same extents in a linear combination
// (the output row holds one running sum: Σ_j coef_j·sum_j adds up in it, other mixes cannot), or
// when the row is a known handful of columns.
import { idxVar, idxVars } from '../ir/affine.js';
import { add as addExpr, children, div as divExpr, exprKey, freeIndices, mul as mulExpr, neg, ONE, renameIndices } from '../ir/exprs.js';
import { polyConstValue, sizeEquals, sizeTryEval } from '../ir/sizes.js';
import type { Bound, Expr, Statement } from '../ir/types.js';
import { add, c, div, eq, for_, let_, load, max, min, mul, rem, select, store, sub, sym, v, varsOf } from '../loop/build.js';
import { assertNever, type LExpr, type LStmt, type Sym } from '../loop/types.js';
import type { Access } from './kernelScope.js';
import type { Lowered, Lowering, Reduce, Vars } from './lowering.js';

/** Columns per block: the unit of work a thread takes (2–4 KB of the output row, which stays in L1). */
export const BLOCK = 512;
/** Below this many columns (a known number) one output at a time is as fast: too short a row to pay. */
const MIN_COLUMNS = 8;

/** Rows added in one pass over the output row: their terms summed pairwise, then added to it (one
 * read and write of the row per UNROLL rows; JavaScript keeps the pairs in registers). */
const UNROLL = 4;

/** ((a + b) + (c + d)): the same order on every target, and a short dependency chain. */
function pairwise(xs: readonly LExpr[]): LExpr {
  if (xs.length === 1) return xs[0]!;
  const half = Math.ceil(xs.length / 2);
  return add(pairwise(xs.slice(0, half)), pairwise(xs.slice(half)));
}

/** e with its largest float parts that do not depend on the column `f` named by lets (pushed to
 * `lets`, to run before the column loop): a row's factors are computed once, not once per column.
 * Every read of the body is in range, so computing a select's arm eagerly reads nothing it may not. */
function perRow(e: LExpr, f: Sym, F: 'f32' | 'f64', lets: LStmt[]): LExpr {
  if (!varsOf(e).has(f)) {
    if (e.ty !== F || e.kind === 'const' || e.kind === 'var' || e.kind === 'load') return e;
    const x = sym('$row', F);
    lets.push(let_(x, e));
    return v(x);
  }
  switch (e.kind) {
    case 'unary':
      return { ...e, a: perRow(e.a, f, F, lets) };
    case 'binary':
      // t / s with s a row's value: t · (1/s), the reciprocal once a row — a product per column
      // costs a fraction of a quotient (one more rounding: within an ulp of t / s)
      if (e.op === '/' && e.ty === F && !varsOf(e.b).has(f) && e.b.kind !== 'const') {
        const r = sym('$rinv', F);
        lets.push(let_(r, div(c(1, F), perRow(e.b, f, F, lets))));
        return mul(perRow(e.a, f, F, lets), v(r));
      }
      return { ...e, a: perRow(e.a, f, F, lets), b: perRow(e.b, f, F, lets) };
    case 'select':
      return { ...e, then: perRow(e.then, f, F, lets), else: perRow(e.else, f, F, lets) };
    case 'call':
      return { ...e, args: e.args.map((a) => perRow(a, f, F, lets)) };
    case 'const':
    case 'var':
    case 'load':
    case 'length':
    case 'claim':
      return e;
    default:
      return assertNever(e);
  }
}

/** Every node of e that is a reduction, arg-max or matrix function, not looking inside them. */
function nested(e: Expr): Expr[] {
  if (e.kind === 'reduce' || e.kind === 'argmax' || e.kind === 'matfn') return [e];
  return children(e).flatMap(nested);
}

function accessesIn(e: Expr, out: Access[] = []): Access[] {
  if (e.kind === 'access') out.push(e);
  children(e).forEach((x) => accessesIn(x, out));
  return out;
}

/** coef · Σ body, one of the sums a statement adds up (coef undefined: 1) */
interface Term {
  readonly coef?: Expr;
  readonly body: Expr;
}

/** What the interchanged loops compute: Σ_j coef_j · Σ_indices body_j, then the epilogue — E of the
 * one reduction (`reduce`), or plus what holds no sum (`rest`). */
interface ColumnPlan {
  readonly indices: readonly Bound[];
  readonly terms: readonly Term[];
  readonly reduce?: Reduce;
  readonly rest?: Expr;
}

/** e as Σ_j coef_j·sum_j + rest, when it is linear in its sums (factors and divisors free of them). */
function linearIn(e: Expr): { terms: { coef?: Expr; sum: Reduce }[]; rest: Expr[] } | undefined {
  if (!nested(e).length) return { terms: [], rest: [e] };
  const scaled = (x: ReturnType<typeof linearIn>, by: (c: Expr) => Expr) =>
    x && { terms: x.terms.map((t) => ({ coef: by(t.coef ?? ONE), sum: t.sum })), rest: x.rest.map(by) };
  switch (e.kind) {
    case 'reduce':
      return e.op === 'sum' ? { terms: [{ sum: e }], rest: [] } : undefined;
    case 'add': {
      const parts = e.terms.map(linearIn);
      return parts.every((x) => x !== undefined) ? { terms: parts.flatMap((x) => x!.terms), rest: parts.flatMap((x) => x!.rest) } : undefined;
    }
    case 'neg':
      return scaled(linearIn(e.arg), neg);
    case 'mul': {
      const holding = e.factors.filter((x) => nested(x).length);
      if (holding.length !== 1) return undefined;
      const others = e.factors.filter((x) => x !== holding[0]);
      return scaled(linearIn(holding[0]!), (c) => mulExpr([c, ...others]));
    }
    case 'div':
      return nested(e.den).length ? undefined : scaled(linearIn(e.num), (c) => divExpr(c, e.den));
    default:
      return undefined;
  }
}

/** The sums the statement adds up, when the interchange applies: one sum or mean under any E, or
 * several sums over the same extents of which the right side is a linear combination (batch norm's
 * dmu[c] = −2·dvar[c]·Σ_n (X[n,c] − mu[c]) / N − g[c]·Σ_n dY[n,c] / sqrt(var[c] + eps)). */
function planOf(s: Statement): ColumnPlan | undefined {
  const top = nested(s.rhs);
  const r = top[0];
  if (top.length === 1 && r?.kind === 'reduce' && (r.op === 'sum' || r.op === 'mean')) return { indices: r.indices, terms: [{ body: r.body }], reduce: r };
  const linear = top.length > 1 ? linearIn(s.rhs) : undefined;
  if (!linear || !linear.terms.length) return undefined;
  const first = linear.terms[0]!.sum.indices;
  const names = new Set(first.map((b) => b.name));
  const terms: Term[] = [];
  for (const t of linear.terms) {
    const own = t.sum.indices;
    if (own.length !== first.length || own.some((b, k) => !sizeEquals(b.extent, first[k]!.extent))) return undefined;
    // the first sum's index names, where no other index of this body goes by them
    if (freeIndices(t.sum).some((x) => names.has(x))) return undefined;
    terms.push({ ...(t.coef ? { coef: t.coef } : {}), body: renameIndices(t.sum.body, new Map(own.map((b, k) => [b.name, first[k]!.name]))) });
  }
  return { indices: first, terms, ...(linear.rest.length ? { rest: addExpr(linear.rest) } : {}) };
}

/** The plan, when every sum's reads walk the output's last index f contiguously and some read strides
 * along the summed indices (a column sum). */
function columnSum(L: Lowering, s: Statement): ColumnPlan | undefined {
  const f = s.lhs[s.lhs.length - 1];
  if (!f) return undefined;
  const plan = planOf(s);
  if (!plan || plan.terms.some((t) => nested(t.body).length)) return undefined;
  const columns = sizeTryEval(f.extent, new Map());
  if (columns !== undefined && columns < MIN_COLUMNS) return undefined;
  const summed = new Set(plan.indices.map((b) => b.name));
  const reads = plan.terms.flatMap((t) => accessesIn(t.body));
  if (accessesIn(s.rhs).some((x) => x.tensor === s.tensor)) return undefined;
  plan.indices.forEach((b) => L.scope.extentOf.set(b.name, b.extent));
  let strided = false;
  for (const x of reads) {
    // plain indices only (no quotient, remainder or integer data), every read provably in range
    if (x.subs.some((sub) => sub.terms.some((t) => t.atom.kind !== 'var')) || !L.scope.inRange(x)) return undefined;
    const last = x.subs.length - 1;
    if (x.subs.some((sub, d) => d !== last && idxVars(sub).includes(f.name))) return undefined;
    const inLast = last >= 0 ? x.subs[last]!.terms.filter((t) => t.atom.kind === 'var' && t.atom.name === f.name) : [];
    if (inLast.length > 1 || (inLast.length === 1 && polyConstValue(inLast[0]!.coef) !== 1)) return undefined;
    if (inLast.length === 1 && x.subs.some((sub) => idxVars(sub).some((n) => summed.has(n)))) strided = true;
  }
  return strided ? plan : undefined;
}

export function lowerColumnSum(L: Lowering, s: Statement): LStmt[] | undefined {
  const plan = columnSum(L, s);
  if (!plan) return undefined;
  const { scope } = L;
  const out = scope.tensor(s.tensor, 'write');
  const outer = s.lhs.slice(0, -1);
  const f = s.lhs[s.lhs.length - 1]!;
  const vars = new Map<string, LExpr>();
  const loopVar = (b: Bound) => {
    const x = sym(b.name, 'i32');
    vars.set(b.name, v(x));
    return x;
  };
  const outerVars = outer.map(loopVar);
  const f0 = sym(`${f.name}0`, 'i32');
  const end = sym('$end', 'i32');
  const fv = loopVar(f);
  const width = scope.sizeExpr(f.extent);
  const at = (x: Vars) => scope.offset(s.tensor, s.lhs.map((b) => idxVar(b.name)), x);
  /** a loop over the block's columns */
  const columns = (body: readonly LStmt[]) => for_(fv, v(f0), v(end), body);

  const zero = columns([store(out, at(vars), scope.num(0))]);
  // the last summed index UNROLL rows at a time (then one at a time for the rest), the outer ones plainly
  const outerRows = plan.indices.slice(0, -1).map(loopVar);
  const lastRow = plan.indices[plan.indices.length - 1]!;
  const addRows = (row: LExpr, count: number): LStmt[] => {
    const stmts: LStmt[] = [];
    const lower = (e: Expr, at: Vars) => {
      const x = L.expr(e, at, new Map());
      stmts.push(...x.stmts);
      return x.value;
    };
    // each sum's rows added pairwise, then times its coefficient: once per UNROLL rows
    const sums = plan.terms.map((t) => {
      const rows = pairwise(Array.from({ length: count }, (_, k) => lower(t.body, new Map([...vars, [lastRow.name, add(row, c(k))]]))));
      return t.coef ? mul(lower(t.coef, vars), rows) : rows;
    });
    const lets: LStmt[] = [];
    // what a row computes once for all its columns (layer norm's 1/sqrt(var[n] + eps)), before their loop
    const rowsSum = stmts.length ? pairwise(sums) : perRow(pairwise(sums), fv, scope.F, lets);
    return [...lets, columns([...stmts, store(out, at(vars), add(load(out, at(vars)), rowsSum))])];
  };
  const [unrolled, rest, rowCount, whole] = [sym(lastRow.name, 'i32'), sym(lastRow.name, 'i32'), sym('$rows', 'i32'), sym('$whole', 'i32')];
  const extent = scope.sizeExpr(lastRow.extent);
  const lastLoops: LStmt[] = [
    let_(rowCount, max(c(0), extent)),
    let_(whole, sub(v(rowCount), rem(v(rowCount), c(UNROLL)))),
    for_(unrolled, c(0), v(whole), addRows(v(unrolled), UNROLL), { step: c(UNROLL) }),
    for_(rest, v(whole), v(rowCount), addRows(v(rest), 1)),
  ];
  const rows = outerRows.reduceRight<LStmt[]>((inner, x, k) => [for_(x, c(0), scope.sizeExpr(plan.indices[k]!.extent), inner)], lastLoops);
  const block = for_(f0, c(0), width, [let_(end, min(width, add(v(f0), c(BLOCK)))), zero, ...rows, ...epilogue(L, s, plan, load(out, at(vars)), vars, (x) => [columns([...x.stmts, store(out, at(vars), x.value)])])], {
    step: c(BLOCK),
    loop: 'parallel',
  });
  return [outerVars.reduceRight<LStmt>((inner, x, k) => for_(x, c(0), scope.sizeExpr(outer[k]!.extent), [inner], { loop: k === 0 ? 'parallel' : 'serial' }), block)];
}

/** The loop that finishes the row in place, if it needs one: E(sum) or the mean of the one
 * reduction, or the row plus what holds no sum. */
function epilogue(L: Lowering, s: Statement, plan: ColumnPlan, row: LExpr, vars: Vars, write: (x: Lowered) => LStmt[]): LStmt[] {
  const { scope } = L;
  const r = plan.reduce;
  if (!r) {
    if (!plan.rest) return [];
    const x = L.expr(plan.rest, vars, new Map());
    return write({ stmts: x.stmts, value: add(row, x.value) });
  }
  if (s.rhs === r && r.op === 'sum') return [];
  const count = r.indices.reduce((m, b) => mul(m, scope.sizeExpr(b.extent)), c(1));
  const known = r.indices.every((b) => sizeTryEval(b.extent, new Map()) !== undefined);
  // the mean of no terms is 0, as their sum is (not 0/0)
  const value = r.op === 'sum' ? row : known ? div(row, scope.float(count)) : select(eq(count, c(0)), scope.num(0), div(row, scope.float(count)));
  return write(s.rhs === r ? { stmts: [], value } : L.expr(s.rhs, vars, new Map([[exprKey(r), value]])));
}
