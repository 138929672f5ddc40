// renderMatrix: recognise matrix patterns in a gradient statement and print it the textbook way.
//
// Worked example: dX[k,j] = sum(i) A[i,k]*dY[i,j] — one summed index i, one factor over (i,k), one
// over (i,j) — is a matrix product with A seen as (k,i), i.e. Aᵀ:  dX = Aᵀ·dY.
// Likewise db[f] = sum(n) dY[n,f] is a column sum, dbᵀ = 1ᵀ·dY (seed 001), and the conv input
// gradient is a correlation of dY with the flipped, channel-transposed kernel K̃.
// Patterns are data (PATTERNS below); the first that matches wins; none matching gives null.
import { idxAsVar } from '../ir/affine.js';
import { exprEquals, freeIndices, renameIndices } from '../ir/exprs.js';
import { printPoly, printSize } from '../ir/sizes.js';
import { assertNever, type Expr, type SizeExpr, type Statement } from '../ir/types.js';
import { latexName } from './renderLatex.js';
import { latex, nameLatex, P, source, text, type M } from './matrixText.js';
import { batched } from './renderBatched.js';
import { tidyMatrix } from './tidyMatrix.js';
import { unstride } from './unstride.js';
import { correlation } from './renderCorrelation.js';
import { indexExtents } from './indexExtents.js';
import { channelSum, convInputGradient, convKernelGradient } from './renderConv.js';
import { plainSubs, sameList, splitTerm, type TermParts } from './splitTerm.js';

export interface MatrixForm {
  readonly text: string;
  readonly latex: string;
  /** the statement in the language's matrix notation, which re-parses (dx = (A + A')*x), when it has one */
  readonly source?: string;
  /** a batched form's statement per slice, dQ[h] = dS[h]*K[h]/sqrt(E): matrix notation once every
   *  slice T[h] is read as a tensor of its own (the tests evaluate it so, slice by slice) */
  readonly sliceSource?: string;
}

interface Ctx {
  readonly notes: string[];
  readonly latexNotes: string[];
  /** a vector's sums may read as row sums G·1 (off when another term of the statement needs 1ᵀ·G) */
  readonly rows?: boolean;
  /** a vector statement read as a row: each vector transposed, column sums 1ᵀ·G as they are (batch
   *  norm's dvarᵀ = −(varᵀ + 0.00001)^(-1.5) ⊙ gᵀ ⊙ (1ᵀ·((X − 1·muᵀ) ⊙ dY))/2) */
  readonly asRow?: boolean;
  /** the extent of an index, the length of a 1 that spans it (indexExtents) */
  readonly extent: (index: string) => string | undefined;
}

/** The ones vector along index `i`, its length known where the statement binds i once. */
const onesAlong = (ctx: Ctx, i: string): M => {
  const len = ctx.extent(i);
  return len === undefined ? { k: 'ones' } : { k: 'ones', len };
};
const onesT = (ctx: Ctx, i: string): M => ({ k: 't', a: onesAlong(ctx, i) });

const transposes = (m: M): number => (JSON.stringify(m).match(/"k":"t"/g) ?? []).length;


/** (Aᵀ ⊙ Bᵀ) → (A ⊙ B)ᵀ and (Aᵀ > 0) → (A > 0)ᵀ, so transposes read as one. */
function pullTranspose(m: M): M {
  if (m.k === 'had' && m.factors.every((f) => f.k === 't')) return { k: 't', a: { k: 'had', factors: m.factors.map((f) => (f as { a: M }).a) } };
  if (m.k === 'cmp' && m.a.k === 't' && (m.b.k === 'num' || m.b.k === 'size')) return { k: 't', a: { k: 'cmp', op: m.op, a: m.a.a, b: m.b } };
  if (m.k === 'had') {
    const fs = m.factors.map(pullTranspose);
    if (fs.every((f) => f.k === 't')) return { k: 't', a: { k: 'had', factors: fs.map((f) => (f as { a: M }).a) } };
  }
  return m;
}

/** Render an expression elementwise over the layout `dims` (rows, cols …); null when it does not fit. */
function elementwise(e: Expr, dims: readonly string[], ctx: Ctx): M | null {
  const m = elementwiseRaw(e, dims, ctx);
  return m && pullTranspose(m);
}

function elementwiseRaw(e: Expr, dims: readonly string[], ctx: Ctx): M | null {
  switch (e.kind) {
    case 'num':
      return { k: 'num', value: e.value };
    case 'sizeval':
      return { k: 'size', text: printSize(e.size) };
    case 'access': {
      const subs = plainSubs(e.subs);
      const name: M = { k: 'name', name: e.tensor };
      if (e.subs.length === 0) return name;
      if (sameList(subs, dims)) return ctx.asRow && dims.length === 1 ? { k: 't', a: name } : name;
      if (dims.length === 2 && sameList(subs, [dims[1]!, dims[0]!])) return { k: 't', a: name };
      if (dims.length === 2 && sameList(subs, [dims[0]!])) return { k: 'matmul', factors: [name, onesT(ctx, dims[1]!)] };
      if (dims.length === 2 && sameList(subs, [dims[1]!])) return { k: 'matmul', factors: [onesAlong(ctx, dims[0]!), { k: 't', a: name }] };
      // upsampling: X[n,c,h/s,w/s] over [n,c,h,w] is X ⊗ 1ₛₓₛ (each element repeated in an s×s block)
      if (dims.length === e.subs.length && dims.length >= 3) {
        let s: string | undefined;
        const ok = e.subs.every((x, i) => {
          if (idxAsVar(x) === dims[i]) return i < dims.length - 2;
          const t = x.terms[0];
          if (x.terms.length !== 1 || x.constant.size || t?.atom.kind !== 'div' || idxAsVar(t.atom.of) !== dims[i] || i < dims.length - 2) return false;
          const by = printPoly(t.atom.by);
          if (s !== undefined && s !== by) return false;
          s = by;
          return true;
        });
        if (ok && s) return { k: 'kron', a: name, s };
      }
      return null;
    }
    case 'add': {
      const terms = e.terms.map((t) => {
        const neg = t.kind === 'neg';
        const m = elementwise(neg ? (t as { arg: Expr }).arg : t, dims, ctx);
        return m && { neg, m };
      });
      return terms.every((t) => t) ? { k: 'add', terms: terms as { neg: boolean; m: M }[] } : null;
    }
    case 'neg': {
      const m = elementwise(e.arg, dims, ctx);
      return m && { k: 'add', terms: [{ neg: true, m }] };
    }
    case 'mul': {
      const fs = e.factors.map((f) => [f, elementwise(f, dims, ctx)] as const);
      if (fs.some(([, m]) => !m)) return null;
      // each factor's free indices found once (it is a walk with sets), not once per list
      const scalar = fs.map(([f]) => freeIndices(f).length === 0);
      const scalars = fs.filter((_, i) => scalar[i]).map(([, m]) => m!);
      const arrays = fs.filter((_, i) => !scalar[i]).map(([, m]) => m!);
      // a ⊙ (1 ⊘ b) ⊙ (1 ⊘ c) → a ⊘ (b ⊙ c)
      const isRecip = (m: M) => m.k === 'hdiv' && m.a.k === 'num' && m.a.value === 1;
      const dens = arrays.filter(isRecip).map((m) => (m as { b: M }).b);
      const nums = arrays.filter((m) => !isRecip(m));
      const prod = (ms: M[]): M => (ms.length === 1 ? ms[0]! : { k: 'had', factors: ms });
      const had: M | undefined =
        arrays.length === 0 ? undefined : dens.length && nums.length ? { k: 'hdiv', a: prod(nums), b: prod(dens) } : prod(arrays);
      const all = [...scalars, ...(had ? [had] : [])];
      if (all.length === 0) return { k: 'num', value: 1 };
      return all.length === 1 ? all[0]! : { k: 'scale', factors: all };
    }
    case 'div': {
      const a = elementwise(e.num, dims, ctx);
      const b = elementwise(e.den, dims, ctx);
      if (!a || !b) return null;
      if (freeIndices(e.den).length > 0) return quotient(a, b);
      return { k: 'div', a, b };
    }
    case 'pow': {
      const a = elementwise(e.base, dims, ctx);
      const p = constantOf(e.exp);
      return a && p !== undefined ? { k: 'pow', a, p } : null;
    }
    case 'compare': {
      const a = elementwise(e.a, dims, ctx);
      const b = elementwise(e.b, dims, ctx);
      return a && b ? { k: 'cmp', op: e.op, a, b } : null;
    }
    case 'call': {
      const soft = softmax(e, dims, ctx);
      if (soft) return soft;
      const args = e.args.map((a) => elementwise(a, dims, ctx));
      return args.every((a) => a) ? { k: 'fn', fn: e.fn, args: args as M[] } : null;
    }
    case 'argmax': {
      // the routing mask of max pooling
      const win = e.indices.map((b) => printSize(b.extent)).join('×');
      ctx.notes.push(`M = 1 where X is the first ${e.op === 'max' ? 'maximum' : 'minimum'} of its ${win} window, else 0`);
      ctx.latexNotes.push(`M = 1 \\text{ at the first arg${e.op} of each } ${win.replace('×', '\\times ')} \\text{ window}`);
      return { k: 'name', name: 'M' };
    }
    case 'matfn': {
      const whole = e.body.kind === 'access' && e.of === e.body.tensor ? e.of : undefined;
      if (!whole) return null;
      const name: M = { k: 'name', name: whole };
      if (e.fn !== 'inv') return { k: 'fn', fn: e.fn, args: [name] };
      const at = plainSubs(e.at);
      if (sameList(at, dims)) return { k: 'inv', a: name };
      if (dims.length === 2 && sameList(at, [dims[1]!, dims[0]!])) return { k: 't', a: { k: 'inv', a: name } };
      return null;
    }
    case 'reduce': {
      // a sum over everything is a scalar beside the layout's arrays: S[n] − Yt[n]ᵀ·S[n] + 1
      if (dims.length > 0 && freeIndices(e).length === 0) return elementwise(e, [], ctx);
      // a product summed inside an elementwise expression: sum(j) A[i,j]*x[j] over [i] is A·x
      const t = e.op === 'sum' && dims.length <= 2 ? splitTerm(e) : null;
      const r = t && termMatrix(t, dims, ctx);
      // a vector of sums is a column, or a row 1ᵀ·G in a statement read as a row
      return r && r.transposeLhs === rowOf(dims, ctx) ? (t!.neg ? { k: 'add', terms: [{ neg: true, m: r.m }] } : r.m) : null;
    }
    case 'index':
    case 'delta':
      return null;
    default:
      return assertNever(e);
  }
}

/** A vector layout read as a row (Ctx.asRow). */
const rowOf = (dims: readonly string[], ctx: Ctx): boolean => !!ctx.asRow && dims.length === 1;

/** a ⊘ b, with (a ⊘ b) ⊘ b² → a ⊘ b³: a power of a repeated divisor (layer norm's sqrt(v + ε)³). */
function quotient(a: M, b: M): M {
  const base = (m: M) => (m.k === 'pow' ? m.a : m);
  const exp = (m: M) => (m.k === 'pow' ? m.p : 1);
  if (a.k === 'hdiv' && sameM(base(a.b), base(b))) return { k: 'hdiv', a: a.a, b: { k: 'pow', a: base(b), p: exp(a.b) + exp(b) } };
  return { k: 'hdiv', a, b };
}

/** exp(x − logsumexp(c') x[c := c']) over the last layout index c is softmax(x) along that index. */
function softmax(e: Extract<Expr, { kind: 'call' }>, dims: readonly string[], ctx: Ctx): M | null {
  if (e.fn !== 'exp' || dims.length === 0) return null;
  const arg = e.args[0]!;
  if (arg.kind !== 'add' || arg.terms.length !== 2) return null;
  const [x, n] = arg.terms;
  if (n?.kind !== 'neg' || n.arg.kind !== 'reduce' || n.arg.op !== 'logsumexp' || n.arg.indices.length !== 1) return null;
  const c = dims[dims.length - 1]!;
  const inner = renameIndices(n.arg.body, new Map([[n.arg.indices[0]!.name, c]]));
  if (!exprEquals(inner, x!)) return null;
  const m = elementwise(x!, dims, ctx);
  // spelled out in matrix notation along the rows of a matrix, or a vector's one index
  const len = dims.length <= 2 ? ctx.extent(c) : undefined;
  return m && { k: 'fn', fn: 'softmax', args: [m], ...(len === undefined ? {} : { len, vector: dims.length === 1 }) };
}

function scalarM(scalars: readonly Expr[], ctx: Ctx): M | null | undefined {
  if (scalars.length === 0) return undefined;
  const nums: number[] = [];
  const dens: M[] = [];
  const rest: M[] = [];
  for (const s of scalars) {
    if (s.kind === 'num') nums.push(s.value);
    // ·(1/2) after a 2: a number divides the numbers' product when it leaves a whole number
    else if (s.kind === 'div' && s.num.kind === 'num' && s.num.value === 1 && s.den.kind === 'num' && Number.isInteger(nums.reduce((a, b) => a * b, 1) / s.den.value))
      nums.push(1 / s.den.value);
    else if (s.kind === 'div' && s.num.kind === 'num' && s.num.value === 1) {
      const d = elementwise(s.den, [], ctx);
      if (!d) return null;
      dens.push(d);
    } else {
      const m = elementwise(s, [], ctx);
      if (!m) return null;
      rest.push(m);
    }
  }
  const k = nums.reduce((a, b) => a * b, 1);
  if (k === 1 && rest.length === 0 && dens.length === 0) return undefined;
  // −1·a is −a
  const negate = k === -1 && rest.length > 0;
  const numer: M[] = [...(!negate && (k !== 1 || (rest.length === 0 && dens.length === 0)) ? [{ k: 'num', value: k } as M] : []), ...rest];
  const unsigned: M = numer.length === 1 ? numer[0]! : numer.length === 0 ? { k: 'num', value: 1 } : { k: 'scale', factors: numer };
  const top: M = negate ? { k: 'add', terms: [{ neg: true, m: unsigned }] } : unsigned;
  if (dens.length === 0) return top;
  return { k: 'div', a: top, b: dens.length === 1 ? dens[0]! : { k: 'scale', factors: dens } };
}

const indexSet = (e: Expr) => new Set(freeIndices(e));
const subset = (s: ReadonlySet<string>, of: readonly string[]) => [...s].every((x) => of.includes(x));

function combine(scalar: M | undefined, body: M): M {
  if (!scalar) return body;
  if (scalar.k === 'div' && scalar.a.k === 'num' && scalar.a.value === 1) return { k: 'div', a: body, b: scalar.b };
  return { k: 'scale', factors: [scalar, body] };
}

const group = (fs: readonly Expr[]): Expr => (fs.length === 1 ? fs[0]! : { kind: 'mul', factors: fs });

/** u[a]·Σ_s W[b,s]·v[s] → u·(W·v)ᵀ, and Σ_s … [a] · u[b] → (…)·uᵀ: an outer product with a summed side. */
function outerWithSum(t: TermParts, scalar: M | undefined, a: string, b: string, ctx: Ctx): { m: M; transposeLhs: boolean } | null {
  const sets = t.factors.map(indexSet);
  for (const [only, other, first] of [[a, b, true], [b, a, false]] as const) {
    const mine = t.factors.filter((_, i) => sets[i]!.size > 0 && subset(sets[i]!, [only]));
    const rest = t.factors.filter((_, i) => !(sets[i]!.size > 0 && subset(sets[i]!, [only])));
    if (!mine.length || !rest.length || rest.some((f) => indexSet(f).has(only))) continue;
    const u = elementwise(group(mine), [only], ctx);
    const w = termMatrix({ neg: false, scalars: [], sums: t.sums, factors: rest }, [other], ctx);
    if (!u || !w || w.transposeLhs) continue;
    const wt: M = { k: 't', a: w.m };
    return { m: combine(scalar, { k: 'matmul', factors: first ? [u, wt] : [w.m, { k: 't', a: u }] }), transposeLhs: false };
  }
  return null;
}

/** Σ_s F[a,b]·G[a,s] → F ⊙ (G·1·1ᵀ) (each row's sum, spread along the row: softmax's P ⊙ ((P ⊙ dY)·1·1ᵀ)),
 *  and Σ_s F[a,b]·G[s,b] → F ⊙ (1·1ᵀ·G) (each column's). */
function broadcastSum(t: TermParts, scalar: M | undefined, a: string, b: string, s: string, ctx: Ctx): { m: M; transposeLhs: boolean } | null {
  const sets = t.factors.map(indexSet);
  const outer = t.factors.filter((_, i) => !sets[i]!.has(s) && subset(sets[i]!, [a, b]));
  for (const [keep, layout] of [[a, [a, s]], [b, [s, b]]] as const) {
    const inner = t.factors.filter((_, i) => sets[i]!.has(s) && subset(sets[i]!, [keep, s]));
    if (!inner.length || outer.length + inner.length !== t.factors.length) continue;
    const g = elementwise(group(inner), layout, ctx);
    if (!g) return null;
    const spread: M = { k: 'matmul', factors: keep === a ? [g, onesAlong(ctx, s), onesT(ctx, b)] : [onesAlong(ctx, a), onesT(ctx, s), g] };
    const f = outer.length ? elementwise(group(outer), [a, b], ctx) : undefined;
    if (f === null) return null;
    return { m: combine(scalar, f ? { k: 'had', factors: [f, spread] } : spread), transposeLhs: false };
  }
  return null;
}

/** One additive term as a matrix expression over the left-side layout; `transposeLhs` when it reads as a row. */
function termMatrix(t: TermParts, lhs: readonly string[], ctx: Ctx): { m: M; transposeLhs: boolean } | null {
  const scalar = scalarM(t.scalars, ctx);
  if (scalar === null) return null;
  const sets = t.factors.map(indexSet);
  if (t.sums.length === 0) {
    if (lhs.length === 2) {
      const [a, b] = lhs as [string, string];
      const onlyA = t.factors.filter((_, i) => subset(sets[i]!, [a]));
      const onlyB = t.factors.filter((_, i) => subset(sets[i]!, [b]));
      if (onlyA.length && onlyB.length && onlyA.length + onlyB.length === t.factors.length) {
        const u = elementwise(group(onlyA), [a], ctx);
        const v = elementwise(group(onlyB), [b], ctx);
        if (!u || !v) return null;
        return { m: combine(scalar, { k: 'matmul', factors: [u, { k: 't', a: v }] }), transposeLhs: false };
      }
    }
    if (t.factors.length === 0) return { m: scalar ?? { k: 'num', value: 1 }, transposeLhs: rowOf(lhs, ctx) };
    const body = elementwise(group(t.factors), lhs, ctx);
    return body && { m: combine(scalar, body), transposeLhs: rowOf(lhs, ctx) };
  }
  if (t.factors.length === 0) {
    // Σ_{i,j} 1 is the number of terms, N·M (1ᵀ·()·1 before); a vector of counts has no form
    if (lhs.length > 0) return null;
    const ns = t.sums.map((i) => ctx.extent(i));
    if (ns.some((n) => n === undefined)) return null;
    const count: M[] = ns.map((n) => ({ k: 'size', text: n! }));
    return { m: combine(scalar, count.length === 1 ? count[0]! : { k: 'scale', factors: count }), transposeLhs: false };
  }
  if (t.sums.length === 1 && lhs.length <= 2) {
    const s = t.sums[0]!;
    if (lhs.length === 2) {
      const [a, b] = lhs as [string, string];
      const A = t.factors.filter((_, i) => sets[i]!.has(a) && subset(sets[i]!, [a, s]));
      const B = t.factors.filter((_, i) => sets[i]!.has(b) && subset(sets[i]!, [s, b]));
      if (A.length + B.length !== t.factors.length || !A.length || !B.length) return outerWithSum(t, scalar, a, b, ctx) ?? broadcastSum(t, scalar, a, b, s, ctx);
      const ma = elementwise(group(A), [a, s], ctx);
      const mb = elementwise(group(B), [s, b], ctx);
      return ma && mb ? { m: combine(scalar, { k: 'matmul', factors: [ma, mb] }), transposeLhs: false } : null;
    }
    if (lhs.length === 1) {
      const [a] = lhs as [string];
      const A = t.factors.filter((_, i) => sets[i]!.has(a));
      const V = t.factors.filter((_, i) => !sets[i]!.has(a));
      if (!A.every((f) => subset(indexSet(f), [a, s])) || !V.every((f) => subset(indexSet(f), [s]))) return null;
      if (V.length === 0) {
        // column sums: dbᵀ = 1ᵀ·G; or row sums, dv = G·1, when G reads with fewer transposes by rows
        // (layer norm's statistics are per row, batch norm's per column)
        const g = elementwise(group(A), [s, a], ctx);
        const byRows = ctx.rows ? elementwise(group(A), [a, s], ctx) : null;
        if (byRows && (!g || transposes(byRows) < transposes(g))) return { m: combine(scalar, { k: 'matmul', factors: [byRows, onesAlong(ctx, s)] }), transposeLhs: false };
        return g && { m: combine(scalar, { k: 'matmul', factors: [onesT(ctx, s), g] }), transposeLhs: true };
      }
      const ma = elementwise(group(A), [a, s], ctx);
      const mv = elementwise(group(V), [s], ctx);
      return ma && mv ? { m: combine(scalar, { k: 'matmul', factors: [ma, mv] }), transposeLhs: false } : null;
    }
    // scalar result: aᵀ·b, or 1ᵀ·a
    const vecs = t.factors.map((f) => elementwise(f, [s], ctx));
    if (vecs.some((v) => !v)) return null;
    if (vecs.length === 2) return { m: combine(scalar, { k: 'matmul', factors: [{ k: 't', a: vecs[0]! }, vecs[1]!] }), transposeLhs: false };
    const body: M = vecs.length === 1 ? vecs[0]! : { k: 'had', factors: vecs as M[] };
    return { m: combine(scalar, { k: 'matmul', factors: [onesT(ctx, s), body] }), transposeLhs: false };
  }
  if (t.sums.length === 2 && lhs.length === 0) {
    const body = elementwise(group(t.factors), t.sums, ctx);
    return body && { m: combine(scalar, { k: 'matmul', factors: [onesT(ctx, t.sums[0]!), body, onesAlong(ctx, t.sums[1]!)] }), transposeLhs: false };
  }
  if (t.sums.length >= 2 && lhs.length >= 1) {
    const m = chain(t, lhs, ctx);
    return m && { m: combine(scalar, m), transposeLhs: false };
  }
  return null;
}

/** Σ_{j,k} A[i,j]·R[j,k]·B[k,l] over (i,l) → A·R·B, each factor transposed as its subscripts run:
 *  a path from the first left-side index through every summed one (each read by two factors) to the
 *  second, or to a vector at the end (dx = Aᵀ·B·v). With two left-side indices and no path between
 *  them, two paths each ending at a vector are an outer product: Σ_{i,j} x[i]·A⁻¹[i,k]·A⁻¹[l,j]·x[j]
 *  is (A⁻ᵀ·x)·(A⁻¹·x)ᵀ = A⁻ᵀ·x·xᵀ·A⁻ᵀ. */
function chain(t: TermParts, lhs: readonly string[], ctx: Ctx): M | null {
  const sets = t.factors.map(indexSet);
  if (sets.some((x) => x.size === 0 || x.size > 2)) return null;
  const used = new Set<number>();
  const walk = (from: string, stop: string | undefined): { out: M[]; atStop: boolean } | null => {
    const out: M[] = [];
    let at = from;
    for (;;) {
      const k = t.factors.findIndex((_, i) => !used.has(i) && sets[i]!.has(at));
      if (k < 0 || t.factors.some((_, i) => i !== k && !used.has(i) && sets[i]!.has(at))) return null;
      used.add(k);
      const next = [...sets[k]!].find((x) => x !== at);
      const m = elementwise(t.factors[k]!, next === undefined ? [at] : [at, next], ctx);
      if (!m) return null;
      out.push(m);
      if (next === undefined || next === stop) return { out, atStop: next !== undefined };
      if (!t.sums.includes(next)) return null;
      at = next;
    }
  };
  // the paths must use every factor, end where the left side does, and visit every summed index
  const one = walk(lhs[0]!, lhs[1]);
  if (one && one.atStop === (lhs.length === 2) && used.size === t.factors.length && one.out.length === t.sums.length + 1) return { k: 'matmul', factors: one.out };
  if (lhs.length !== 2) return null;
  used.clear();
  const left = walk(lhs[0]!, undefined);
  const right = left && !left.atStop ? walk(lhs[1]!, undefined) : null;
  // each path of p factors visits p − 1 summed indices
  if (!left || !right || right.atStop || used.size !== t.factors.length || left.out.length + right.out.length !== t.sums.length + 2) return null;
  return { k: 'matmul', factors: [...left.out, ...right.out.reverse().map(transpose)] };
}

/** (A)ᵀ with (Aᵀ)ᵀ = A, so a transposed path reads xᵀ·A⁻ᵀ rather than (A⁻¹·x)ᵀ. */
const transpose = (m: M): M => (m.k === 't' ? m.a : { k: 't', a: m });

type Term = { readonly neg: boolean; readonly m: M };
const sameM = (a: M, b: M): boolean => JSON.stringify(a) === JSON.stringify(b);
/** A product's factors without the one at `at` (0: first, -1: last), as one matrix expression. */
const withoutEnd = (fs: readonly M[], at: 0 | -1): M => {
  const rest = at === 0 ? fs.slice(1) : fs.slice(0, -1);
  return rest.length === 1 ? rest[0]! : { k: 'matmul', factors: rest };
};

/** Factoring of a sum whose every term is a product ending (starting) with the same factor; rules as data. */
const FACTOR_RULES: readonly { readonly name: string; readonly at: 0 | -1 }[] = [
  // A·x + Aᵀ·x → (A + Aᵀ)·x
  { name: 'common right factor', at: -1 },
  // xᵀ·A − xᵀ·B → xᵀ·(A − B)
  { name: 'common left factor', at: 0 },
];

function factorCommon(terms: readonly Term[]): M | null {
  if (terms.length < 2 || !terms.every((t) => t.m.k === 'matmul' && t.m.factors.length >= 2)) return null;
  const fss = terms.map((t) => (t.m as Extract<M, { k: 'matmul' }>).factors);
  for (const r of FACTOR_RULES) {
    const end = (fs: readonly M[]) => fs[r.at === 0 ? 0 : fs.length - 1]!;
    const common = end(fss[0]!);
    // not 1: its length is each term's own (1ᵀ·W1²·1 + 1ᵀ·W2²·1 sums matrices of two shapes)
    if (JSON.stringify(common).includes('"ones"') || !fss.every((fs) => sameM(end(fs), common))) continue;
    const sum: M = { k: 'add', terms: terms.map((t, i) => ({ neg: t.neg, m: withoutEnd(fss[i]!, r.at) })) };
    return { k: 'matmul', factors: r.at === 0 ? [common, sum] : [sum, common] };
  }
  return null;
}

/** A sum of matrix-pattern terms over the layout `lhs`; transposeLhs when it reads as a row. */
function sumMatrix(rhs: Expr, lhs: readonly string[], ctx: Ctx): { m: M; transposeLhs: boolean } | null {
  const terms = rhs.kind === 'add' ? rhs.terms : [rhs];
  const parts: { neg: boolean; m: M; transposeLhs: boolean }[] = [];
  for (const term of terms) {
    let t = splitTerm(term);
    let r = t && termMatrix(t, lhs, ctx);
    // only when the quotient as a whole fits no pattern, so forms found before stay as they were
    if (!r) r = (t = splitTerm(term, true)) && termMatrix(t, lhs, ctx);
    if (!t || !r) return null;
    parts.push({ neg: t.neg, ...r });
  }
  if (new Set(parts.map((p) => p.transposeLhs)).size > 1) return ctx.rows ? sumMatrix(rhs, lhs, { ...ctx, rows: false }) : null;
  // like terms: P + P → 2·P
  const summands: Term[] = [];
  // each summand's key made once (a serialisation of its whole form)
  const keys: string[] = [];
  const counts = new Map<string, number>();
  for (const p of parts) {
    const key = `${p.neg}${JSON.stringify(p.m)}`;
    if (!counts.has(key)) {
      summands.push({ neg: p.neg, m: p.m });
      keys.push(key);
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  summands.forEach((x, i) => {
    const c = counts.get(keys[i]!)!;
    if (c > 1) summands[i] = { neg: x.neg, m: { k: 'scale', factors: [{ k: 'num', value: c }, x.m] } };
  });
  const m: M = summands.length === 1 && !summands[0]!.neg ? summands[0]!.m : (factorCommon(summands) ?? { k: 'add', terms: summands });
  return { m, transposeLhs: parts[0]?.transposeLhs ?? false };
}

/** `scalarBody`: the right side is one number for every element (dA = 0), which is no matrix statement. */
function form(tensor: string, found: { m: M; transposeLhs: boolean }, ctx: Ctx, scalarBody = false): MatrixForm {
  const r = { ...found, m: tidyMatrix(found.m) };
  const head = `${tensor}${r.transposeLhs ? 'ᵀ' : ''}`;
  const headLatex = `${nameLatex(tensor)}${r.transposeLhs ? '^{\\top}' : ''}`;
  const notes = [...new Set(ctx.notes)];
  // a row (dbᵀ = 1ᵀ·dY) is assigned transposed: db = (ones(N)'*dY)'
  const src = notes.length || scalarBody ? null : source(r.transposeLhs ? { k: 't', a: r.m } : r.m);
  return {
    ...(src ? { source: `${tensor} = ${src}` } : {}),
    text: `${head} = ${text(r.m)}${notes.length ? `   where ${notes.join('; ')}` : ''}`,
    latex: `${headLatex} = ${latex(r.m)}${ctx.latexNotes.length ? `, \\quad ${[...new Set(ctx.latexNotes)].join(', ')}` : ''}`,
  };
}

/** Sums of matrix-pattern terms; a vector that fits none as a column may fit as a row. */
function generic(s: Statement, _shapes: Shapes): MatrixForm | null {
  const lhs = s.lhs.map((b) => b.name);
  const column: Ctx = { notes: [], latexNotes: [], rows: true, extent: indexExtents(s) };
  let ctx = column;
  let r = sumMatrix(s.rhs, lhs, ctx);
  if (!r && lhs.length === 1) r = sumMatrix(s.rhs, lhs, (ctx = { ...column, notes: [], latexNotes: [], rows: false, asRow: true }));
  return r && form(s.tensor, r, ctx, s.lhs.length > 0 && freeIndices(s.rhs).length === 0);
}

/** A Hessian block of two matrix variables, H[a,b,c,d] = Σ (b == d)·B[a,c] (rows (a,b), columns (c,d),
 *  row-major), is B ⊗ I; with (a == c)·B[b,d] it is I ⊗ B — so tr(XᵀAX) gives (A + Aᵀ) ⊗ I. */
function kronecker(s: Statement, _shapes: Shapes): MatrixForm | null {
  if (s.lhs.length !== 4) return null;
  const [a, b, c, d] = s.lhs.map((x) => x.name) as [string, string, string, string];
  const isDelta = (f: Expr, p: string, q: string) =>
    f.kind === 'compare' && f.op === '==' && f.a.kind === 'index' && f.b.kind === 'index' &&
    [idxAsVar(f.a.expr), idxAsVar(f.b.expr)].sort().join() === [p, q].sort().join();
  const terms = s.rhs.kind === 'add' ? s.rhs.terms : [s.rhs];
  for (const [p, q, over, right] of [[b, d, [a, c], true], [a, c, [b, d], false]] as const) {
    const rest: Expr[] = [];
    for (const term of terms) {
      const neg = term.kind === 'neg';
      const x = neg ? (term as { arg: Expr }).arg : term;
      const fs = x.kind === 'mul' ? x.factors : [x];
      const k = fs.findIndex((f) => isDelta(f, p, q));
      if (k < 0) break;
      const others = fs.filter((_, i) => i !== k);
      const r: Expr = others.length === 0 ? { kind: 'num', value: 1 } : others.length === 1 ? others[0]! : { kind: 'mul', factors: others };
      if (freeIndices(r).some((i) => i === p || i === q)) break;
      rest.push(neg ? { kind: 'neg', arg: r } : r);
    }
    if (rest.length !== terms.length) continue;
    const ctx: Ctx = { notes: [], latexNotes: [], extent: indexExtents(s) };
    const inner = sumMatrix(rest.length === 1 ? rest[0]! : { kind: 'add', terms: rest }, over, ctx);
    if (!inner || inner.transposeLhs) continue;
    const len = ctx.extent(right ? b : a);
    const eye: M = len === undefined ? { k: 'eye' } : { k: 'eye', len };
    return form(s.tensor, { m: { k: 'otimes', a: right ? inner.m : eye, b: right ? eye : inner.m }, transposeLhs: false }, ctx);
  }
  return null;
}

type Shapes = (tensor: string) => readonly SizeExpr[] | undefined;

export const PATTERNS: readonly { readonly name: string; readonly render: (s: Statement, shapes: Shapes) => MatrixForm | null }[] = [
  { name: 'conv input gradient: correlation with the flipped kernel K̃', render: convInputGradient },
  { name: 'conv kernel gradient: correlation of the input with dY', render: convKernelGradient },
  { name: 'bias gradient: channel sum', render: channelSum },
  { name: 'convolution family: a correlation per channel slice, ⋆[t, d, p]', render: correlation },
  { name: 'a sum guarded by divisibility, its quotient summed instead (a transposed conv’s dK), as a correlation', render: (s, shapes) => { const u = unstride(s, shapes); return u && correlation(u, shapes); } },
  { name: 'Hessian of matrix variables: Kronecker product with I', render: kronecker },
  { name: 'matrix algebra: products, transposes, 1ᵀ sums, ⊙, outer products', render: generic },
];

const BATCH = 'a batch: the statement per element of its first index, its tensors as slices T[b]';

export function renderMatrix(s: Statement, shapes: Shapes = () => undefined): (MatrixForm & { pattern: string }) | null {
  for (const p of PATTERNS) {
    const r = p.render(s, shapes);
    if (!r) continue;
    // a form under half the length per slice reads better per slice: cosine similarity of rows, whose
    // whole-matrix form spreads each row's norm along the row, sqrt((X ⊙ X)·1·1ᵀ), five times
    const slices = p.render === generic ? perSlice(s, shapes) : null;
    return slices && 2 * slices.text.length < r.text.length ? slices : { ...r, pattern: p.name };
  }
  return perSlice(s, shapes);
}

/** The batched form, which has no matrix-notation statement (a slice does not re-parse). */
function perSlice(s: Statement, shapes: Shapes): (MatrixForm & { pattern: string }) | null {
  const r = batched(s, shapes, renderMatrix);
  return r && { text: r.text, latex: r.latex, ...(r.source ? { sliceSource: r.source } : {}), pattern: `${BATCH}; ${r.pattern}` };
}

/** The value of a constant exponent, (-3/2 - 1) included (collectPowers writes v^(-3/2)); undefined otherwise. */
function constantOf(e: Expr): number | undefined {
  switch (e.kind) {
    case 'num':
      return e.value;
    case 'neg': {
      const a = constantOf(e.arg);
      return a === undefined ? undefined : -a;
    }
    case 'add':
    case 'mul': {
      const xs = (e.kind === 'add' ? e.terms : e.factors).map(constantOf);
      if (xs.some((x) => x === undefined)) return undefined;
      return (xs as number[]).reduce((a, b) => (e.kind === 'add' ? a + b : a * b), e.kind === 'add' ? 0 : 1);
    }
    case 'div': {
      const [a, b] = [constantOf(e.num), constantOf(e.den)];
      return a === undefined || b === undefined || b === 0 ? undefined : a / b;
    }
    default:
      return undefined;
  }
}
